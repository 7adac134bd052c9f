"""Figures rendered from the files runs and aggregation wrote (never retrains anything)."""
