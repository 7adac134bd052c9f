"""The SLURM profiles: their shape, and the smoke DAG run to completion under a real SLURM.

The real run starts a single-node SLURM on localhost (tests/slurm/start_local_slurm.sh: Debian's
slurm-wlm and munge, installed when missing; needs root) and runs the smoke DAG with the
shipped profile, changed only where a one-node cluster without accounting needs it, up to
SLURM_TARGETS: every job SLURM runs, and the tables; the figures that only local rules draw are
the local smoke DAG's (tests/test_workflow.py). It changes
the machine (system packages, /etc/slurm, a munge key), so it runs only when asked:
MMCBENCH_SLURM_TEST=1 (CI sets it); the daemons it started are stopped when it ends.
"""

from __future__ import annotations

import math
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

from mmcbench.runs import records
from tests.test_workflow import job_counts, planned_points, planned_training, write_config

PROFILES = ("slurm", "slurm-gres")
LOCAL_RULES = (
    "fetch",
    "convert",
    "aggregate",
    "table",
    "reliability",
    "grid_summary",
    "grid_figure",
    "convergence_figure",
    "dynamics_figure",
    "tsne_figure",
    "paper_vs_reproduced",
)


# The real-SLURM run's targets: what the rules that SLURM runs make (baseline, train and its
# packs, tsne) and the tables built from it; test_slurm_targets_plan_every_job_slurm_runs
# checks that they ask for every such job of the smoke DAG.
SLURM_TARGETS = [
    "results/runs.csv",
    "results/grid.csv",
    "results/resolutions.csv",
    "results/tables/table1.md",
    "figures/paper_vs_reproduced.png",
    *(f"results/tsne/{m}_{d}.csv" for m in ("GIB", "CLIB") for d in ("3-sources", "NGs")),
]


def profile(repo: Path, name: str) -> dict:
    return yaml.safe_load((repo / "workflow/profiles" / name / "config.yaml").read_text())


def rule_blocks(repo: Path) -> dict[str, str]:
    """Each rule's text in the workflow's rule files, by rule name."""
    blocks = {}
    for path in (repo / "workflow/rules").glob("*.smk"):
        for match in re.finditer(
            r"^rule (\w+):\n(.*?)(?=^rule |\Z)", path.read_text(), re.M | re.S
        ):
            blocks[match[1]] = match[2]
    return blocks


@pytest.mark.parametrize("name", PROFILES)
def test_profile_packs_training_and_keeps_data_and_rendering_local(repo, name):
    config = profile(repo, name)
    assert config["executor"] == "slurm"
    groups = dict(item.split("=") for item in config["group-components"])
    assert int(groups["train"]) > 1 and int(groups["baseline"]) > 1
    blocks = rule_blocks(repo)
    assert 'group:\n        "train"' in blocks["train"]
    assert 'group:\n        "baseline"' in blocks["baseline"]
    for rule in LOCAL_RULES:
        assert "localrule: True" in blocks[rule], rule
    for rule in ("train", "baseline", "tsne"):
        assert "localrule" not in blocks[rule], rule
    assert set(config["set-resources"]) <= set(blocks)
    for key in ("runtime", "mem_mb", "cpus_per_task"):
        assert key in config["default-resources"]
    # The plugin runs a pack's runs in series: one run's GPU per pack, runs laid in series.
    assert config["cores"] == 1
    # A baseline pack asks for the sum of its runtimes: keep it within 4 h.
    baseline_minutes = config["set-resources"]["baseline"]["runtime"] * int(groups["baseline"])
    assert baseline_minutes <= 4 * 60


def test_gpu_and_gres_profiles_differ_only_in_how_they_ask_for_the_gpu(repo):
    gpus, gres = profile(repo, "slurm"), profile(repo, "slurm-gres")
    assert gpus["set-resources"]["train"].pop("gpu") == 1
    assert gres["set-resources"]["train"].pop("gres") == "gpu:1"
    assert gpus == gres


def test_train_runtime_comes_from_the_stored_timings():
    """The train rule asks SLURM for 3 × the run's estimate (at least 5 min), not a flat 4 h."""
    from mmcbench.planning.runtime import run_minutes, slurm_runtime

    minutes = run_minutes("GIB", "GIB", "mfeat", 100)
    assert minutes is not None and 0 < minutes < 60
    assert slurm_runtime(minutes, 3, 5, 240) == max(5, math.ceil(3 * minutes))
    assert slurm_runtime(None, 3, 5, 240) == 240


OPT_IN = "MMCBENCH_SLURM_TEST"  # the real-SLURM test changes the machine: it runs when set to 1
DAEMONS = ("slurmctld", "slurmd", "munged")


def running(daemon: str) -> bool:
    return subprocess.run(["pgrep", "-x", daemon], capture_output=True).returncode == 0


@pytest.fixture
def local_slurm(repo: Path):
    """A one-node SLURM for the test (started, or the test skipped with why); the daemons the
    test started are stopped after it, those it found running are left as they were."""
    if os.environ.get(OPT_IN) != "1":
        pytest.skip(
            f"the real-SLURM test installs Debian's slurm-wlm and munge, writes /etc/slurm and a "
            f"munge key and starts daemons: it runs only with {OPT_IN}=1 (CI sets it)"
        )
    before = {daemon: running(daemon) for daemon in DAEMONS}
    try:
        start_local_slurm(repo)
        yield
    finally:
        started = [d for d, was_running in before.items() if not was_running and running(d)]
        for daemon in started:
            subprocess.run(["pkill", "-x", daemon], capture_output=True)
        for _ in range(60):  # until they have exited (SIGTERM: they shut down first)
            if not any(running(daemon) for daemon in started):
                break
            time.sleep(0.5)


