"""Clustering metrics exactly as ../shared/spec/protocol.md defines them, in percent.

- ACC: best one-to-one map of cluster ids to classes (Hungarian algorithm on the contingency
  matrix), then accuracy; works when the number of clusters differs from the number of classes.
- NMI: sklearn's normalized_mutual_info_score (arithmetic mean normalisation).
- ARI: sklearn's adjusted_rand_score.
- ECE: probability columns permuted by the ACC map; confidence = top-1 probability,
  prediction = its class; 15 equal-width bins on [0, 1]; Σ_b |b|/n · |acc(b) − conf(b)|.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score
from sklearn.metrics.cluster import contingency_matrix

ECE_BINS = 15
LOWER_IS_BETTER = frozenset({"ECE"})  # every other metric: higher is better


def cluster_to_class_map(labels: np.ndarray, clusters: np.ndarray) -> dict[int, int]:
    """Hungarian map {cluster id: class id} maximising the number of matched samples.

    Clusters left unmatched (more clusters than classes) are absent from the map.
    """
    labels = np.asarray(labels)
    clusters = np.asarray(clusters)
    classes, label_idx = np.unique(labels, return_inverse=True)
    cluster_ids, cluster_idx = np.unique(clusters, return_inverse=True)
    table = contingency_matrix(label_idx, cluster_idx)  # classes × clusters
    rows, cols = linear_sum_assignment(table, maximize=True)
    return {int(cluster_ids[c]): int(classes[r]) for r, c in zip(rows, cols, strict=True)}


def accuracy(labels: np.ndarray, clusters: np.ndarray) -> float:
    """ACC in percent."""
    labels = np.asarray(labels)
    clusters = np.asarray(clusters)
    mapping = cluster_to_class_map(labels, clusters)
    mapped = np.array([mapping.get(int(c), -1) for c in clusters])
    matched = labels.size and np.sum(mapped == labels)
    return 100.0 * float(matched) / labels.size


def nmi(labels: np.ndarray, clusters: np.ndarray) -> float:
    """NMI in percent (arithmetic normalisation)."""
    return 100.0 * float(
        normalized_mutual_info_score(labels, clusters, average_method="arithmetic")
    )


def ari(labels: np.ndarray, clusters: np.ndarray) -> float:
    """ARI in percent."""
    return 100.0 * float(adjusted_rand_score(labels, clusters))


@dataclass(frozen=True)
class CalibrationBins:
    """Per confidence bin: sample count, accuracy and mean confidence (empty bins: count 0).

    `n_bins + 1` slots: the last one holds confidence exactly 1.0 (torchmetrics' binning).
    """

    counts: np.ndarray
    correct: np.ndarray  # number of correct predictions per bin
    confidence_sum: np.ndarray

    def __add__(self, other: CalibrationBins) -> CalibrationBins:
        return CalibrationBins(
            self.counts + other.counts,
            self.correct + other.correct,
            self.confidence_sum + other.confidence_sum,
        )

    def ece(self) -> float:
        """Σ_b |b|/n · |acc(b) − conf(b)|, in percent."""
        filled = self.counts > 0
        n = self.counts.sum()
        gaps = np.abs(self.correct[filled] - self.confidence_sum[filled])  # |b|·|acc − conf|
        return 100.0 * float(gaps.sum() / n)


def calibration_bins(
    labels: np.ndarray, probabilities: np.ndarray, n_bins: int = ECE_BINS
) -> CalibrationBins:
    """Confidence bins of soft cluster assignments (n × k), as `ece` computes them.

    Labels must be coded 0…C−1. Column j of `probabilities` is cluster j; the columns are
    permuted onto classes by the ACC map of the argmax clustering. A cluster the map leaves
    unmatched predicts no class (counted as wrong).
    """
    labels = np.asarray(labels)
    probabilities = np.asarray(probabilities, dtype=np.float64)
    clusters = probabilities.argmax(axis=1)
    mapping = cluster_to_class_map(labels, clusters)
    n_classes = max(int(labels.max()) + 1, probabilities.shape[1])
    permuted = np.zeros((labels.size, n_classes))
    # Clusters not used by any argmax still need a class: give them the classes left over.
    unused_classes = iter(sorted(set(range(n_classes)) - set(mapping.values())))
    for cluster in range(probabilities.shape[1]):
        target = mapping.get(cluster)
        if target is None:
            target = next(unused_classes, None)
        if target is not None:
            permuted[:, target] += probabilities[:, cluster]
    confidence = permuted.max(axis=1)
    correct = permuted.argmax(axis=1) == labels
    # torchmetrics' binning: bucketize(conf, edges, right=True) − 1 over n_bins + 1 slots, so
    # bins are [0, 1/15), …, [14/15, 1) and confidence exactly 1.0 gets a slot of its own.
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    bins = np.searchsorted(edges, confidence, side="right") - 1
    slots = n_bins + 1
    return CalibrationBins(
        np.bincount(bins, minlength=slots).astype(np.float64),
        np.bincount(bins, weights=correct.astype(np.float64), minlength=slots),
        np.bincount(bins, weights=confidence, minlength=slots),
    )


def ece(labels: np.ndarray, probabilities: np.ndarray, n_bins: int = ECE_BINS) -> float:
    """Expected calibration error in percent, for soft cluster assignments (n × k)."""
    return calibration_bins(labels, probabilities, n_bins).ece()


def clustering_scores(labels: np.ndarray, clusters: np.ndarray) -> dict[str, float]:
    """ACC, NMI and ARI of a hard clustering, in percent."""
    return {
        "ACC": accuracy(labels, clusters),
        "NMI": nmi(labels, clusters),
        "ARI": ari(labels, clusters),
    }
