"""How good the answers are, measured: search quality and per-viewer quality."""