def start_local_slurm(repo: Path) -> None:
    """Start the one-node SLURM, or skip the test with the error seen."""
    if shutil.which("sinfo") is None and os.geteuid() != 0:
        pytest.skip("no SLURM here and not root: cannot install and start a local SLURM")
    started = subprocess.run(
        ["bash", str(repo / "tests/slurm/start_local_slurm.sh")],
        capture_output=True,
        text=True,
        timeout=900,
    )
    if started.returncode != 0:
        error = (started.stdout + started.stderr).strip()[-2000:]
        print(f"local SLURM did not start:\n{error}")
        pytest.skip(f"local SLURM did not start: {error}")


def local_profile(repo: Path, folder: Path) -> Path:
    """The shipped GPU profile, with what a one-node cluster without accounting needs."""
    config = profile(repo, "slurm")
    config.update(
        {
            "slurm-status-command": "squeue",  # no accounting database: sacct cannot answer
            "slurm-no-account": True,
            "slurm-init-seconds-before-status-checks": 5,
            "latency-wait": 5,
        }
    )
    folder.mkdir(parents=True)
    (folder / "config.yaml").write_text(yaml.safe_dump(config))
    return folder


def job_tres(job_id: str) -> str:
    shown = subprocess.run(["scontrol", "show", "job", job_id], capture_output=True, text=True)
    return shown.stdout


def deep_records(workdir: Path) -> list[Path]:
    """The record of every GIB and CLIB run (table runs, grid and study points) under a work
    dir: the runs with an (α, β) part in their path."""
    runs = (workdir / "results/runs").rglob("seed*.json")
    return sorted(p for p in runs if re.search(r"/a[0-9.]+_b[0-9.]+/", str(p)))


@pytest.mark.workflow
def test_slurm_targets_plan_every_job_slurm_runs(repo, plan):
    """SLURM_TARGETS plan every job of the smoke DAG that is no local rule (a rule without
    `localrule: True`: baselines, training, t-SNE), and the tables its assertions read."""
    smoke = repo / "config/smoke.yaml"
    whole, targeted = (
        job_counts(plan(smoke, "-n").stdout),
        job_counts(plan(smoke, "-n", *SLURM_TARGETS).stdout),
    )
    blocks = rule_blocks(repo)
    rules = set(whole) - {"all", "total"}
    remote = {r for r in rules if "localrule: True" not in blocks.get(r, "")}
    assert {"baseline", "train", "train_point", "tsne"} <= remote
    assert {r: targeted.get(r) for r in remote} == {r: whole[r] for r in remote}
    assert targeted["table"] >= 1 and targeted["paper_vs_reproduced"] == 1


@pytest.mark.workflow
@pytest.mark.dag
@pytest.mark.slow
def test_smoke_dag_runs_to_completion_under_a_real_slurm(repo, tmp_path, local_slurm, mirror):
    config = write_config(
        tmp_path / "smoke.yaml", base=repo / "config/smoke.yaml", data={"mirror": str(mirror)}
    )
    workdir = tmp_path / "work"
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    command = [sys.executable, "-m", "snakemake", "-s", str(repo / "Snakefile")]
    command += ["-d", str(workdir), *SLURM_TARGETS, "--configfile", str(config)]
    command += ["--profile", str(local_profile(repo, tmp_path / "profile"))]
    result = subprocess.run(
        command,
        capture_output=True,
        text=True,
        env=env,
        timeout=2400,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]

    runs = pd.read_csv(workdir / "results/runs.csv", dtype={"slurm_job_id": str})
    assert set(runs["status"]) == {"done"}
    # Every run record says which SLURM job it ran in.
    assert runs["slurm_job_id"].notna().all()
    # runs.csv holds the table runs; grid and study points are only in their records.
    deep = {path: records.read(path)["environment"] for path in deep_records(workdir)}
    smoke = yaml.safe_load(config.read_text())
    assert len(deep) == planned_training(smoke) + len(planned_points(smoke))
    # Packed: far fewer SLURM jobs than runs, each pack with one GPU.
    pack = int(dict(i.split("=") for i in profile(repo, "slurm")["group-components"])["train"])
    packs = {env["slurm_job_id"] for env in deep.values()}
    assert None not in packs
    assert len(packs) == math.ceil(len(deep) / pack)
    for job_id in packs:
        # Asked for (TresPerJob=gres:gpu:1) and, while the job runs, allocated (gres/gpu=1).
        shown = job_tres(job_id)
        assert re.search(r"gres[:/]gpu[:=]1\b", shown), shown
    for path, env in deep.items():
        assert env["cuda_visible_devices"] is not None, path
    baselines = runs[~runs["method"].isin(["GIB", "CLIB"])].drop_duplicates(
        ["method", "dataset", "variant", "seed"]
    )
    assert baselines["slurm_job_id"].nunique() < len(baselines)
    for path in ("results/tables/table1.md", "figures/paper_vs_reproduced.png"):
        assert (workdir / path).stat().st_size > 0


def test_the_real_slurm_test_changes_nothing_unless_asked(repo):
    """Without MMCBENCH_SLURM_TEST=1 the test is skipped, saying why, before it installs,
    writes or starts anything."""
    env = {k: v for k, v in os.environ.items() if k != OPT_IN}
    before = {daemon: running(daemon) for daemon in DAEMONS}
    test = f"{repo}/tests/test_slurm.py::test_smoke_dag_runs_to_completion_under_a_real_slurm"
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", test],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:]
    assert "1 skipped" in result.stdout and f"{OPT_IN}=1" in result.stdout
    started = [d for d in DAEMONS if running(d) and not before[d]]
    assert not started, f"started without being asked: {started}"
