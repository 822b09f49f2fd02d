"""Training scripts: one readable module per model family (`python -m train --help`)."""
