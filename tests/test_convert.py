"""Conversion to HDF5: formats, layouts, label remapping, validation, atomic output."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import pytest
import scipy.io
import scipy.sparse as sp

from mmcbench.core import atomic
from mmcbench.core.errors import DataError
from mmcbench.data.convert import build, convert_from_manifest, write_hdf5
from mmcbench.data.fetch import sha256sum
from mmcbench.data.load import load_hdf5, minmax_columns, scale_view
from mmcbench.data.readers import read_file, read_mat
from mmcbench.data.registry import Dataset, Location, SourceFile, View, get_dataset
from tests.conftest import EXTENDED_DATASETS, write_mat73

RNG = np.random.default_rng(0)
N, K = 12, 3


def toy_spec(
    file: str = "toy.mat",
    layouts=("samples_first", "features_first"),
    cell=True,
    dims=(4, 5),
    k: int = K,
) -> Dataset:
    views = tuple(
        View(
            name=f"v{i}",
            at=Location(file, ("X",), cell=i if cell else None)
            if cell
            else Location(file, (f"X{i + 1}",)),
            layout=layout,
            dim=dims[i],
        )
        for i, layout in enumerate(layouts)
    )
    return Dataset(
        name="toy",
        description="toy",
        n_samples=N,
        n_clusters=k,
        views=views,
        labels=Location(file, ("Y",)),
        files=(SourceFile(name=file),),
    )


def toy_arrays():
    x0 = RNG.random((N, 4))
    x1 = RNG.random((N, 5))
    labels = np.repeat([3, 7, 9], N // K)  # non-contiguous, not 0-based
    return x0, x1, labels


def cell(*arrays):
    out = np.empty((1, len(arrays)), dtype=object)
    for i, a in enumerate(arrays):
        out[0, i] = a
    return out


def test_v5_cells_features_first_and_sparse_views(tmp_path):
    x0, x1, labels = toy_arrays()
    path = tmp_path / "toy.mat"
    scipy.io.savemat(path, {"X": cell(sp.csc_matrix(x0), x1.T), "Y": labels.reshape(-1, 1)})
    data = build(toy_spec(), {"toy.mat": path})
    np.testing.assert_allclose(data.views[0], x0.astype(np.float32))
    np.testing.assert_allclose(data.views[1], x1.astype(np.float32))  # transposed back
    assert data.source_sparse == [True, False]
    assert data.labels.tolist() == [0] * 4 + [1] * 4 + [2] * 4
    assert data.label_values == [3, 7, 9]


def test_v73_file_reads_like_v5(tmp_path):
    x0, x1, labels = toy_arrays()
    path = tmp_path / "toy.mat"
    write_mat73(path, {"X": [sp.csr_matrix(x0), x1.T], "Y": labels.reshape(-1, 1).astype(float)})
    assert h5py.is_hdf5(path)
    contents = read_mat(path)
    assert contents["X"].shape == (1, 2) and contents["Y"].shape == (N, 1)
    assert sp.issparse(contents["X"][0, 0])
    data = build(toy_spec(), {"toy.mat": path})
    np.testing.assert_allclose(data.views[0], x0.astype(np.float32))
    np.testing.assert_allclose(data.views[1], x1.astype(np.float32))
    assert data.label_values == [3, 7, 9]


def test_hdf5_round_trip_and_schema(tmp_path):
    x0, x1, labels = toy_arrays()
    path = tmp_path / "toy.mat"
    scipy.io.savemat(path, {"X": cell(x0, x1.T), "Y": labels})
    out = tmp_path / "hdf5" / "toy.h5"
    write_hdf5(build(toy_spec(), {"toy.mat": path}), out, {"toy.mat": "abc"})
    with h5py.File(out) as fh:
        assert fh["views/0"].dtype == np.float32 and fh["labels"].dtype == np.int64
        assert json.loads(fh.attrs["label_values"]) == [3, 7, 9]
        assert fh.attrs["n_clusters"] == K
    loaded = load_hdf5(out)
    assert loaded.view_names == ["v0", "v1"] and loaded.source_sha256 == {"toy.mat": "abc"}
    scaled = scale_view(loaded.views[0], "minmax")
    assert scaled.min() == 0.0 and scaled.max() == 1.0


def test_minmax_scaling_is_sklearns_very_floats():
    """The per-feature min-max is sklearn's minmax_scale written out in NumPy (no sklearn
    import before a run's first epoch): the same floats, constant and tiny-range features
    included, in float64 and after the cast to float32."""
    from sklearn.preprocessing import minmax_scale

    rng = np.random.default_rng(7)
    for _ in range(50):
        n, d = int(rng.integers(1, 300)), int(rng.integers(1, 40))
        view = (rng.normal(size=(n, d)) * 10.0 ** rng.integers(-6, 6, size=d)).astype(np.float32)
        view[:, rng.random(d) < 0.2] = 3.5  # constant features
        tiny = rng.random(d) < 0.1  # a range below 10 ε: sklearn counts it as 1
        view[:, tiny] = rng.normal(size=(n, int(tiny.sum()))) * 1e-20
        x = view.astype(np.float64)
        expected = minmax_scale(x, feature_range=(0.0, 1.0), axis=0)
        np.testing.assert_array_equal(minmax_columns(x), expected, strict=True)
        np.testing.assert_array_equal(
            scale_view(view, "minmax"), expected.astype(np.float32), strict=True
        )


def _assert_no_output(folder: Path):
    assert not list(folder.glob("*")), f"partial output left: {list(folder.glob('*'))}"


def _convert_expecting(tmp_path, spec, path, match):
    out_dir = tmp_path / "hdf5"
    out_dir.mkdir()
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps({"files": {path.name: {"path": str(path), "sha256": "x"}}}))
    with pytest.raises(DataError, match=match) as info:
        data = build(spec, {path.name: path})
        write_hdf5(data, out_dir / "toy.h5", {})
    _assert_no_output(out_dir)
    return str(info.value)


def test_truncated_mat_is_a_clear_error(tmp_path):
    x0, x1, labels = toy_arrays()
    good = tmp_path / "good.mat"
    scipy.io.savemat(good, {"X": cell(x0, x1.T), "Y": labels})
    bad = tmp_path / "toy.mat"
    bad.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    message = _convert_expecting(tmp_path, toy_spec(), bad, "truncated or corrupt")
    assert str(bad) in message


def test_view_with_nan_is_rejected(tmp_path):
    x0, x1, labels = toy_arrays()
    x0[5, 2] = np.nan
    path = tmp_path / "toy.mat"
    scipy.io.savemat(path, {"X": cell(x0, x1.T), "Y": labels})
    message = _convert_expecting(tmp_path, toy_spec(), path, "NaN/inf")
    assert "sample 5, feature 2" in message and "view 'v0'" in message


def test_views_with_different_n_are_rejected(tmp_path):
    x0, x1, labels = toy_arrays()
    path = tmp_path / "toy.mat"
    scipy.io.savemat(path, {"X": cell(x0, x1[:-2].T), "Y": labels})
    message = _convert_expecting(tmp_path, toy_spec(), path, "has 10 samples")
    assert "view 'v1'" in message and str(path) in message


def test_wrong_layout_is_rejected_not_guessed(tmp_path):
    x0, x1, labels = toy_arrays()
    path = tmp_path / "toy.mat"
    scipy.io.savemat(path, {"X": cell(x0, x1), "Y": labels})  # v1 not features-first
    _convert_expecting(tmp_path, toy_spec(), path, "layout features_first")


def test_class_count_must_match_the_registry(tmp_path):
    x0, x1, labels = toy_arrays()
    path = tmp_path / "toy.mat"
    scipy.io.savemat(path, {"X": cell(x0, x1.T), "Y": labels})
    _convert_expecting(tmp_path, toy_spec(k=4), path, "3 distinct labels, but the registry says")


def test_missing_variable_names_the_keys_found(tmp_path):
    x0, x1, labels = toy_arrays()
    path = tmp_path / "toy.mat"
    scipy.io.savemat(path, {"X": cell(x0, x1.T), "labels": labels})
    _convert_expecting(tmp_path, toy_spec(), path, r"no variable 'Y' \(the file has")


def test_failed_write_leaves_nothing(tmp_path):
    target = tmp_path / "out.txt"
    with pytest.raises(RuntimeError), atomic.atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("crash mid-write")
    assert not list(tmp_path.iterdir())


def test_label_csv_reader(tmp_path):
    path = tmp_path / "m.csv"
    path.write_text("0,1,2\n0.5,1.5,3\n0.25,2.5,4\n")
    contents = read_file(path)
    assert contents["features"].shape == (2, 2) and contents["label"].tolist() == [3, 4]


@pytest.mark.parametrize("name", EXTENDED_DATASETS)
def test_real_datasets_convert_to_the_registry_shapes(mirror, tmp_path, name):
    spec = get_dataset(name)
    files = {f.name: str(mirror / f.mirror_path) for f in spec.files}
    manifest = tmp_path / "manifest.json"
    manifest.write_text(
        json.dumps(
            {"files": {k: {"path": v, "sha256": sha256sum(Path(v))} for k, v in files.items()}}
        )
    )
    out = tmp_path / f"{name}.h5"
    convert_from_manifest(name, manifest, out)
    data = load_hdf5(out)
    assert data.n_samples == spec.n_samples and data.n_clusters == spec.n_clusters
    assert [v.shape[1] for v in data.views] == [v.dim for v in spec.views]
    assert sorted(np.unique(data.labels)) == list(range(spec.n_clusters))
    assert all(np.isfinite(v).all() for v in data.views)
