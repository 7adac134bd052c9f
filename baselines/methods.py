"""KM, Ncuts, AmKM and AmNcuts (protocol.md, "Baselines")."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from scipy import sparse
from sklearn.cluster import KMeans, SpectralClustering
from sklearn.neighbors import kneighbors_graph
from sklearn.preprocessing import StandardScaler

from mmcbench.planning import catalogue

AssignLabels = Literal["discretize", "kmeans", "cluster_qr"]
METHODS = tuple(catalogue.baseline_methods())  # KM, Ncuts, AmKM, AmNcuts
SINGLE_VIEW = tuple(catalogue.single_view_methods())


@dataclass
class BaselineResult:
    """Hard labels, plus a label-free objective where the method has one (k-means inertia)."""

    labels: np.ndarray
    objective: float | None = None
    objective_name: str | None = None
    warnings: list[str] = field(default_factory=list)


def _fit_predict(model, x) -> tuple[np.ndarray, list[str]]:
    """`model.fit_predict(x)` and the distinct messages of the warnings it raised (kept in the
    run record's diagnostics, e.g. a ConvergenceWarning on a constant view)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        labels = model.fit_predict(x)
    return labels, sorted({f"{w.category.__name__}: {w.message}" for w in caught})


def kmeans(x: np.ndarray, k: int, seed: int, n_init: int = 10) -> BaselineResult:
    """k-means with k-means++ initialisation and `n_init` restarts (the lowest inertia wins)."""
    model = KMeans(n_clusters=k, init="k-means++", n_init=n_init, random_state=seed)
    labels, caught = _fit_predict(model, x)
    return BaselineResult(
        labels=labels,
        objective=float(model.inertia_),
        objective_name="inertia",
        warnings=caught,
    )


def knn_affinity(x: np.ndarray, n_neighbors: int = 10) -> sparse.csr_matrix:
    """Symmetric kNN connectivity graph (A + Aᵀ)/2, sparse: at most 2·n·k non-zeros.

    The same graph scikit-learn's `affinity="nearest_neighbors"` builds, made explicit so that
    its sparsity is testable (no dense n × n matrix: 12k samples fit in memory).
    """
    graph = kneighbors_graph(x, n_neighbors=n_neighbors, mode="connectivity", include_self=True)
    return (0.5 * (graph + graph.T)).tocsr()


def ncuts(
    x: np.ndarray,
    k: int,
    seed: int,
    n_neighbors: int = 10,
    assign_labels: AssignLabels = "discretize",
) -> BaselineResult:
    """Normalised-cut spectral clustering on the symmetric kNN graph.

    scikit-learn embeds the graph with the normalised Laplacian (Shi & Malik's normalised cut)
    and assigns labels by discretisation (Yu & Shi) or k-means on the embedding.
    """
    model = SpectralClustering(
        n_clusters=k, affinity="precomputed", assign_labels=assign_labels, random_state=seed
    )
    labels, caught = _fit_predict(model, knn_affinity(x, n_neighbors))
    return BaselineResult(labels=labels, warnings=caught)


def concatenate_standardised(views: list[np.ndarray]) -> np.ndarray:
    """All views side by side, each feature standardised (zero mean, unit variance)."""
    return np.hstack([StandardScaler().fit_transform(v) for v in views]).astype(np.float32)


def all_views_kmeans(
    views: list[np.ndarray], k: int, seed: int, n_init: int = 10
) -> BaselineResult:
    """AmKM: k-means on the standardised concatenation of all views."""
    return kmeans(concatenate_standardised(views), k, seed, n_init=n_init)


def all_views_ncuts(
    views: list[np.ndarray],
    k: int,
    seed: int,
    n_neighbors: int = 10,
    assign_labels: AssignLabels = "discretize",
) -> BaselineResult:
    """AmNcuts: normalised cut on the standardised concatenation of all views."""
    return ncuts(concatenate_standardised(views), k, seed, n_neighbors, assign_labels)


def run_baseline(
    method: str,
    views: list[np.ndarray],
    k: int,
    seed: int,
    view: int | None,
    n_init: int = 10,
    n_neighbors: int = 10,
    assign_labels: AssignLabels = "discretize",
) -> BaselineResult:
    """Dispatch by method name; `view` picks the view of a single-view method."""
    if method not in METHODS:
        raise ValueError(f"unknown baseline {method!r}; expected one of {METHODS}")
    if method in SINGLE_VIEW:
        if view is None or not 0 <= view < len(views):
            raise ValueError(f"{method} needs a view index in 0..{len(views) - 1}, got {view}")
        x = views[view]
        if method == "KM":
            return kmeans(x, k, seed, n_init=n_init)
        return ncuts(x, k, seed, n_neighbors=n_neighbors, assign_labels=assign_labels)
    if method == "AmKM":
        return all_views_kmeans(views, k, seed, n_init=n_init)
    return all_views_ncuts(views, k, seed, n_neighbors=n_neighbors, assign_labels=assign_labels)
