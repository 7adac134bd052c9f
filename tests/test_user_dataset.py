"""A user's own dataset (config `user_datasets`): registration, fetch and conversion through the
same checks as every dataset, one clear error per mistake, and the workflow planning its runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
import scipy.io
import yaml

from mmcbench.core.errors import ConfigError, DataError
from mmcbench.data.convert import convert_from_manifest
from mmcbench.data.fetch import FetchOptions, fetch_group, sha256sum
from mmcbench.data.load import load_hdf5
from mmcbench.data.registry import USER_DATASETS_VARIABLE, dataset_names, get_dataset
from mmcbench.data.user import register
from mmcbench.planning.config import check_config, load_schema
from tests.conftest import write_mat73

N, K = 12, 3
LABELS = np.repeat([2, 5, 9], N // K)  # any integer coding
RNG = np.random.default_rng(0)
X1, X2 = RNG.random((N, 4)), RNG.random((N, 6))


@pytest.fixture
def workdir(tmp_path, monkeypatch) -> Path:
    """A working directory of its own; the registration's variable restored afterwards."""
    monkeypatch.setenv(USER_DATASETS_VARIABLE, "")  # recorded, so that teardown restores it
    monkeypatch.delenv(USER_DATASETS_VARIABLE)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def entry(path: str = "data/mine.mat", **changes) -> dict:
    settings = {
        "path": path,
        "views": ["X1", "X2"],
        "labels": "Y",
        "n_samples": N,
        "k": K,
        "view_names": ["colour", "shape"],
    }
    settings.update(changes)
    return {key: value for key, value in settings.items() if value is not None}


def write_mat(path: Path, **variables) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    scipy.io.savemat(path, variables or {"X1": X1, "X2": X2, "Y": LABELS[:, None]})
    return path


def fetch_and_convert(name: str, workdir: Path) -> Path:
    manifest = fetch_group(get_dataset(name).group, FetchOptions(raw_dir=workdir / "raw"))
    out = workdir / "resources" / "hdf5" / f"{name}.h5"
    convert_from_manifest(name, manifest, out)
    return out


# ------------------------------------------------------------------------ registration


def test_registration_makes_a_registry_entry(workdir):
    write_mat(workdir / "data/mine.mat")
    [mine] = register({"Mine": entry()})
    assert get_dataset("Mine") == mine
    assert dataset_names()[-1] == "Mine"
    assert (mine.n_samples, mine.n_clusters, mine.user) == (N, K, True)
    assert [v.name for v in mine.views] == ["colour", "shape"]
    assert mine.files[0].name == str(workdir / "data/mine.mat")  # absolute, from the workdir
    assert register({}) == [] and "Mine" not in dataset_names()


def test_jobs_started_after_registration_know_the_dataset(workdir):
    """`mmcbench fetch` and `convert` run as Snakemake's jobs: they inherit the variable."""
    write_mat(workdir / "data/mine.mat")
    register({"Mine": entry()})
    code = "from mmcbench.data.registry import get_dataset as g; d = g('Mine'); print(d.views)"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    assert "colour" in done.stdout and "shape" in done.stdout


# ------------------------------------------------------------------------ conversion


def test_mat_v5_converts_like_every_dataset_and_the_file_is_left_alone(workdir):
    source = write_mat(workdir / "data/mine.mat")
    before = sha256sum(source)
    register({"Mine": entry()})
    data = load_hdf5(fetch_and_convert("Mine", workdir))
    assert data.view_names == ["colour", "shape"]
    np.testing.assert_allclose(data.views[0], X1.astype(np.float32))
    np.testing.assert_allclose(data.views[1], X2.astype(np.float32))
    assert sorted(set(data.labels.tolist())) == [0, 1, 2]
    assert sha256sum(source) == before
    assert sorted(p.name for p in (workdir / "raw" / "Mine").iterdir()) == ["manifest.json"]
    manifest = json.loads((workdir / "raw/Mine/manifest.json").read_text())
    assert manifest["files"][str(source)]["origin"] == f"user:{source}"


