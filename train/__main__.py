"""`python -m train MODEL [options]`: trains one registry model with its family's script."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    from segdemo import registry

    if not argv or argv[0] in ("-h", "--help"):
        print("usage: python -m train MODEL [options]\n\nmodels: " + ", ".join(registry.REGISTRY))
        print("Run `python -m train MODEL --help` for the options of that model's script.")
        return
    family = registry.get(argv[0]).family
    if family == "eliret":
        from train import eliret as script
    elif family == "membrane":
        from train import membrane as script
    else:
        raise SystemExit(f"{argv[0]} is a pretrained model ({family}); it is not trained here.")
    script.main(argv)


if __name__ == "__main__":
    main()
