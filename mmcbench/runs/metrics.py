"""Clustering metrics exactly as ../shared/spec/protocol.md defines them, in percent.

- ACC: best one-to-one map of cluster ids to classes (Hungarian algorithm on the contingency
  matrix), then accuracy; works when the number of clusters differs from the number of classes.
- NMI: sklearn's normalized_mutual_info_score (arithmetic mean normalisation).
- ARI: sklearn's adjusted_rand_score.
- ECE: probability columns permuted by the ACC map; confidence = top-1 probability,
  prediction = its class; 15 equal-width bins on [0, 1]; Σ_b |b|/n · |acc(b) − conf(b)|.
- NLL (nats) and Brier (0…2, not percent): the same permuted columns; −mean log p(true class)
  (p clamped at 1e-12) and mean Σ_c (p_c − 1[c = y])². Uniform assignments score ECE near 0
  (confidence 1/k, accuracy about 1/k) but log k and 1 − 1/k here: neither can be won by
  collapsing.

NMI and ARI are sklearn's formulas written out in NumPy, operation for operation, so that they
return the very same floats (tests/test_metrics.py compares them with sklearn's) without
importing scikit-learn (~1 s) before a run's first epoch; SciPy's Hungarian algorithm is
imported when ACC is first computed, so that the tables, which only need LOWER_IS_BETTER, import
neither.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

ECE_BINS = 15
LOWER_IS_BETTER = frozenset({"ECE", "NLL", "Brier"})  # every other metric: higher is better
DECIMALS = {"NLL": 2, "Brier": 3}  # shown with (every other metric, in percent: 1)
NLL_FLOOR = 1e-12  # p(true class) is clamped here before the log


def decimals(metric: str) -> int:
    """How many decimals `metric` is shown with."""
    return DECIMALS.get(metric, 1)


def contingency_matrix(labels: np.ndarray, clusters: np.ndarray) -> np.ndarray:
    """Counts (int64) of classes × clusters, both in sorted id order: sklearn's
    `contingency_matrix` (ValueError unless both are 1-D and of one length)."""
    labels = np.asarray(labels)
    clusters = np.asarray(clusters)
    if labels.ndim != 1 or clusters.ndim != 1 or labels.shape != clusters.shape:
        raise ValueError(
            f"labels and clusters must be 1-D and of one length: {labels.shape}, {clusters.shape}"
        )
    classes, class_idx = np.unique(labels, return_inverse=True)
    cluster_ids, cluster_idx = np.unique(clusters, return_inverse=True)
    cells = np.bincount(
        class_idx * cluster_ids.size + cluster_idx, minlength=classes.size * cluster_ids.size
    )
    return cells.astype(np.int64, copy=False).reshape(classes.size, cluster_ids.size)


def cluster_to_class_map(labels: np.ndarray, clusters: np.ndarray) -> dict[int, int]:
    """Hungarian map {cluster id: class id} maximising the number of matched samples.

    Clusters left unmatched (more clusters than classes) are absent from the map.
    """
    from scipy.optimize import linear_sum_assignment

    labels = np.asarray(labels)
    clusters = np.asarray(clusters)
    classes = np.unique(labels)
    cluster_ids = np.unique(clusters)
    table = contingency_matrix(labels, clusters)  # classes × clusters
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


def _entropy(counts: np.ndarray) -> float:
    """Entropy (nats) of a labelling from its class counts: sklearn's `_entropy`."""
    pi = counts.astype(np.float64)
    if pi.size == 1:  # single cluster => zero entropy
        return 0.0
    pi_sum = np.sum(pi)
    return float(-np.sum((pi / pi_sum) * (np.log(pi) - math.log(pi_sum))))


def _mutual_information(table: np.ndarray) -> float:
    """Mutual information (nats) of a contingency table: sklearn's `mutual_info_score`, its
    non-zero cells in the same (row-major) order, so that the sum is the same float."""
    nzx, nzy = np.nonzero(table)
    nz_val = table[nzx, nzy]
    contingency_sum = table.sum()
    pi = table.sum(axis=1)
    pj = table.sum(axis=0)
    if pi.size == 1 or pj.size == 1:  # a labelling with one cluster: MI = 0
        return 0.0
    log_contingency_nm = np.log(nz_val)
    contingency_nm = nz_val / contingency_sum
    outer = pi.take(nzx).astype(np.int64, copy=False) * pj.take(nzy).astype(np.int64, copy=False)
    log_outer = -np.log(outer) + math.log(pi.sum()) + math.log(pj.sum())
    mi = (
        contingency_nm * (log_contingency_nm - math.log(contingency_sum))
        + contingency_nm * log_outer
    )
    mi = np.where(np.abs(mi) < np.finfo(mi.dtype).eps, 0.0, mi)
    return float(np.clip(mi.sum(), 0.0, None))


