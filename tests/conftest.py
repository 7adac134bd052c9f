"""Shared fixtures: the repository root, the local dataset mirror, small .mat writers, tiny
settings of each deep method, and the Snakemake helpers with the session's shared DAGs: the
smoke DAG run once (tests read it; those that change it work on a copy) and each config's plan
made once."""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
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
    from mmcbench.data.convert import Converted, write_hdf5

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
    from mmcbench.data.load import MultiViewData

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


# ------------------------------------------------------------------ tiny settings
# A deep method's settings small enough for a unit test to train it in a second or two: a
# narrow network, small batches, one or two epochs. Keys of the method's config class, so
# they are both a run's --hparams and a config section's hyper-parameters.
TINY = {
    "GIB": {
        "epochs": 2,
        "batch_size": 30,
        "encoder_hidden": [16],
        "latent_dim": 8,
        "head_hidden": 8,
    },
    "CLIB": {
        "epochs": 2,
        "batch_size": 30,
        "encoder_hidden": [16],
        "latent_dim": 8,
        "head_hidden": 8,
        "warmup_epochs": 1,
        "head_init_steps": 20,
    },
    "SiMVC": {"epochs": 2, "batch_size": 30, "n_hidden": 8},
    "CoMVC": {"epochs": 2, "batch_size": 30, "n_hidden": 8},
    "MFLVC": {
        "mse_epochs": 1,
        "con_epochs": 1,
        "tune_epochs": 1,
        "batch_size": 30,
        "feature_dim": 16,
        "high_feature_dim": 8,
        "pseudo_label_n_init": 2,
    },
    "DIVIDE": {
        "epochs": 2,
        "batch_size": 256,
        "encoder_dims": [64, 32],
        "decoder_hidden": 32,
        "kmeans_n_init": 1,
        "rectify_start_epoch": 1,
        "warmup_epochs": 1,
    },
    "DealMVC": {
        "mse_epochs": 2,
        "con_epochs": 2,
        "tune_epochs": 1,
        "batch_size": 16,
        "feature_dim": 16,
        "high_feature_dim": 16,
        "pseudo_label_n_init": 2,
    },
    "COPER": {
        "epochs": 3,
        "stage2_epoch": 1,
        "stage3_epoch": 2,
        "batch_size": 30,
        "encoder_widths": [16, 10],
        "head_hidden": 8,
        "validation_every": 1,
    },
}


def tiny_settings(method: str, **changes) -> dict:
    """`method`'s tiny settings with `changes` on top, checked by the method's config class
    (a key it does not have fails here rather than in the run)."""
    from mmcbench.planning import catalogue

    settings = {**TINY[method], **changes}
    catalogue.config_class(method).from_dict(settings)
    return settings


@pytest.fixture(scope="session")
def tiny() -> Callable[..., dict]:
    """tiny(method, **changes): a deep method's tiny settings (see TINY), for --hparams or a
    config section."""
    return tiny_settings


# ------------------------------------------------------------------ Snakemake
def snakemake(repo: Path, workdir: Path, *args: str) -> subprocess.CompletedProcess:
    """Snakemake on the repository's Snakefile in `workdir`, 2 cores, its output captured."""
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "snakemake",
            "-s",
            str(repo / "Snakefile"),
            "--directory",
            str(workdir),
            "--cores",
            "2",
            *args,
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=1200,
    )


def job_counts(stdout: str) -> dict[str, int]:
    """The "Job stats" table of a Snakemake (dry) run: jobs by rule, and their total."""
    counts: dict[str, int] = {}
    in_table = False
    for line in stdout.splitlines():
        parts = line.split()
        if line.startswith("Job stats:"):
            in_table = True
        elif not parts:
            in_table = False
        elif in_table and len(parts) == 2 and parts[1].isdigit():
            counts[parts[0]] = int(parts[1])
    return counts


def write_config(path: Path, base: Path | None = None, **overrides) -> Path:
    """A config file: `base` (a YAML file) with each top-level key of `overrides` set, a
    dict merged one level deep into the base's section."""
    import yaml

    config = yaml.safe_load(base.read_text()) if base else {}
    for key, value in overrides.items():
        if isinstance(value, dict):
            config.setdefault(key, {}).update(value)
        else:
            config[key] = value
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture(scope="session")
def plan(repo, tmp_path_factory) -> Callable[..., subprocess.CompletedProcess]:
    """plan(configfile, *args): Snakemake with `args` (`-n`, `--summary`: a plan, nothing run)
    on a config in an empty folder, made once per session for each config text and args."""
    made: dict[tuple, subprocess.CompletedProcess] = {}

    def planned(configfile: Path, *args: str) -> subprocess.CompletedProcess:
        assert {"-n", "--summary"} & set(args), "a plan is a dry run or a summary"
        key = (Path(configfile).read_text(), args)
        if key not in made:
            workdir = tmp_path_factory.mktemp("plan")
            made[key] = snakemake(repo, workdir, *args, "--configfile", str(configfile))
            assert not (workdir / "results").exists(), "planning wrote results"
        return made[key]

    return planned


# The session's smoke DAG: config/smoke.yaml with the shared dataset mirror, in float64 (the
# schema's precision for checks), so that the packed DAG's runs can be compared with its runs.
SMOKE_OVERRIDES = {"train": {"precision": "float64"}}


@dataclass(frozen=True)
class FinishedDag:
    """A DAG run to its end: its folder, its config file, and what Snakemake printed."""

    workdir: Path
    config: Path
    stdout: str


def listing(folder: Path) -> dict[str, tuple[int, int]]:
    """Every file under `folder` with its size and modification time."""
    return {
        str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in folder.rglob("*")
        if p.is_file()
    }


@pytest.fixture(scope="session")
def smoke_dag(repo, mirror, tmp_path_factory) -> Iterator[FinishedDag]:
    """The smoke DAG, run once per session (tests that use it are marked `dag`). Read it
    only: a test that runs Snakemake in it, or changes a file, takes `smoke_copy`; the folder
    is checked unchanged when the session ends."""
    root = tmp_path_factory.mktemp("smoke_dag")
    config = write_config(
        root / "smoke.yaml",
        base=repo / "config/smoke.yaml",
        data={"mirror": str(mirror)},
        **SMOKE_OVERRIDES,
    )
    workdir = root / "work"
    result = snakemake(repo, workdir, "--configfile", str(config))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    before = listing(workdir)
    yield FinishedDag(workdir, config, result.stdout)
    assert listing(workdir) == before, "a test changed the shared smoke DAG: use smoke_copy"


@pytest.fixture
def smoke_copy(smoke_dag, tmp_path) -> Path:
    """A copy of the finished smoke DAG's folder (times kept: Snakemake sees it finished)."""
    copy = tmp_path / "smoke"
    shutil.copytree(smoke_dag.workdir, copy, symlinks=True)
    return copy


def pytest_collection_modifyitems(items) -> None:
    """A test that uses the session's smoke DAG runs it when it is the first: marked `dag`
    and `slow`, so that `-m "not dag"` leaves the DAG out."""
    for item in items:
        if "smoke_dag" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.dag)
            item.add_marker(pytest.mark.slow)
            item.add_marker(pytest.mark.workflow)
