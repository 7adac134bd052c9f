"""Baselines: correctness on separable data, sparse Ncuts graph, run records."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.datasets import make_blobs

from baselines.methods import concatenate_standardised, knn_affinity, run_baseline
from mmcbench.runs import records
from mmcbench.runs.metrics import accuracy
from mmcbench.training.baseline_run import BaselineParams, parse_variant, run
from tests.conftest import write_dataset


@pytest.fixture(scope="module")
def blobs():
    x, y = make_blobs(n_samples=150, centers=3, n_features=4, cluster_std=0.4, random_state=1)
    noise = np.random.default_rng(0).normal(size=(150, 6))
    view1 = np.hstack([x[:, :2] * 3, noise[:, :1]])  # informative view
    view2 = np.hstack([x[:, 2:] * 3, noise[:, 1:3]])
    return [view1.astype(np.float32), view2.astype(np.float32)], y


@pytest.mark.parametrize(
    "method,view", [("KM", 0), ("Ncuts", 1), ("AmKM", None), ("AmNcuts", None)]
)
def test_baselines_recover_separable_clusters(blobs, method, view):
    views, y = blobs
    result = run_baseline(method, views, 3, seed=0, view=view)
    assert accuracy(y, result.labels) == pytest.approx(100.0)
    assert (result.objective is not None) == method.endswith("KM")


def test_ncuts_graph_is_sparse_and_symmetric():
    x = np.random.default_rng(0).normal(size=(500, 8))
    graph = knn_affinity(x, n_neighbors=10)
    assert sp.issparse(graph)
    assert graph.nnz <= 2 * 500 * 10
    assert abs(graph - graph.T).max() == 0


def test_all_view_methods_standardise_each_view():
    a = np.arange(12, dtype=float).reshape(6, 2) * 1000
    b = np.ones((6, 1)) + np.arange(6)[:, None]
    joined = concatenate_standardised([a, b])
    np.testing.assert_allclose(joined.mean(0), 0, atol=1e-6)
    np.testing.assert_allclose(joined.std(0), 1, atol=1e-6)


def test_variants_are_checked():
    assert parse_variant("KM", "view1", 2) == 1
    assert parse_variant("AmKM", "all", 2) is None
    for method, variant in [("KM", "all"), ("KM", "view2"), ("AmNcuts", "view0"), ("KM", "v0")]:
        with pytest.raises(ValueError):
            parse_variant(method, variant, 2)


@pytest.fixture
def blob_file(tmp_path, blobs):
    views, y = blobs
    return write_dataset(tmp_path / "blobs.h5", "blobs", views, y)


def test_run_record_is_complete_and_deterministic(tmp_path, blob_file):
    first = run("Ncuts", "view0", blob_file, seed=3, params=BaselineParams())
    second = run("Ncuts", "view0", blob_file, seed=3, params=BaselineParams())
    path = tmp_path / "rec.json"
    records.write(path, first)
    loaded = records.read(path)
    assert loaded["status"] == "done" and loaded["params"]["view_name"] == "a"
    assert loaded["metrics"]["ECE"] is None  # hard assignments have no ECE
    assert loaded["data"]["scaling"] == "minmax"
    assert loaded["environment"]["versions"]["scikit-learn"]
    assert first["metrics"] == second["metrics"]


def test_a_failing_method_is_recorded_as_error(tmp_path, blob_file, monkeypatch):
    import baselines.methods

    def broken(*args, **kwargs):
        raise np.linalg.LinAlgError("eigensolver did not converge")

    monkeypatch.setattr(baselines.methods, "run_baseline", broken)
    record = run("KM", "view0", blob_file, seed=0, params=BaselineParams())
    records.validate(record)
    assert record["status"] == "error" and "did not converge" in record["error"]
    assert record["metrics"]["ACC"] is None
