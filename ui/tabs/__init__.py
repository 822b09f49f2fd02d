"""One module per tab, in the lecture's order. Each exposes `build()`, which lays out its whole
tab (gr.Tab included) and wires its events, and owns its `STRINGS` table (English, Portuguese).

To add a tab: write a module with `STRINGS = i18n.register({...})` and `build()`, then add it to
`ORDER` below.
"""

from __future__ import annotations

from ui.tabs import api, augmentation, fcn_unet, inside, large_images, membranes, photos

# The lecture's order: figure 8, the large images, the membranes, PSPNet, augmentation, then the API.
ORDER = (fcn_unet, large_images, membranes, photos, augmentation, api, inside)