def test_hdf5_file_with_paths_and_features_first_layout(workdir):
    path = workdir / "mine.h5"
    with h5py.File(path, "w") as fh:
        fh["views/0"] = X1.T
        fh["views/1"] = X2.T
        fh["truth"] = LABELS
    register(
        {
            "H": entry(
                "mine.h5", views=["views/0", "views/1"], labels="truth", layout="features_first"
            )
        }
    )
    data = load_hdf5(fetch_and_convert("H", workdir))
    assert [v.shape for v in data.views] == [(N, 4), (N, 6)]
    np.testing.assert_allclose(data.views[1], X2.astype(np.float32))


def test_mat_v73_and_cell_array_keys(workdir):
    write_mat73(workdir / "v73.mat", {"X1": X1, "X2": X2, "Y": LABELS[:, None].astype(float)})
    cells = np.empty((1, 2), dtype=object)  # a 1 × 2 MATLAB cell array
    cells[0, 0], cells[0, 1] = X1, X2
    write_mat(workdir / "cells.mat", X=cells, Y=LABELS[:, None])
    register(
        {
            "V73": entry("v73.mat"),
            "Cells": entry("cells.mat", views=["X{2}", "X{1}"], view_names=None),
        }
    )
    v73 = load_hdf5(fetch_and_convert("V73", workdir))
    np.testing.assert_allclose(v73.views[0], X1.astype(np.float32))
    from_cells = load_hdf5(fetch_and_convert("Cells", workdir))
    assert from_cells.view_names == ["view1", "view2"]
    np.testing.assert_allclose(from_cells.views[0], X2.astype(np.float32))


# ------------------------------------------------------------------------ one error per mistake


@pytest.mark.parametrize(
    ("name", "changes", "expected"),
    [
        ("Mine", {"path": "data/absent.mat"}, r"user_datasets.Mine.path': \S*absent.mat does not"),
        ("Mine", {"path": "data/mine.csv"}, r"not a \.mat, \.h5 or \.hdf5 file"),
        ("Mine", {"k": 13}, r"user_datasets.Mine.k'.*from 2 to n_samples, got 13"),
        ("Mine", {"n_samples": "twelve"}, r"n_samples'.*whole number"),
        ("Mine", {"labels": None}, r"user_datasets.Mine.labels': required setting missing"),
        ("Mine", {"view_names": ["one"]}, r"view_names'.*expected 2 distinct names"),
        ("Mine", {"layout": "rows"}, r"layout'.*not one of samples_first, features_first"),
        ("Mine", {"sha256": "abc"}, r"sha256'.*64 lowercase hex"),
        ("Mine", {"labesl": "Y"}, r"user_datasets.Mine.labesl': unknown setting; allowed: path"),
        ("Caltech-2V", {}, r"'Caltech-2V' is a built-in dataset"),
        ("Caltech-5V", {}, r"raw-file group"),
        ("my data", {}, r"not a usable dataset name"),
        ("Mine", {"path": "resources/hdf5/Mine.mat"}, r"inside resources/hdf5/"),
    ],
)
def test_config_mistakes_are_clear_errors(workdir, name, changes, expected):
    write_mat(workdir / "data/mine.mat")
    write_mat(workdir / "resources/hdf5/Mine.mat")
    with pytest.raises(ConfigError, match=expected) as caught:
        register({name: entry(**changes)}, "config file: mine.yaml")
    assert "Invalid configuration (config file: mine.yaml)" in str(caught.value)
    assert USER_DATASETS_VARIABLE not in os.environ  # nothing registered


