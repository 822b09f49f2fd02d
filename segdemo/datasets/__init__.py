"""Dataset readers (eliret, membrane), their verified downloads and a large-image generator."""
