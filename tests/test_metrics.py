"""Metrics: property tests (hypothesis) and a cross-check of ECE against torchmetrics."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from benchmark.metrics import accuracy, ari, cluster_to_class_map, clustering_scores, ece, nmi

labelings = st.integers(2, 6).flatmap(
    lambda k: st.lists(st.integers(0, k - 1), min_size=k, max_size=60).filter(
        lambda xs: len(set(xs)) >= 2
    )
)


@given(labels=labelings, clusters_seed=st.integers(0, 10**6), perm_seed=st.integers(0, 10**6))
@settings(max_examples=150, deadline=None)
def test_metrics_are_invariant_to_renaming_clusters(labels, clusters_seed, perm_seed):
    labels = np.array(labels)
    rng = np.random.default_rng(clusters_seed)
    clusters = rng.integers(0, 5, size=labels.size)
    perm = np.random.default_rng(perm_seed).permutation(10) + 100  # arbitrary new ids
    renamed = perm[clusters]
    for metric in (accuracy, nmi, ari):
        assert metric(labels, clusters) == pytest.approx(metric(labels, renamed))


@given(labels=labelings, perm_seed=st.integers(0, 10**6))
@settings(max_examples=100, deadline=None)
def test_perfect_clustering_scores_100(labels, perm_seed):
    labels = np.array(labels)
    perm = np.random.default_rng(perm_seed).permutation(labels.max() + 1)
    scores = clustering_scores(labels, perm[labels])
    assert scores == pytest.approx({"ACC": 100.0, "NMI": 100.0, "ARI": 100.0})


@given(labels=labelings, clusters=st.lists(st.integers(0, 8), min_size=60, max_size=60))
@settings(max_examples=100, deadline=None)
def test_accuracy_is_a_percentage_and_at_least_the_best_single_match(labels, clusters):
    labels = np.array(labels)
    clusters = np.array(clusters[: labels.size])
    acc = accuracy(labels, clusters)
    assert 0.0 <= acc <= 100.0
    # The Hungarian map is at least as good as matching the single best (cluster, class) pair.
    best_pair = max(
        np.sum((clusters == c) & (labels == y)) for c in set(clusters) for y in set(labels)
    )
    assert acc >= 100.0 * best_pair / labels.size - 1e-9


def test_accuracy_with_more_clusters_than_classes():
    labels = np.array([0, 0, 0, 1, 1, 1])
    clusters = np.array([0, 0, 2, 1, 1, 3])
    assert accuracy(labels, clusters) == pytest.approx(100 * 4 / 6)
    assert cluster_to_class_map(labels, clusters) in ({0: 0, 1: 1}, {0: 0, 1: 1, 2: 0})


def sklearn_cases() -> list[tuple[np.ndarray, np.ndarray]]:
    """Labelings to compare with sklearn: random ones of many sizes and numbers of clusters
    (ids not 0…k−1, more or fewer clusters than classes), and the edge cases."""
    rng = np.random.default_rng(20261205)
    cases = []
    for _ in range(300):
        n = int(rng.integers(1, 3000))
        k, c = int(rng.integers(1, 40)), int(rng.integers(1, 60))
        labels = rng.integers(0, k, size=n)
        clusters = rng.integers(0, c, size=n) * 7 - 3
        if rng.random() < 0.3:  # a clustering close to the classes: NMI and ARI far from 0
            clusters = np.where(rng.random(n) < 0.8, labels, clusters)
        cases.append((labels, clusters))
    cases += [
        (np.zeros(5, int), np.zeros(5, int)),  # one class, one cluster
        (np.zeros(5, int), np.arange(5)),  # one class
        (np.arange(5), np.zeros(5, int)),  # one cluster
        (np.arange(6), np.arange(6)[::-1]),  # every sample its own class and cluster
        (np.array([0, 0, 1, 1]), np.array([1, 1, 0, 0])),
        (np.array([], int), np.array([], int)),
    ]
    return cases


def test_nmi_and_ari_are_sklearns_very_floats():
    """NMI and ARI are written out in NumPy (no sklearn import before a run's first epoch): on
    random labelings they return exactly sklearn's floats, and the ACC map is unchanged."""
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score
    from sklearn.metrics.cluster import contingency_matrix as sklearn_contingency

    from benchmark.metrics import adjusted_rand, contingency_matrix, normalized_mutual_info

    for labels, clusters in sklearn_cases():
        expected_nmi = normalized_mutual_info_score(labels, clusters, average_method="arithmetic")
        assert normalized_mutual_info(labels, clusters) == expected_nmi
        assert adjusted_rand(labels, clusters) == adjusted_rand_score(labels, clusters)
        assert nmi(labels, clusters) == 100.0 * float(expected_nmi)
        if labels.size:
            table = contingency_matrix(labels, clusters)
            assert table.dtype == np.int64
            np.testing.assert_array_equal(table, sklearn_contingency(labels, clusters))


def test_metrics_refuse_labelings_of_different_lengths():
    with pytest.raises(ValueError, match="one length"):
        nmi(np.array([0, 1, 1]), np.array([0, 1]))


def calibrated(k: int, per_class: int, level: int, perm_seed: int):
    """Soft assignments whose confidence p equals their accuracy exactly (p = level/10 > 1/2)."""
    p = level / 10
    labels = np.repeat(np.arange(k), per_class)
    n_right = round(p * per_class)
    predicted = labels.copy()
    for c in range(k):
        idx = np.flatnonzero(labels == c)[n_right:]
        predicted[idx] = (c + 1) % k
    probs = np.full((labels.size, k), (1 - p) / (k - 1))
    probs[np.arange(labels.size), predicted] = p
    perm = np.random.default_rng(perm_seed).permutation(k)
    return labels, probs[:, perm]  # columns = clusters in an arbitrary order


@given(k=st.integers(2, 6), level=st.integers(6, 9), perm_seed=st.integers(0, 10**6))
@settings(max_examples=100, deadline=None)
def test_ece_of_a_perfectly_calibrated_predictor_is_zero(k, level, perm_seed):
    labels, probs = calibrated(k, per_class=10, level=level, perm_seed=perm_seed)
    assert ece(labels, probs) == pytest.approx(0.0, abs=1e-9)


def test_ece_of_an_overconfident_predictor():
    labels = np.array([0, 0, 1, 1])
    probs = np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 1.0], [1.0, 0.0]])  # 50 % right, 100 % sure
    assert ece(labels, probs) == pytest.approx(50.0)


