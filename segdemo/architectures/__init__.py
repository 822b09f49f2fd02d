"""One module per network; `BUILDERS` maps the registry's architecture names to builders.

Builders import Keras, so this package is imported lazily (by the runtime and training),
never at `import segdemo`.
"""

from __future__ import annotations

from segdemo.architectures.fcn import build_fcn
from segdemo.architectures.membrane_unet import build_membrane_unet
from segdemo.architectures.pspnet import build_pspnet
from segdemo.architectures.unet import build_unet

BUILDERS = {
    "fcn": build_fcn,
    "unet": build_unet,
    "membrane_unet": build_membrane_unet,
    "pspnet": build_pspnet,
}


def build(architecture: str, **kwargs):
    """Builds the named architecture with the given keyword arguments."""
    try:
        builder = BUILDERS[architecture]
    except KeyError:
        raise ValueError(f"Unknown architecture {architecture!r}; known: {', '.join(BUILDERS)}") from None
    return builder(**kwargs)
