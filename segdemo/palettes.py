"""Class names and colours (data only)."""

from __future__ import annotations

# Binary models: class 0 is background, class 1 the foreground the model segments.
BINARY_CLASSES = ("background", "object")
BINARY_PALETTE = ((0, 0, 0), (255, 48, 48))

MEMBRANE_CLASSES = ("cell interior", "membrane")
MEMBRANE_PALETTE = ((0, 0, 0), (0, 200, 255))
