"""Convert a dataset's raw files to the suite's HDF5 format, validating before writing.

HDF5 layout (`resources/hdf5/{dataset}.h5`):
- `/views/{i}`: float32, n × d_i, attrs `name`, `source_dtype`, `source_sparse`;
- `/labels`: int64, n, values 0…k−1;
- root attrs: `name`, `n_samples`, `n_clusters`, `view_names` (JSON list), `label_values`
  (JSON list: original label of each class index), `source_sha256` (JSON {file: sha256}),
  `converter_version`.
Validation (same n in every view, n and k as in the registry or the config's `user_datasets`,
known dimensions, no NaN/inf, integer labels, consistent label copies) runs before anything is
written; the file is written to a temporary name and renamed, so a failed conversion leaves
nothing behind.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mmcbench.core import atomic
from mmcbench.core.errors import DataError
from mmcbench.data.load import non_finite_values
from mmcbench.data.readers import read_file
from mmcbench.data.registry import Dataset, Location, get_dataset

CONVERTER_VERSION = "1"


@dataclass
class Converted:
    """A validated dataset in memory, ready to be written."""

    name: str
    views: list[np.ndarray]
    view_names: list[str]
    labels: np.ndarray
    label_values: list[int]
    source_dtypes: list[str]
    source_sparse: list[bool]
    n_clusters: int


def _lookup(contents: dict[str, dict[str, Any]], files: dict[str, Path], at: Location) -> Any:
    path = files[at.file]
    data = contents[at.file]
    for key in at.keys:
        if key in data:
            value = data[key]
            break
    else:
        raise DataError(
            f"{path}: no variable {' or '.join(repr(k) for k in at.keys)} "
            f"(the file has {sorted(data)})"
        )
    if at.cell is None:
        return value
    if not (isinstance(value, np.ndarray) and value.dtype == object):
        raise DataError(f"{path}: variable {key!r} should be a cell array, got {type(value)}")
    cells = value.ravel(order="F")
    if at.cell >= cells.size:
        raise DataError(
            f"{path}: cell array {key!r} has {cells.size} cells, expected at least {at.cell + 1}"
        )
    return cells[at.cell]


def _dense(value: Any) -> tuple[np.ndarray, bool]:
    import scipy.sparse as sp

    if sp.issparse(value):
        return np.asarray(value.toarray()), True
    return np.asarray(value), False


def build(spec: Dataset, files: dict[str, Path]) -> Converted:
    """Read and validate a dataset from its raw files (`{registry file name: local path}`).
    A user's dataset gets the same checks; its errors also say which config entry to fix."""
    try:
        return _build(spec, files)
    except DataError as exc:
        if not spec.user:
            raise
        raise DataError(
            f"{str(exc).rstrip('.')}. The keys, n_samples and k of {spec.name} are those of "
            f"user_datasets.{spec.name} in the config: correct them there or fix the file; "
            "nothing was written."
        ) from exc


def _build(spec: Dataset, files: dict[str, Path]) -> Converted:
    missing = [f.name for f in spec.files if f.name not in files]
    if missing:
        raise DataError(f"dataset {spec.name}: no local path given for {missing}")
    contents = {name: read_file(Path(path)) for name, path in files.items()}

    views, dtypes, sparse = [], [], []
    for view in spec.views:
        path = files[view.at.file]
        array, was_sparse = _dense(_lookup(contents, files, view.at))
        where = f"{path} ({view.at.describe()}, view '{view.name}')"
        if array.ndim != 2:
            raise DataError(f"{where}: expected a 2-D matrix, got shape {array.shape}")
        if array.dtype.kind not in "biuf":
            raise DataError(f"{where}: expected numeric values, got dtype {array.dtype}")
        if view.layout == "features_first":
            array = array.T
        if array.shape[0] != spec.n_samples:
            raise DataError(
                f"{where}: has {array.shape[0]} samples (shape {array.shape} with layout "
                f"{view.layout}), but {spec.stated_by} says {spec.name} has {spec.n_samples} "
                "samples in every view"
            )
        if array.shape[1] == 0:
            raise DataError(f"{where}: has 0 features (shape {array.shape}); a view needs some")
        if view.dim is not None and array.shape[1] != view.dim:
            raise DataError(f"{where}: has {array.shape[1]} features, the registry says {view.dim}")
        if problem := non_finite_values(array):
            raise DataError(f"{where}: {problem}")
        as32 = array.astype(np.float32)
        if not np.isfinite(as32).all():
            raise DataError(f"{where}: values overflow float32")
        views.append(as32)
        dtypes.append(str(array.dtype))
        sparse.append(was_sparse)

    labels, label_values = _labels(spec, contents, files)
    return Converted(
        name=spec.name,
        views=views,
        view_names=[v.name for v in spec.views],
        labels=labels,
        label_values=label_values,
        source_dtypes=dtypes,
        source_sparse=sparse,
        n_clusters=spec.n_clusters,
    )


