"""`mmcbench estimate`: runs per rule from the real DAG, device-hours from stored timings."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from benchmark.data.registry import get_dataset
from benchmark.errors import MmcbenchError
from benchmark.runtime import (
    TIMINGS_CSV,
    load_timings,
    seconds_per_epoch,
    slurm_runtime,
)
from tests.test_workflow import (
    planned_baselines,
    planned_runs,
    planned_study,
    planned_training,
    write_config,
)

FIELDS = ["method", "variant", "dataset", "n_samples", "device", "seconds_per_epoch"]


def write_timings(path: Path, rows: list[tuple]) -> Path:
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(FIELDS)
        writer.writerows(rows)
    return path


def row(method: str, variant: str, dataset: str, seconds: float, device: str = "cpu") -> tuple:
    return (method, variant, dataset, get_dataset(dataset).n_samples, device, seconds)


def test_measured_time_is_used_as_is_and_others_are_scaled_by_samples(tmp_path):
    timings = load_timings(
        write_timings(
            tmp_path / "t.csv",
            [row("GIB", "GIB", "mfeat", 12.0), row("GIB", "GIB", "BDGP", 5.0)],
        )
    )
    exact = seconds_per_epoch(timings, "GIB", "GIB", "mfeat", "cpu")
    assert exact.seconds_per_epoch == 12.0 and exact.basis == "measured"
    # mfeat (2,000 × 6 views) and BDGP (2,500 × 2) both cost 1 ms per sample-view and epoch,
    # so ESP-Game's 11,032 samples × 2 views cost 22.064 s.
    scaled = seconds_per_epoch(timings, "GIB", "GIB", "ESP-Game", "cpu")
    assert scaled.seconds_per_epoch == pytest.approx(22.064)
    assert scaled.basis == "scaled by samples × views (2 datasets)"
    fallback = seconds_per_epoch(timings, "GIB", "DDC", "mfeat", "cpu")
    assert fallback.seconds_per_epoch == 12.0 and "GIB's time" in fallback.basis
    assert seconds_per_epoch(timings, "GIB", "GIB", "mfeat", "cuda") is None
    assert seconds_per_epoch(timings, "CLIB", "CLIB", "mfeat", "cpu") is None


def test_stored_timings_cover_both_methods_on_cpu():
    timings = load_timings(TIMINGS_CSV)
    for method in ("GIB", "CLIB"):
        measured = [r for r in timings if r["method"] == method and r["device"] == "cpu"]
        assert measured and all(r["seconds_per_epoch"] > 0 for r in measured)


@pytest.mark.parametrize(
    "content, fragment",
    [(None, "no stored timings"), ("method,dataset\nGIB,mfeat\n", "missing variant")],
)
def test_bad_timings_file_is_named(tmp_path, content, fragment):
    path = tmp_path / "timings.csv"
    if content is not None:
        path.write_text(content)
    with pytest.raises(MmcbenchError, match=fragment) as err:
        load_timings(path)
    assert str(path) in str(err.value)


def test_slurm_runtime_is_a_multiple_of_the_estimate_with_a_floor():
    assert slurm_runtime(10.2, 3, 15, 240) == 31
    assert slurm_runtime(1.0, 3, 15, 240) == 15
    assert slurm_runtime(None, 3, 15, 240) == 240
    assert slurm_runtime(10.2) == 31 and slurm_runtime(1.0) == 5 and slurm_runtime(None) == 240


def estimate(repo: Path, tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "benchmark", "estimate", "--directory", str(tmp_path), *args],
        capture_output=True,
        text=True,
        cwd=repo,
        timeout=300,
    )


@pytest.mark.workflow
def test_estimate_counts_the_dags_runs_and_costs_them(repo, tmp_path):
    config = repo / "config/smoke.yaml"
    smoke = yaml.safe_load(config.read_text())
    # 360 s per epoch on 3-sources; NGs scaled by samples × views; CLIB's ablations as CLIB.
    timings = write_timings(
        tmp_path / "t.csv",
        [row("GIB", "GIB", "3-sources", 360.0), row("CLIB", "CLIB", "3-sources", 360.0)],
    )
    done = estimate(
        repo,
        tmp_path,
        "--configfile",
        str(config),
        "--timings",
        str(timings),
    )
    assert done.returncode == 0, done.stderr
    deep, baselines = planned_training(smoke), planned_baselines(smoke)
    points = planned_study(smoke)  # the study's changed points; its defaults are table runs
    assert f"rule train: {deep} runs, {deep} still to run" in done.stdout
    assert f"rule train_point: {len(points)} runs, {len(points)} still to run" in done.stdout
    assert f"rule baseline: {baselines} runs" in done.stdout
    size = {d: get_dataset(d).n_samples * len(get_dataset(d).views) for d in ("3-sources", "NGs")}
    scale = {d: size[d] / size["3-sources"] for d in size}
    costed = [(method, dataset) for method, dataset, *_ in [*planned_runs(smoke), *points]]
    hours = sum(smoke[m.lower()]["epochs"] * 360 * scale[d] / 3600 for m, d in costed)
    assert f"estimated {hours:.1f} CPU-hours" in done.stdout
    # The longest run and what the SLURM profiles ask for it (3 ×, at least 5 min).
    longest = max(smoke[m.lower()]["epochs"] * 360 * scale[d] / 60 for m, d in costed)
    assert f"{longest:.1f} min; the SLURM profiles ask {slurm_runtime(longest)} min" in done.stdout


@pytest.mark.workflow
def test_estimate_of_the_paper_config_counts_every_planned_run(repo, tmp_path):
    done = estimate(repo, tmp_path, "--configfile", str(repo / "config/config.yaml"))
    assert done.returncode == 0, done.stderr
    paper = yaml.safe_load((repo / "config/config.yaml").read_text())
    assert f"rule train: {planned_training(paper)} runs" in done.stdout
    assert f"rule train_point: {len(planned_study(paper))} runs" in done.stdout
    assert "CPU-hours" in done.stdout and "not costed" not in done.stdout


def test_estimate_names_a_missing_config_file(repo, tmp_path):
    done = estimate(repo, tmp_path, "--configfile", str(tmp_path / "nope.yaml"))
    assert done.returncode == 2 and "nope.yaml: no such config file" in done.stderr


def test_a_study_point_path_is_a_deep_run_of_its_method_dataset_and_variant():
    from benchmark.estimate import DEEP_RUN

    point = DEEP_RUN.match("results/runs/GIB/mfeat/DDC/a0.5_b0.5/grad_clip=null/seed2.json")
    assert point and point["method"] == "GIB" and point["variant"] == "DDC"
    assert point["point"] == "grad_clip=null" and point["seed"] == "2"
    plain = DEEP_RUN.match("results/runs/CLIB/NGs/CLIB/a1_b0.5/seed0.json")
    assert plain and plain["point"] is None and plain["alpha"] == "1"
    assert DEEP_RUN.match("results/runs/KM/NGs/view0/seed0.json") is None


@pytest.mark.workflow
def test_estimate_counts_packed_runs_as_runs_and_prices_batched_packs(repo, tmp_path):
    """With train.pack_size the DAG's pack rules make the same records: the estimate counts
    them as the one-run rules' and prices them with the stored batched speed-up."""
    config = write_config(
        tmp_path / "packed.yaml", base=repo / "config/smoke.yaml", train={"pack_size": 2}
    )
    smoke = yaml.safe_load((repo / "config/smoke.yaml").read_text())
    timings = write_timings(
        tmp_path / "t.csv",
        [row("GIB", "GIB", "3-sources", 360.0), row("CLIB", "CLIB", "3-sources", 360.0)],
    )
    packing = tmp_path / "packing.csv"
    packing.write_text(
        "way,method,variant,dataset,runs,epochs,slots,device,wall_s,runs_per_hour,ratio,date\n"
        "one process per run,GIB,GIB,mfeat,4,2,2,cpu,10,1440,1.0,2026-11-26\n"
        "batched pack K=4,GIB,GIB,mfeat,4,2,2,cpu,5,2880,2.0,2026-11-26\n"
        "batched pack K=16,GIB,GIB,mfeat,16,2,2,cpu,40,1440,1.0,2026-11-26\n"
    )
    args = ["--configfile", str(config), "--timings", str(timings), "--packing", str(packing)]
    done = estimate(repo, tmp_path, *args)
    assert done.returncode == 0, done.stderr
    deep = planned_training(smoke)
    assert f"rule train: {deep} runs, {deep} still to run" in done.stdout
    assert "batched packs: GIB:" in done.stdout and "×2.00 with K = 4" in done.stdout
    assert "batched packs: CLIB: no cpu measurement stored" in done.stdout
    none = estimate(repo, tmp_path, *args[:4], "--packing", str(tmp_path / "absent.csv"))
    assert "batched packs: no cpu measurement stored" in none.stdout