@given(seed=st.integers(0, 10**6), k=st.integers(2, 7))
@settings(max_examples=40, deadline=None)
def test_ece_matches_torchmetrics(seed, k):
    import torch
    from torchmetrics.functional.classification import multiclass_calibration_error

    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(k), 20)
    logits = rng.normal(size=(labels.size, k))
    logits[np.arange(labels.size), labels] += 3.0  # mostly right: the ACC map is the identity
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    assert cluster_to_class_map(labels, probs.argmax(1)) == {c: c for c in range(k)}
    reference = multiclass_calibration_error(
        torch.tensor(probs, dtype=torch.float64),
        torch.tensor(labels),
        num_classes=k,
        n_bins=15,
        norm="l1",
    )
    # torchmetrics computes in float32: agree to 1e-4 percentage points.
    assert ece(labels, probs) == pytest.approx(100 * float(reference), abs=1e-4)


# ------------------------------------------------------------------ run health


def test_health_flags_too_few_clusters_and_a_low_nmi():
    from benchmark.health import run_health

    healthy = run_health(np.array([0, 1, 2, 3, 3]), 4, 60.0)
    assert healthy == {
        "clusters_used": 4,
        "n_clusters": 4,
        "collapsed": False,
        "collapse_reason": None,
    }
    assert not run_health(np.array([0, 1, 2, 2]), 4, 60.0)["collapsed"]  # 3 of 4 > k/2
    two = run_health(np.array([0, 1, 1, 1]), 4, 60.0)
    assert two["collapsed"] and "2 of 4" in two["collapse_reason"]
    low = run_health(np.array([0, 1, 2, 3]), 4, 4.9)
    assert low["collapsed"] and "NMI 4.9" in low["collapse_reason"]
    assert run_health(np.zeros(10, dtype=int), 10, 0.0)["clusters_used"] == 1


