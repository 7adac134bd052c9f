"""Load a converted dataset (`resources/hdf5/{dataset}.h5`) and apply the protocol's scaling."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from mmcbench.core.errors import DataError

Scaling = Literal["minmax", "minmax_global", "none"]


@dataclass
class MultiViewData:
    """Views (n × d_i float32), labels (0…k−1) and the file's provenance attributes."""

    name: str
    views: list[np.ndarray]
    view_names: list[str]
    labels: np.ndarray
    n_clusters: int
    source_sha256: dict[str, str]
    path: str = ""  # the file it was read from (run records name it)

    @property
    def n_samples(self) -> int:
        return int(self.labels.size)

    def content_sha256(self) -> str:
        """sha256 of what a run sees: every view's values, shape and type, the labels and k.
        Run records keep it, so a finished run is kept only on the very same data (a file
        converted again from other raw files, or edited by hand, has another digest)."""
        import hashlib

        digest = hashlib.sha256()
        for array in (*self.views, self.labels):
            array = np.ascontiguousarray(array)
            digest.update(f"{array.dtype.str}{array.shape}".encode())
            digest.update(array.tobytes())
        digest.update(str(self.n_clusters).encode())
        return digest.hexdigest()


REQUIRED_ATTRS = ("name", "n_samples", "n_clusters", "view_names", "source_sha256")


def load_hdf5(path: str | Path) -> MultiViewData:
    """Read a converted dataset and check it against the schema `convert` writes (so that a
    file made by hand gets the same checks: finite float views, labels 0…k−1 with every class
    present, attributes).
    A file that does not follow it is a DataError naming the file and the problem."""
    import h5py

    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: converted dataset not found (run the convert step first)")
    try:
        with h5py.File(path, "r") as fh:
            attrs = dict(fh.attrs)
            if missing := [a for a in REQUIRED_ATTRS if a not in attrs]:
                raise DataError(f"{path}: missing attribute(s) {missing} of the mmcbench format")
            group = fh.get("views")
            if not isinstance(group, h5py.Group) or len(group) == 0:
                raise DataError(f"{path}: no /views group with at least one view")
            names = sorted(group)
            if names != sorted(str(i) for i in range(len(names))):
                raise DataError(f"{path}: /views must hold 0…{len(names) - 1}, has {names}")
            views = [_dataset(group, str(i), path) for i in range(len(names))]
            labels = _dataset(fh, "labels", path)
    except OSError as exc:
        raise DataError(f"{path}: not a readable mmcbench HDF5 dataset ({exc})") from exc
    return _validated(path, attrs, views, labels)


def _dataset(group, name: str, path: Path) -> np.ndarray:
    import h5py

    node = group.get(name)
    if not isinstance(node, h5py.Dataset):
        raise DataError(f"{path}: no dataset {group.name.rstrip('/')}/{name}")
    return node[()]


def non_finite_values(view: np.ndarray) -> str | None:
    """How many NaN/inf values a view (samples × features) has and where the first is, or None
    (the check `convert` makes before writing and `load_hdf5` after reading)."""
    if view.dtype.kind != "f":
        return None
    bad = np.argwhere(~np.isfinite(view))
    if not bad.size:
        return None
    return f"{bad.shape[0]} NaN/inf value(s), first at sample {bad[0][0]}, feature {bad[0][1]}"


def empty_classes(labels: np.ndarray, n_clusters: int) -> str | None:
    """Which classes of 0…k−1 have no sample (k > n samples among them), or None. A run of
    such a dataset is refused: k-means cannot place more centres than samples, and a class
    the labels never use makes the scores those of another clustering task."""
    counts = np.bincount(labels, minlength=n_clusters)
    empty = np.flatnonzero(counts[:n_clusters] == 0)
    if not empty.size:
        return None
    listed = ", ".join(str(c) for c in empty[:10]) + (", …" if empty.size > 10 else "")
    problem = (
        f"{empty.size} of the {n_clusters} classes have no sample (label value(s) {listed} "
        "never occur)"
    )
    if n_clusters > labels.size:
        problem = f"more clusters than samples ({n_clusters} > {labels.size}): {problem}"
    return problem


