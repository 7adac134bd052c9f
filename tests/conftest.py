"""Shared fixtures: the repository root, the local dataset mirror, small .mat writers."""

from __future__ import annotations

import os
import struct
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parent.parent
PAPER_DATASETS = ("Caltech-2V", "Caltech-3V", "ESP-Game", "WVU", "IAPR", "MIRFlickr")
EXTENDED_DATASETS = (
    "mfeat",
    "HandWritten",
    "Scene-15",
    "LandUse-21",
    "BDGP",
    "Event8",
    "3-sources",
    "BBCSport",
    "MSRCV1",
    "ORL",
    "100Leaves",
    "NGs",
)


def find_mirror() -> Path | None:
    """The shared dataset folder: $MMCBENCH_MIRROR, else ../shared/datasets beside the checkout."""
    candidates = [
        os.environ.get("MMCBENCH_MIRROR"),
        REPO.parent / "shared" / "datasets",
        Path("/work/shared/datasets"),
    ]
    for candidate in candidates:
        if candidate and (Path(candidate) / "README.md").is_file():
            return Path(candidate).resolve()
    return None


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


@pytest.fixture(scope="session")
def mirror() -> Path:
    found = find_mirror()
    if found is None:
        pytest.skip(
            "dataset mirror not found: set MMCBENCH_MIRROR to the shared datasets folder "
            "(../shared/datasets); the tests that read real benchmark files need it"
        )
    return found


def write_dataset(path: Path, name: str, views: list[np.ndarray], labels: np.ndarray) -> Path:
    """A converted dataset (the suite's HDF5 format) from in-memory views and 0-based labels."""
    from benchmark.data.convert import Converted, write_hdf5

    labels = np.asarray(labels, dtype=np.int64)
    data = Converted(
        name=name,
        views=[np.asarray(v, dtype=np.float32) for v in views],
        view_names=[chr(ord("a") + i) for i in range(len(views))],
        labels=labels,
        label_values=sorted(int(v) for v in np.unique(labels)),
        source_dtypes=[str(np.asarray(v).dtype) for v in views],
        source_sparse=[False] * len(views),
        n_clusters=int(np.unique(labels).size),
    )
    write_hdf5(data, path, {f"{name}.mat": "0" * 64})
    return path


def write_mat73(path: Path, variables: dict[str, object]) -> None:
    """Write a MATLAB v7.3 file (HDF5 with MATLAB's 512-byte header), as MATLAB lays it out:
    arrays transposed (column-major), cell arrays as object references under #refs#, sparse
    matrices as groups with data / ir / jc."""
    import h5py
    import scipy.sparse as sp

    with h5py.File(path, "w", userblock_size=512) as fh:
        refs = fh.create_group("#refs#")
        counter = iter(range(10**6))

        def store(group, name, value):
            if sp.issparse(value):
                csc = sp.csc_matrix(value)
                g = group.create_group(name)
                g.attrs["MATLAB_class"] = np.bytes_("double")
                g.attrs["MATLAB_sparse"] = np.uint64(csc.shape[0])
                g.create_dataset("data", data=csc.data)
                g.create_dataset("ir", data=csc.indices.astype(np.uint64))
                g.create_dataset("jc", data=csc.indptr.astype(np.uint64))
                return g
            if isinstance(value, list):  # a 1 × m cell array
                ref_ids = []
                for item in value:
                    ref_ids.append(store(refs, f"r{next(counter)}", item).ref)
                ds = group.create_dataset(
                    name, data=np.array(ref_ids, dtype=h5py.ref_dtype).reshape(len(value), 1)
                )
                ds.attrs["MATLAB_class"] = np.bytes_("cell")
                return ds
            array = np.asarray(value)
            ds = group.create_dataset(name, data=array.T)
            ds.attrs["MATLAB_class"] = np.bytes_("double")
            return ds

        for key, value in variables.items():
            store(fh, key, value)
    header = b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: test HDF5 schema 1.00 ."
    with open(path, "r+b") as fh:
        fh.write(header.ljust(116, b" ") + b"\0" * 8 + struct.pack("<H", 0x0200) + b"IM")


def fake_data(name: str = "toy", n_clusters: int = 2, view_names=("a",)):
    """A dataset's identity as a run record needs it (no values: for record fixtures)."""
    from benchmark.data.load import MultiViewData

    return MultiViewData(
        name=name,
        views=[np.zeros((1, 1), np.float32) for _ in view_names],
        view_names=list(view_names),
        labels=np.zeros(10, np.int64),
        n_clusters=n_clusters,
        source_sha256={},
        path="x.h5",
    )


@pytest.fixture
def float64():
    """torch's default floating-point type float64 for the test, then back."""
    import torch

    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(previous)