def _label_vector(
    spec: Dataset, contents: dict, files: dict[str, Path], at: Location
) -> np.ndarray:
    where = f"{files[at.file]} ({at.describe()}, labels)"
    raw, _ = _dense(_lookup(contents, files, at))
    if raw.ndim > 2 or (raw.ndim == 2 and min(raw.shape) != 1):
        raise DataError(f"{where}: expected a label vector, got shape {raw.shape}")
    raw = raw.ravel()
    if raw.size != spec.n_samples:
        raise DataError(
            f"{where}: {raw.size} labels, but {spec.stated_by} says {spec.name} has "
            f"{spec.n_samples} samples"
        )
    if raw.dtype.kind == "f":
        if not np.isfinite(raw).all() or not np.all(raw == np.round(raw)):
            raise DataError(f"{where}: labels must be integers")
    elif raw.dtype.kind not in "biu":
        raise DataError(f"{where}: labels must be integers, got dtype {raw.dtype}")
    return raw.astype(np.int64)


def _labels(spec: Dataset, contents: dict, files: dict[str, Path]) -> tuple[np.ndarray, list[int]]:
    raw = _label_vector(spec, contents, files, spec.labels)
    for other in spec.labels_also:
        if not np.array_equal(raw, _label_vector(spec, contents, files, other)):
            raise DataError(
                f"{files[other.file]} ({other.describe()}): this copy of the labels differs from "
                f"{spec.labels.describe()}"
            )
    values, remapped = np.unique(raw, return_inverse=True)
    if values.size != spec.n_clusters:
        raise DataError(
            f"{files[spec.labels.file]} ({spec.labels.describe()}): {values.size} distinct "
            f"labels, but {spec.stated_by} says {spec.name} has {spec.n_clusters} classes"
        )
    return remapped.astype(np.int64), [int(v) for v in values]


def write_hdf5(data: Converted, out: Path, source_sha256: dict[str, str]) -> None:
    """Write a validated dataset atomically."""
    import h5py

    with atomic.atomic_path(out) as tmp, h5py.File(tmp, "w") as fh:
        group = fh.create_group("views")
        for i, (array, name) in enumerate(zip(data.views, data.view_names, strict=True)):
            ds = group.create_dataset(str(i), data=array, compression="gzip", compression_opts=4)
            ds.attrs["name"] = name
            ds.attrs["source_dtype"] = data.source_dtypes[i]
            ds.attrs["source_sparse"] = data.source_sparse[i]
        fh.create_dataset("labels", data=data.labels)
        fh.attrs["name"] = data.name
        fh.attrs["n_samples"] = int(data.labels.size)
        fh.attrs["n_clusters"] = int(data.n_clusters)
        fh.attrs["view_names"] = json.dumps(data.view_names)
        fh.attrs["label_values"] = json.dumps(data.label_values)
        fh.attrs["source_sha256"] = json.dumps(source_sha256, sort_keys=True)
        fh.attrs["converter_version"] = CONVERTER_VERSION


def fingerprint(data: Converted) -> str:
    """A human-readable summary: views, shapes, ranges, class counts."""
    lines = [f"{data.name}: n={data.labels.size}, k={data.n_clusters}, {len(data.views)} views"]
    for name, array, sparse in zip(data.view_names, data.views, data.source_sparse, strict=True):
        lines.append(
            f"  view {name:<10} {array.shape[0]} × {array.shape[1]:<5} "
            f"min {array.min():.4g} max {array.max():.4g} mean {array.mean():.4g}"
            + ("  (sparse in source)" if sparse else "")
        )
    counts = np.bincount(data.labels, minlength=data.n_clusters)
    lines.append(f"  classes {counts.tolist()} (original labels {data.label_values})")
    return "\n".join(lines)


def read_manifest(manifest: Path) -> dict[str, dict[str, str]]:
    """The `files` of a fetch manifest: {file name: {path, sha256, origin}}."""
    try:
        entries = json.loads(Path(manifest).read_text())["files"]
        if not isinstance(entries, dict):
            raise ValueError("'files' is not an object")
        for fname, entry in entries.items():
            if not (isinstance(entry, dict) and {"path", "sha256"} <= set(entry)):
                raise ValueError(f"entry {fname!r} lacks 'path' or 'sha256'")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise DataError(f"{manifest}: not a readable fetch manifest ({exc})") from exc
    return entries


def verify_manifest(manifest: Path, entries: dict[str, dict[str, str]]) -> None:
    """Re-hash every file the manifest lists: a file edited or replaced after `fetch` must not
    be converted under the hash of the original (the HDF5 and every record carry it)."""
    from mmcbench.data.fetch import sha256sum

    for fname, entry in entries.items():
        path = Path(entry["path"])
        if not path.is_file():
            raise DataError(
                f"{path} ({fname}, listed in {manifest}) does not exist any more; "
                "fetch the dataset again."
            )
        actual = sha256sum(path)
        if actual != entry["sha256"]:
            raise DataError(
                f"{path} ({fname}) changed after it was fetched: {manifest} records sha256 "
                f"{entry['sha256']}, the file now has sha256 {actual}. Fetch again (delete the "
                "manifest, or let Snakemake rerun the fetch) so that the converted dataset "
                "records the file it was made from; nothing was written."
            )


def convert_from_manifest(name: str, manifest: Path, out: Path) -> tuple[Converted, str]:
    """Convert dataset `name` from the files a fetch manifest lists, each re-verified against
    the manifest's sha256; write `out`. Returns the data and its summary (computed before the
    file is written, so that nothing fails after writing)."""
    spec = get_dataset(name)
    entries = read_manifest(manifest)
    verify_manifest(manifest, entries)
    files = {fname: Path(entry["path"]) for fname, entry in entries.items()}
    data = build(spec, files)
    summary = fingerprint(data)
    write_hdf5(data, out, {fname: entries[fname]["sha256"] for fname in files})
    return data, summary