def normalized_mutual_info(
    labels: np.ndarray, clusters: np.ndarray, average: str = "arithmetic"
) -> float:
    """sklearn's `normalized_mutual_info_score(labels, clusters, average_method=average)`
    (`arithmetic` or `geometric`), the same float."""
    table = contingency_matrix(labels, clusters)
    n_classes, n_clusters = table.shape
    if n_classes == n_clusters == 1 or n_classes == n_clusters == 0:
        return 1.0  # neither labelling splits the data: a perfect match
    mi = _mutual_information(table)
    if mi == 0:
        return 0.0
    entropies = [_entropy(table.sum(axis=1)), _entropy(table.sum(axis=0))]
    if average == "arithmetic":
        normalizer = np.mean(entropies)
    elif average == "geometric":
        normalizer = np.sqrt(entropies[0] * entropies[1])
    else:
        raise ValueError(f"unknown NMI average {average!r} (arithmetic or geometric)")
    return float(mi / max(normalizer, np.finfo(np.float64).eps))


def adjusted_rand(labels: np.ndarray, clusters: np.ndarray) -> float:
    """sklearn's `adjusted_rand_score(labels, clusters)`, the same float: the pair confusion
    matrix in exact integers, then sklearn's formula."""
    table = contingency_matrix(labels, clusters)
    n_samples = np.int64(table.sum())
    n_c = table.sum(axis=1)
    n_k = table.sum(axis=0)
    sum_squares = (table**2).sum()
    tp = int(sum_squares - n_samples)
    fp = int((table @ n_k).sum() - sum_squares)
    fn = int((table.T @ n_c).sum() - sum_squares)
    tn = int(n_samples**2 - fp - fn - sum_squares)
    if fn == 0 and fp == 0:  # empty data or full agreement
        return 1.0
    return 2.0 * (tp * tn - fn * fp) / ((tp + fn) * (fn + tn) + (tp + fp) * (fp + tn))


def nmi(labels: np.ndarray, clusters: np.ndarray, average: str = "arithmetic") -> float:
    """NMI in percent (arithmetic normalisation, the protocol's; or `geometric`, mvc's)."""
    return 100.0 * float(normalized_mutual_info(labels, clusters, average))


def ari(labels: np.ndarray, clusters: np.ndarray) -> float:
    """ARI in percent."""
    return 100.0 * float(adjusted_rand(labels, clusters))


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


def permuted_probabilities(labels: np.ndarray, probabilities: np.ndarray) -> np.ndarray:
    """Soft cluster assignments (n × k) with their columns moved onto classes by the ACC map of
    the argmax clustering (n × max(C, k)). Labels must be coded 0…C−1. A cluster the map leaves
    unmatched takes a class left over (none left: its column is dropped)."""
    labels = np.asarray(labels)
    probabilities = np.asarray(probabilities, dtype=np.float64)
    mapping = cluster_to_class_map(labels, probabilities.argmax(axis=1))
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
    return permuted


def calibration_bins(
    labels: np.ndarray, probabilities: np.ndarray, n_bins: int = ECE_BINS
) -> CalibrationBins:
    """Confidence bins of soft cluster assignments (n × k), as `ece` computes them, on the
    columns `permuted_probabilities` moves onto classes (an unmatched cluster predicts no
    class: counted as wrong)."""
    labels = np.asarray(labels)
    permuted = permuted_probabilities(labels, probabilities)
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


def negative_log_likelihood(labels: np.ndarray, probabilities: np.ndarray) -> float:
    """−mean log p(true class) of the permuted soft assignments, in nats (p clamped at
    NLL_FLOOR, so at most −log NLL_FLOOR ≈ 27.6)."""
    labels = np.asarray(labels)
    permuted = permuted_probabilities(labels, probabilities)
    true = permuted[np.arange(labels.size), labels]
    return float(-np.log(np.clip(true, NLL_FLOOR, None)).mean())


def brier(labels: np.ndarray, probabilities: np.ndarray) -> float:
    """Mean Σ_c (p_c − 1[c = y])² of the permuted soft assignments (0…2)."""
    labels = np.asarray(labels)
    permuted = permuted_probabilities(labels, probabilities)
    onehot = np.zeros_like(permuted)
    onehot[np.arange(labels.size), labels] = 1.0
    return float(((permuted - onehot) ** 2).sum(axis=1).mean())


def soft_scores(labels: np.ndarray, probabilities: np.ndarray) -> dict[str, float]:
    """ECE (percent), NLL and Brier of soft cluster assignments (n × k)."""
    return {
        "ECE": ece(labels, probabilities),
        "NLL": negative_log_likelihood(labels, probabilities),
        "Brier": brier(labels, probabilities),
    }


def clustering_scores(labels: np.ndarray, clusters: np.ndarray) -> dict[str, float]:
    """ACC, NMI and ARI of a hard clustering, in percent."""
    return {
        "ACC": accuracy(labels, clusters),
        "NMI": nmi(labels, clusters),
        "ARI": ari(labels, clusters),
    }
