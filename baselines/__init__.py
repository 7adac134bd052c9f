"""Classical baselines of both papers' Table 1, on scikit-learn (protocol.md).

- KM: k-means on one view; Ncuts: normalised-cut spectral clustering on one view.
- AmKM / AmNcuts: the same on all views concatenated, each view standardised first.
Each function takes min-max-scaled views and returns hard cluster labels.
"""

from baselines.methods import (
    METHODS,
    BaselineResult,
    all_views_kmeans,
    all_views_ncuts,
    kmeans,
    ncuts,
    run_baseline,
)

__all__ = [
    "METHODS",
    "BaselineResult",
    "all_views_kmeans",
    "all_views_ncuts",
    "kmeans",
    "ncuts",
    "run_baseline",
]
