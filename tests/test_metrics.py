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
    assert not run_health(np.array([0, 1, 2, 2]), 4, 60.0)["collapsed"]  # k − 1 is enough
    two = run_health(np.array([0, 1, 1, 1]), 4, 60.0)
    assert two["collapsed"] and "2 of 4" in two["collapse_reason"]
    low = run_health(np.array([0, 1, 2, 3]), 4, 4.9)
    assert low["collapsed"] and "NMI 4.9" in low["collapse_reason"]
    assert run_health(np.zeros(10, dtype=int), 10, 0.0)["clusters_used"] == 1
