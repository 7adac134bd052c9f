"""Load a converted dataset (`resources/hdf5/{dataset}.h5`) and apply the protocol's scaling."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from benchmark.errors import DataError

Scaling = Literal["minmax", "none"]


@dataclass
class MultiViewData:
    """Views (n × d_i float32), labels (0…k−1) and the file's provenance attributes."""

    name: str
    views: list[np.ndarray]
    view_names: list[str]
    labels: np.ndarray
    n_clusters: int
    source_sha256: dict[str, str]

    @property
    def n_samples(self) -> int:
        return int(self.labels.size)


def load_hdf5(path: str | Path) -> MultiViewData:
    """Read a converted dataset; a file that does not follow the schema is a clear error."""
    import h5py

    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: converted dataset not found (run the convert step first)")
    try:
        with h5py.File(path, "r") as fh:
            n_views = len(fh["views"])
            views = [fh["views"][str(i)][()] for i in range(n_views)]
            labels = fh["labels"][()].astype(np.int64)
            attrs = dict(fh.attrs)
    except (OSError, KeyError) as exc:
        raise DataError(f"{path}: not a readable mmcbench HDF5 dataset ({exc})") from exc
    data = MultiViewData(
        name=str(attrs["name"]),
        views=views,
        view_names=json.loads(attrs["view_names"]),
        labels=labels,
        n_clusters=int(attrs["n_clusters"]),
        source_sha256=json.loads(attrs["source_sha256"]),
    )
    if any(v.shape[0] != data.n_samples for v in views):
        raise DataError(f"{path}: views and labels have different numbers of samples")
    return data


def scale_view(view: np.ndarray, scaling: Scaling) -> np.ndarray:
    """Per-feature min-max scaling to [0, 1] (constant features become 0), or nothing."""
    if scaling == "none":
        return view
    if scaling != "minmax":
        raise ValueError(f"unknown scaling {scaling!r}")
    from sklearn.preprocessing import minmax_scale

    # In float64: float32 arithmetic can overshoot to 1.0000001.
    scaled = minmax_scale(view.astype(np.float64), feature_range=(0.0, 1.0), axis=0)
    return scaled.astype(np.float32)
