"""Figures rendered from the files runs and aggregation wrote (never retrains anything)."""

GRID_STYLES = ("heatmap", "bars3d")  # α/β grid figures: heatmap, or the papers' 3-D bars
