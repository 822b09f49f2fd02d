"""One module per tab, in the lecture's order. Each exposes `build()`, which lays out its whole
tab (gr.Tab included) and wires its events, and owns its `STRINGS` table (English, Portuguese).

To add a tab: write a module with `STRINGS = i18n.register({...})`, `TITLE_KEY` and `INTRO_KEY`
(the keys of its tab name and of its opening sentences, which the browser test checks in both
languages) and `build()`, then add it to `ORDER` below.
"""

from __future__ import annotations

from ui.tabs import api, augmentation, fcn_unet, inside, large_images, membranes, photos, train

# The lecture's order: figure 8, the large images, the membranes, PSPNet, augmentation; then a look
# inside the networks and training one; the API last (issue 11).
ORDER = (fcn_unet, large_images, membranes, photos, augmentation, inside, train, api)