def k_minus_2_clustering(k: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """Labels of k classes of 100 and an honest clustering of them that uses k − 2 clusters:
    the last two classes merged into cluster k − 3, and every fifth sample moved one cluster
    on (NMI ≈ 70, ACC 64 for k = 10)."""
    labels = np.repeat(np.arange(k), 100)
    predicted = np.minimum(labels, k - 3)
    predicted[::5] = (predicted[::5] + 1) % (k - 2)
    return labels, predicted


def test_health_an_honest_clustering_with_two_empty_clusters_is_not_collapsed():
    from benchmark.health import run_health

    labels, predicted = k_minus_2_clustering(10)
    score = nmi(labels, predicted)
    assert 65 < score < 75
    health = run_health(predicted, 10, score)
    assert health["clusters_used"] == 8
    assert health["collapsed"] is False and health["collapse_reason"] is None


def test_health_one_cluster_is_collapsed():
    from benchmark.health import run_health

    labels = np.repeat(np.arange(10), 100)
    predicted = np.zeros_like(labels)
    health = run_health(predicted, 10, nmi(labels, predicted))
    assert health["clusters_used"] == 1 and health["collapsed"] is True
    assert "uses 1 of 10 clusters (at most k/2)" in health["collapse_reason"]
    assert "NMI 0.0 < 5" in health["collapse_reason"]


@pytest.mark.parametrize(
    "k,last_collapsed",  # at most k/2: for odd k at most ⌊k/2⌋
    [(4, 2), (10, 5), (5, 2), (15, 7), (21, 10)],
)
def test_health_collapses_at_most_k_over_2_clusters(k, last_collapsed):
    from benchmark.health import run_health

    def health(used: int) -> dict:
        return run_health(np.arange(4 * k) % used, k, 60.0)  # a high NMI: only the count counts

    at = health(last_collapsed)
    assert at["collapsed"] is True
    assert at["collapse_reason"] == f"uses {last_collapsed} of {k} clusters (at most k/2)"
    above = health(last_collapsed + 1)
    assert above["clusters_used"] == last_collapsed + 1 and above["collapsed"] is False


def test_health_a_low_nmi_with_every_cluster_used_is_collapsed():
    from benchmark.health import run_health

    labels = np.repeat(np.arange(10), 100)
    predicted = np.tile(np.arange(10), 100)  # every cluster used, unrelated to the classes
    score = nmi(labels, predicted)
    assert score < 5
    health = run_health(predicted, 10, score)
    assert health["clusters_used"] == 10 and health["collapsed"] is True
    assert health["collapse_reason"] == f"NMI {score:.1f} < 5"


def old_record(nmi_value: float, used: int | None = None, health: dict | None = None) -> dict:
    """A done record of a k = 10 run: schema version 1 (cluster count in its diagnostics, or
    none) or with a stored health."""
    record = {
        "status": "done",
        "data": {"n_clusters": 10},
        "metrics": {"ACC": 66.7, "NMI": nmi_value},
        "diagnostics": {} if used is None else {"n_clusters_found": used},
    }
    return record if health is None else {**record, "health": health}


@pytest.mark.parametrize(
    "used,nmi_value,collapsed",
    [(8, 70.0, False), (6, 70.0, False), (5, 70.0, True), (1, 0.0, True), (10, 4.9, True)],
)
def test_record_health_follows_the_same_rule(used, nmi_value, collapsed):
    from benchmark.health import record_health, run_health

    fresh = run_health(np.arange(40) % used, 10, nmi_value)
    assert fresh["collapsed"] is collapsed
    assert record_health(old_record(nmi_value, used)) == fresh  # schema version 1
    # a stored health written under the earlier rule (fewer than k − 1 clusters) reads anew
    earlier = used < 10 - 1
    stale = {**fresh, "collapsed": earlier, "collapse_reason": "earlier rule" if earlier else None}
    assert record_health(old_record(nmi_value, health=stale)) == fresh


def test_record_health_without_a_cluster_count_is_unknown_unless_the_nmi_says():
    from benchmark.health import record_health

    assert record_health(old_record(40.0))["collapsed"] is None
    assert record_health(old_record(3.0))["collapsed"] is True
    nothing = {"clusters_used": None, "n_clusters": 10, "collapsed": None, "collapse_reason": None}
    assert record_health(old_record(40.0, health=nothing)) == nothing