@pytest.mark.parametrize(
    ("variables", "changes", "expected"),
    [
        (None, {"views": ["X1", "X3"]}, r"no variable 'X3' \(the file has \['X1', 'X2', 'Y'\]\)"),
        (
            None,
            {"k": 4},
            r"3 distinct labels, but the config \(user_datasets.Mine\) says Mine has 4",
        ),
        (None, {"n_samples": 11}, r"has 12 samples .* says Mine has 11 samples in every view"),
        ({"X1": X1, "X2": X2[:-1], "Y": LABELS}, {}, r"'X2'.*has 11 samples"),
        ({"X1": np.where(X1 > 0.9, np.nan, X1), "X2": X2, "Y": LABELS}, {}, r"'X1'.*NaN"),
        ({"X1": X1, "X2": X2, "Y": LABELS + 0.5}, {}, r"labels must be integers"),
        ({"X1": X1, "X2": X2, "Y": np.ones((N, 2))}, {}, r"expected a label vector"),
    ],
)
def test_file_mistakes_are_clear_errors_and_write_nothing(workdir, variables, changes, expected):
    write_mat(workdir / "data/mine.mat", **(variables or {}))
    register({"Mine": entry(**changes)})
    with pytest.raises(DataError, match=expected) as caught:
        fetch_and_convert("Mine", workdir)
    message = str(caught.value)
    assert "mine.mat" in message and "user_datasets.Mine in the config" in message
    assert not (workdir / "resources/hdf5/Mine.h5").exists()


def test_a_pinned_sha256_refuses_a_changed_file_and_leaves_it(workdir):
    source = write_mat(workdir / "data/mine.mat")
    register({"Mine": entry(sha256="0" * 64)})
    with pytest.raises(DataError, match=r"mine.mat .* has sha256 \w+, but user_datasets.Mine"):
        fetch_and_convert("Mine", workdir)
    assert source.is_file()
    register({"Mine": entry(sha256=sha256sum(source))})
    assert fetch_and_convert("Mine", workdir).is_file()


def test_an_unreadable_file_is_refused_at_fetch(workdir):
    (workdir / "data").mkdir()
    (workdir / "data/mine.mat").write_bytes(b"not a MATLAB file")
    register({"Mine": entry()})
    with pytest.raises(DataError, match=r"mine.mat \(the file of user_datasets.Mine .* cannot be"):
        fetch_and_convert("Mine", workdir)


# ------------------------------------------------------------------------ the config


def test_the_config_check_registers_and_names_its_datasets(workdir):
    write_mat(workdir / "data/mine.mat")
    schema = load_schema(
        Path(__file__).resolve().parents[1] / "workflow/schemas/config.schema.yaml"
    )
    check_config({"datasets": ["Mine"], "user_datasets": {"Mine": entry()}}, schema)
    assert get_dataset("Mine").n_clusters == K
    with pytest.raises(ConfigError, match=r"user_datasets.Mine.k"):
        check_config({"datasets": ["Mine"], "user_datasets": {"Mine": entry(k="three")}}, schema)
    with pytest.raises(ConfigError, match=r"unknown dataset 'Mine'"):
        check_config({"datasets": ["Mine"]}, schema)


@pytest.mark.workflow
def test_a_dry_run_plans_the_user_datasets_jobs(workdir):
    repo = Path(__file__).resolve().parents[1]
    write_mat(workdir / "data/mine.mat")
    config = yaml.safe_load((repo / "config/demo.yaml").read_text())
    config.update(
        datasets=["Mine"],
        user_datasets={"Mine": entry()},
        seeds=2,
        baselines={"methods": ["AmKM"]},
        resolution={"seeds": 0},
        figures={"tsne_max_samples": 12},
    )
    config["gib"].update(variants=["GIB"], grid={"seeds": 0})
    config["clib"].update(variants=[], grid={"seeds": 0})
    for section in ("simvc", "comvc", "mflvc"):
        config[section] = {"variants": []}
    (workdir / "mine.yaml").write_text(yaml.safe_dump(config))
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    args = ["-s", str(repo / "Snakefile"), "-d", str(workdir), "--configfile", "mine.yaml"]
    done = subprocess.run(
        [sys.executable, "-m", "snakemake", *args, "-n", "--cores", "1"],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    out = done.stdout + done.stderr
    assert done.returncode == 0, out
    assert "resources/raw/Mine/manifest.json" in out and "resources/hdf5/Mine.h5" in out
    assert "GIB GIB on Mine, α = 0.5, β = 0.5, seed 1" in out
    assert USER_DATASETS_VARIABLE not in os.environ  # the dry run registered in its own process