def _validated(
    path: Path, attrs: dict, views: list[np.ndarray], labels: np.ndarray
) -> MultiViewData:
    try:
        view_names = json.loads(attrs["view_names"])
        source_sha256 = json.loads(attrs["source_sha256"])
        n_samples, n_clusters = int(attrs["n_samples"]), int(attrs["n_clusters"])
    except (TypeError, ValueError) as exc:
        raise DataError(f"{path}: unreadable attribute ({exc})") from exc
    if not (isinstance(view_names, list) and len(view_names) == len(views)):
        raise DataError(f"{path}: attribute view_names must list {len(views)} view names")
    if not isinstance(source_sha256, dict):
        raise DataError(f"{path}: attribute source_sha256 must be a JSON object")
    if labels.ndim != 1 or labels.dtype.kind not in "iu":
        raise DataError(
            f"{path}: /labels must be a 1-D integer vector, got {labels.dtype} {labels.shape}"
        )
    if labels.size != n_samples or n_samples < 1:
        raise DataError(f"{path}: {labels.size} labels, but attribute n_samples is {n_samples}")
    if n_clusters < 2:
        raise DataError(f"{path}: attribute n_clusters is {n_clusters}; clustering needs ≥ 2")
    if labels.min() < 0 or labels.max() >= n_clusters:
        raise DataError(
            f"{path}: labels must lie in 0…{n_clusters - 1} (n_clusters = {n_clusters}), "
            f"found {labels.min()}…{labels.max()}"
        )
    if problem := empty_classes(labels, n_clusters):
        raise DataError(
            f"{path}: {problem}. Every method is asked for n_clusters = {n_clusters} clusters "
            "and scored against these labels, so each class needs at least one sample (convert "
            "never writes such a file): give n_clusters the number of classes present and "
            "number them 0…k−1."
        )
    for i, view in enumerate(views):
        where = f"{path}: view {i} ({view_names[i]})"
        if view.ndim != 2 or view.shape[0] != n_samples or view.shape[1] == 0:
            raise DataError(f"{where}: shape {view.shape}, expected {n_samples} × d with d ≥ 1")
        if view.dtype.kind != "f":
            raise DataError(f"{where}: dtype {view.dtype}, expected floating point")
        if problem := non_finite_values(view):
            raise DataError(f"{where}: {problem} (convert refuses such files; fix the source data)")
    return MultiViewData(
        name=str(attrs["name"]),
        views=[v.astype(np.float32, copy=False) for v in views],
        view_names=[str(n) for n in view_names],
        labels=labels.astype(np.int64),
        n_clusters=n_clusters,
        source_sha256=source_sha256,
        path=str(path),
    )


def scale_view(view: np.ndarray, scaling: Scaling) -> np.ndarray:
    """Per-feature min-max scaling to [0, 1] (constant features become 0), one min-max for the
    whole matrix (`minmax_global`), or nothing."""
    if scaling == "none":
        return view
    if scaling == "minmax_global":  # one min and max for the whole view matrix (DeepMVC)
        low, high = float(view.min()), float(view.max())
        span = high - low
        scaled = (view.astype(np.float64) - low) / span if span > 0 else view * 0.0
        return scaled.astype(np.float32)
    if scaling != "minmax":
        raise ValueError(f"unknown scaling {scaling!r}")
    # In float64: float32 arithmetic can overshoot to 1.0000001.
    return minmax_columns(view.astype(np.float64)).astype(np.float32)


def minmax_columns(x: np.ndarray) -> np.ndarray:
    """sklearn's `minmax_scale(x, feature_range=(0, 1), axis=0)` of a float64 matrix, operation
    for operation (the same floats, tests/test_convert.py; no sklearn import before a run's first
    epoch): a range below 10 ε counts as 1, so a constant feature becomes 0."""
    low = np.nanmin(x, axis=0)
    span = np.nanmax(x, axis=0) - low
    span[span < 10 * np.finfo(span.dtype).eps] = 1.0
    scale = 1.0 / span
    scaled = x * scale
    scaled += 0.0 - low * scale
    return scaled
