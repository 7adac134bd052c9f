"""The DAG never loses what a user has: growing the seeds keeps finished runs of a pack, a
device that is not there is refused before anything is removed, a bad record leaves the
previous summaries in place, and a manual folder with a space reaches fetch whole."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from tests.test_workflow import snakemake

# Every test reads `finished`, a DAG of about 20 s.
pytestmark = [pytest.mark.workflow, pytest.mark.dag, pytest.mark.slow]

CONFIG = {
    "datasets": ["mfeat"],
    "seeds": 3,
    "baselines": {"methods": ["AmKM"], "n_init": 2},
    "gib": {
        "variants": ["GIB"],
        "epochs": 1,
        "embeddings_at": [0, 1],
        "encoder_hidden": [32],
        "latent_dim": 8,
        "head_hidden": 8,
        "grid": {"alphas": [0.5], "betas": [0.5], "seeds": 0},
        "device": "cpu",
    },
    "clib": {"variants": [], "grid": {"alphas": [0.5], "betas": [0.5], "seeds": 0}},
    "resolution": {"seeds": 0},
    "train": {"pack_size": 2},
    "data": {"offline": True, "manual_dir": "resources/manual folder"},
}
TARGET = "results/summary.csv"
GIB = "results/runs/GIB/mfeat/GIB/a0.5_b0.5"


def run(workdir: Path, config: dict, *args: str):
    path = workdir / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return snakemake(
        Path(__file__).resolve().parent.parent, workdir, TARGET, *args, "--configfile", str(path)
    )


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """A folder whose DAG has run: 3 GIB seeds in packs 0-1 and 2-2, AmKM, the summaries."""
    workdir = tmp_path_factory.mktemp("finished")
    result = run(workdir, CONFIG)
    assert result.returncode == 0, result.stderr[-3000:]
    return workdir


@pytest.fixture
def workdir(finished, tmp_path):
    copy = tmp_path / "work"
    shutil.copytree(finished, copy, symlinks=True)
    return copy


def contents(workdir: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(workdir)): p.read_bytes()
        for p in sorted((workdir / "results").rglob("*"))
        if p.is_file()
    }


def test_the_manual_folder_with_a_space_reached_fetch(finished):
    log = (finished / "logs/fetch/mfeat.log").read_text()
    assert "unrecognized arguments" not in log
    assert (finished / "resources/raw/mfeat/manifest.json").is_file()


def test_adding_seeds_keeps_the_finished_runs_of_a_growing_pack(workdir):
    before = contents(workdir)
    result = run(workdir, {**CONFIG, "seeds": 4})
    assert result.returncode == 0, result.stderr[-3000:]
    assert "train_pack_2_3" in result.stderr
    after = contents(workdir)
    for seed in (0, 1, 2):
        for suffix in (".json", ".history.csv", ".embeddings.npz"):
            name = f"{GIB}/seed{seed}{suffix}"
            assert after[name] == before[name], f"{name} was retrained or replaced"
    assert f"{GIB}/seed3.json" in after
    log = (workdir / "logs/runs/GIB/mfeat/GIB/a0.5_b0.5/pack2-3.log").read_text()
    assert "kept" in log and "seed2.json" in log


def test_changing_the_device_reruns_no_finished_run(workdir):
    result = run(workdir, {**CONFIG, "gib": {**CONFIG["gib"], "device": "auto"}}, "-n")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Nothing to be done" in result.stdout + result.stderr


def test_a_device_that_is_not_there_is_refused_before_anything_is_removed(workdir):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    before = contents(workdir)
    # A new seed makes a pack to run (with nothing to run, nothing would be checked or done).
    result = run(workdir, {**CONFIG, "seeds": 4, "gib": {**CONFIG["gib"], "device": "cuda"}})
    assert result.returncode != 0
    assert "gib.device = cuda" in result.stderr
    assert "Traceback" not in result.stderr
    assert contents(workdir) == before


def test_a_bad_record_leaves_the_previous_summaries(workdir):
    before = contents(workdir)
    record = workdir / "results/runs/AmKM/mfeat/all/seed1.json"
    record.write_text(record.read_text()[:200])  # truncated
    result = run(workdir, CONFIG)
    assert result.returncode != 0
    assert "mmcbench aggregate: error: 1 run record(s) cannot be aggregated" in result.stderr
    assert str(Path("results/runs/AmKM/mfeat/all/seed1.json")) in result.stderr
    assert "Traceback" not in result.stderr
    for name in ("results/runs.csv", "results/summary.csv"):
        assert (workdir / name).read_bytes() == before[name], f"{name} was removed or changed"
