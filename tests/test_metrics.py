"""Metrics: property tests (hypothesis) and a cross-check of ECE against torchmetrics."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mmcbench.runs.metrics import accuracy, ari, cluster_to_class_map, clustering_scores, ece, nmi

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

    from mmcbench.runs.metrics import adjusted_rand, contingency_matrix, normalized_mutual_info

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


def test_health_reads_the_effective_number_of_clusters():
    from mmcbench.runs.health import run_health

    balanced = run_health(np.array([0, 1, 2, 3]), 4)
    assert balanced["clusters_used"] == 4 and balanced["clusters_effective"] == pytest.approx(4)
    assert balanced["collapsed"] is False and balanced["collapse_reason"] is None
    one = run_health(np.zeros(10, dtype=int), 10)
    assert one["clusters_effective"] == pytest.approx(1.0) and one["collapsed"] is True
    assert "1.00 < 2.5" in one["collapse_reason"]
    # k = 2: everything in one cluster is collapsed, an 80/20 split is not
    assert run_health(np.zeros(10, dtype=int), 2)["collapsed"] is True
    assert run_health(np.array([0] * 8 + [1] * 2), 2)["collapsed"] is False


def k_minus_2_clustering(k: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """Labels of k classes of 100 and an honest clustering of them that uses k − 2 clusters:
    the last two classes merged into cluster k − 3, and every fifth sample moved one cluster
    on (NMI ≈ 70, ACC 64 for k = 10)."""
    labels = np.repeat(np.arange(k), 100)
    predicted = np.minimum(labels, k - 3)
    predicted[::5] = (predicted[::5] + 1) % (k - 2)
    return labels, predicted


def test_health_an_honest_clustering_with_two_empty_clusters_is_not_collapsed():
    from mmcbench.runs.health import run_health

    labels, predicted = k_minus_2_clustering(10)
    assert 65 < nmi(labels, predicted) < 75
    health = run_health(predicted, 10)
    assert health["clusters_used"] == 8 and health["clusters_effective"] > 7
    assert health["collapsed"] is False and health["collapse_reason"] is None


def test_health_one_giant_cluster_with_nine_small_ones_is_collapsed():
    """The issue's first counter-example: every cluster used, but 1,865 of 2,000 samples in one
    (the rule of "at most k/2 clusters used, or NMI < 5" called it healthy)."""
    from mmcbench.runs.health import run_health

    labels = np.repeat(np.arange(10), 200)
    predicted = np.zeros(2000, dtype=int)
    small = np.arange(9 * 15)
    predicted[small * 13 % 2000] = 1 + small // 15  # nine clusters of 15, spread over classes
    assert np.bincount(predicted).tolist() == [1865] + [15] * 9
    assert 10 < accuracy(labels, predicted) < 20 and nmi(labels, predicted) > 5
    health = run_health(predicted, 10)
    assert health["clusters_used"] == 10
    assert health["clusters_effective"] == pytest.approx(1.49, abs=0.01)
    assert health["collapsed"] is True


def test_health_a_clean_merge_of_class_pairs_is_not_collapsed():
    """The issue's second counter-example: classes merged in pairs into 5 of 10 equal clusters
    (NMI 82): a clustering with merged classes, not a collapse."""
    from mmcbench.runs.health import run_health

    labels = np.repeat(np.arange(10), 100)
    predicted = labels // 2
    assert nmi(labels, predicted) > 80
    health = run_health(predicted, 10)
    assert health["clusters_used"] == 5 and health["clusters_effective"] == pytest.approx(5.0)
    assert health["collapsed"] is False


@pytest.mark.parametrize("share,collapsed", [(0.70, False), (0.80, False), (0.85, True)])
def test_health_bound_on_one_dominant_cluster(share, collapsed):
    from mmcbench.runs.health import run_health

    big = int(share * 900)
    predicted = np.concatenate([np.zeros(big, dtype=int), 1 + np.arange(900 - big) % 9])
    assert run_health(predicted, 10)["collapsed"] is collapsed


def old_record(used: int | None = None, health: dict | None = None) -> dict:
    """A done record of a k = 10 run: schema version 1 (cluster count in its diagnostics, or
    none) or with a stored health."""
    record = {
        "status": "done",
        "data": {"n_clusters": 10},
        "metrics": {"ACC": 66.7, "NMI": 40.0},
        "diagnostics": {} if used is None else {"n_clusters_found": used},
    }
    return record if health is None else {**record, "health": health}


@pytest.mark.parametrize("used", [8, 5, 3, 2, 1])
def test_record_health_reads_a_stored_health_by_the_current_rule(used):
    from mmcbench.runs.health import record_health, run_health

    fresh = run_health(np.arange(40) % used, 10)
    assert fresh["collapsed"] is (used < 2.5)
    # a stored health written under an earlier rule reads anew
    stale = {**fresh, "collapsed": not fresh["collapsed"], "collapse_reason": "earlier rule"}
    assert record_health(old_record(health=stale)) == fresh


def test_record_health_without_an_effective_number_is_unknown_unless_one_cluster():
    from mmcbench.runs.health import record_health

    assert record_health(old_record())["collapsed"] is None
    assert record_health(old_record(5))["collapsed"] is None  # schema version 1
    assert record_health(old_record(1))["collapsed"] is True
    stored = {"clusters_used": 4, "n_clusters": 10, "collapsed": True, "collapse_reason": "x"}
    assert record_health(old_record(health=stored))["collapsed"] is None  # before the rule
    nothing = {"clusters_used": None, "n_clusters": 10, "collapsed": None, "collapse_reason": None}
    assert record_health(old_record(health=nothing))["collapsed"] is None


def test_uniform_assignments_win_ece_but_not_nll_or_brier():
    """Uniform soft assignments (a collapse): ECE 0, but NLL log k and Brier 1 − 1/k, worse
    than a confident clustering that is mostly right."""
    from mmcbench.runs.metrics import soft_scores

    labels = np.repeat(np.arange(10), 50)
    uniform = soft_scores(labels, np.full((500, 10), 0.1))
    assert uniform["ECE"] == pytest.approx(0.0, abs=1e-9)
    assert uniform["NLL"] == pytest.approx(np.log(10))
    assert uniform["Brier"] == pytest.approx(0.9)
    permutation = np.array([3, 0, 9, 1, 2, 8, 4, 7, 6, 5])  # cluster ids are not class ids
    confident = np.full((500, 10), 0.01)
    confident[np.arange(500), permutation[labels]] = 0.91
    wrong = np.arange(0, 500, 10)  # one in ten sent to the next cluster
    confident[wrong] = np.roll(confident[wrong], 1, axis=1)
    good = soft_scores(labels, confident)
    assert good["NLL"] < uniform["NLL"] and good["Brier"] < uniform["Brier"]
    assert good["ECE"] > uniform["ECE"]  # what ECE alone would have ranked the other way
