"""`mmcbench estimate`: runs per rule from the workflow's plan, device-hours from stored
timings."""

from __future__ import annotations

import csv
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from mmcbench.core.errors import MmcbenchError
from mmcbench.data.registry import get_dataset
from mmcbench.planning.runtime import (
    TIMINGS_CSV,
    load_timings,
    seconds_per_epoch,
    slurm_runtime,
)
from tests.test_workflow import (
    planned_baselines,
    planned_points,
    planned_runs,
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
    [
        (None, "no stored timings"),
        ("method,dataset\nGIB,mfeat\n", "missing variant"),
        (b"\x89PNG\r\n\x1a\n\xff\xfe garbage", "not a readable CSV file (UnicodeDecodeError"),
        (f"{','.join(FIELDS)}\nGIB,GIB\n", "line 2 does not have the 6 fields of the header"),
        (f"{','.join(FIELDS)}\nGIB,GIB,mfeat,2000,cpu,-1\n", "bad number on line 2"),
        ("", "the file is empty"),
    ],
)
def test_bad_timings_file_is_named(tmp_path, content, fragment):
    path = tmp_path / "timings.csv"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content)
    with pytest.raises(MmcbenchError, match=re.escape(fragment)) as err:
        load_timings(path)
    assert str(path) in str(err.value)


def test_slurm_runtime_is_a_multiple_of_the_estimate_with_a_floor():
    assert slurm_runtime(10.2, 3, 15, 240) == 31
    assert slurm_runtime(1.0, 3, 15, 240) == 15
    assert slurm_runtime(None, 3, 15, 240) == 240
    assert slurm_runtime(10.2) == 31 and slurm_runtime(1.0) == 5 and slurm_runtime(None) == 240


def estimate(repo: Path, tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "mmcbench", "estimate", "--directory", str(tmp_path), *args],
        capture_output=True,
        text=True,
        cwd=repo,
        timeout=300,
    )


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
    points = planned_points(smoke)  # study points and readings; the study's defaults are table runs
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


@pytest.mark.slow
def test_estimate_of_the_paper_config_counts_every_planned_run(repo, tmp_path):
    done = estimate(repo, tmp_path, "--configfile", str(repo / "config/config.yaml"))
    assert done.returncode == 0, done.stderr
    paper = yaml.safe_load((repo / "config/config.yaml").read_text())
    assert f"rule train: {planned_training(paper)} runs" in done.stdout
    assert f"rule train_point: {len(planned_points(paper))} runs" in done.stdout
    assert "CPU-hours" in done.stdout and "not costed" not in done.stdout


def test_estimate_names_a_missing_config_file(repo, tmp_path):
    done = estimate(repo, tmp_path, "--configfile", str(tmp_path / "nope.yaml"))
    assert done.returncode == 2 and "nope.yaml: no such config file" in done.stderr


def test_a_study_point_path_is_a_deep_run_of_its_method_dataset_and_variant():
    from mmcbench.planning.run_paths import parse_run_path

    point = parse_run_path("r/GIB/mfeat/DDC/a0.5_b0.5/grad_clip=null/seed2.json", "r")
    assert point and point.method == "GIB" and point.variant == "DDC"
    assert (point.key, point.value, point.seed) == ("grad_clip", None, 2)
    plain = parse_run_path("r/CLIB/NGs/CLIB/a1_b0.5/seed0.json", "r")
    assert plain and plain.key is None and plain.alpha == 1.0
    baseline = parse_run_path("r/KM/NGs/view0/seed0.json", "r")
    assert baseline and baseline.alpha is None
    assert parse_run_path("r/KM/NGs/view0/seed0-old.json", "r") is None


@pytest.mark.slow
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
    assert "batched packs: CLIB: no cpu measurement of a batched pack stored" in done.stdout
    no_rows = tmp_path / "no-rows.csv"
    no_rows.write_text(packing.read_text().splitlines()[0] + "\n")
    none = estimate(repo, tmp_path, *args[:4], "--packing", str(no_rows))
    assert "batched packs: no cpu measurement stored" in none.stdout


PACKING_HEADER = (
    "way,method,variant,dataset,runs,epochs,slots,device,wall_s,runs_per_hour,ratio,date"
)


@pytest.mark.parametrize(
    "content, fragment",
    [
        ("hello world\n", "missing way, method"),
        (b"\x00\xff\xfe\x00 not text", "not a readable CSV file"),
        ("", "the file is empty"),
        (f"{PACKING_HEADER}\nbatched pack K=4,GIB\n", "line 2 does not have the 12 fields"),
        (
            f"{PACKING_HEADER}\nbatched pack K=x,GIB,GIB,mfeat,4,2,2,cpu,5,2880,2.0,2026-11-26\n",
            "line 2: invalid literal for int()",
        ),
        (
            f"{PACKING_HEADER}\nbatched pack K=4,GIB,GIB,mfeat,4,2,2,cpu,5,2880,0,2026-11-26\n",
            "line 2: ratio 0 is not a positive number",
        ),
    ],
)
def test_a_garbage_packing_csv_is_refused_not_read_as_no_measurement(tmp_path, content, fragment):
    from mmcbench.planning.runtime import load_packing

    path = tmp_path / "packing.csv"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    with pytest.raises(MmcbenchError, match=re.escape(fragment)) as err:
        load_packing(path)
    assert str(path) in str(err.value)


def test_a_packing_csv_named_but_absent_is_refused_the_default_absent_is_none(tmp_path):
    from mmcbench.planning.runtime import load_packing

    absent = tmp_path / "absent.csv"
    assert load_packing(absent) == []  # the stored default not there: no measurement
    with pytest.raises(MmcbenchError, match=f"--packing {re.escape(str(absent))} does not exist"):
        load_packing(absent, required=True)
    with pytest.raises(MmcbenchError, match="is a folder"):
        load_packing(tmp_path, required=True)


@pytest.fixture
def no_planning(monkeypatch):
    """Replace the plan by a fixed one; record which Snakefile and folder it was asked for
    (empty: never called)."""
    from mmcbench.planning import estimate as module

    asked = {}

    def planned(config, directory, snakefile, configfiles):
        asked.update(snakefile=Path(snakefile), directory=Path(directory))
        return [
            module.PlannedRun("train", "GIB", "mfeat", "GIB", pending=True),
            module.PlannedRun("train", "CLIB", "mfeat", "CLIB", pending=True),
            module.PlannedRun("baseline", "KM", "mfeat", "view0", pending=True),
        ]

    monkeypatch.setattr(module, "planned_runs", planned)
    return asked


def test_estimate_uses_the_working_folders_own_snakefile_and_says_so(
    repo, tmp_path, capsys, no_planning
):
    """In a clone, `snakemake` runs the clone's Snakefile: its runs are planned against that
    one, not the installed checkout's."""
    from mmcbench.cli import main
    from mmcbench.planning.estimate import CHECKOUT_SNAKEFILE

    clone = tmp_path / "clone"
    clone.mkdir()
    (clone / "Snakefile").symlink_to(repo / "Snakefile")
    (clone / "workflow").symlink_to(repo / "workflow")
    config = str(repo / "config/demo.yaml")
    assert main(["estimate", "--configfile", config, "--directory", str(clone)]) == 0
    assert no_planning["snakefile"] == clone / "Snakefile"
    out = capsys.readouterr().out
    assert f"Snakefile: {clone / 'Snakefile'} (the working folder's (--directory))" in out
    plain = tmp_path / "plain"
    plain.mkdir()
    assert main(["estimate", "--configfile", config, "--directory", str(plain)]) == 0
    assert no_planning["snakefile"] == CHECKOUT_SNAKEFILE
    assert f"Snakefile: {CHECKOUT_SNAKEFILE} (the installed checkout's" in capsys.readouterr().out
    (plain / "Snakefile").write_text("rule all:\n    input: []\n")  # not the suite's
    assert main(["estimate", "--configfile", config, "--directory", str(plain)]) == 2
    assert f"{plain / 'Snakefile'} has no config schema beside it" in capsys.readouterr().err


def test_estimate_refuses_a_missing_directory_and_does_not_create_it(
    repo, tmp_path, capsys, no_planning
):
    from mmcbench.cli import main

    missing = tmp_path / "nonexistent"
    config = str(repo / "config/demo.yaml")
    assert main(["estimate", "--configfile", config, "--directory", str(missing)]) == 2
    assert f"--directory {missing} does not exist" in capsys.readouterr().err
    assert not missing.exists() and not no_planning


def test_estimate_refuses_a_garbage_packing_csv_before_planning(
    repo, tmp_path, capsys, no_planning
):
    from mmcbench.cli import main

    garbage = tmp_path / "packing.csv"
    garbage.write_text("hello world\n")
    argv = ["estimate", "--configfile", str(repo / "config/demo.yaml")]
    assert main([*argv, "--directory", str(tmp_path), "--packing", str(garbage)]) == 2
    err = capsys.readouterr().err
    assert f"{garbage}: expected the columns way, method" in err and "Traceback" not in err
    assert not no_planning  # validated before the DAG is planned


def test_runs_without_a_timing_on_the_device_are_said_not_costed_before_any_total(
    repo, tmp_path, capsys, no_planning
):
    """--device cuda with CPU timings only: no "0.0 GPU-hours" for runs that are not costed."""
    from mmcbench.cli import main

    timings = write_timings(tmp_path / "t.csv", [row("GIB", "GIB", "mfeat", 12.0)])
    argv = ["estimate", "--configfile", str(repo / "config/demo.yaml"), "--timings", str(timings)]
    assert main([*argv, "--directory", str(tmp_path), "--device", "cuda", "--details"]) == 0
    out = capsys.readouterr().out
    assert "GPU-hours" in out and "0.0 GPU-hours" not in out
    table = out.index("method dataset")
    assert out.index(f"No cuda timing stored in {timings}") < table
    assert out.index("not costed: 2 of the 2 deep runs to train have no cuda timing") < table
    assert "deep runs to train: 2; not costed, so no GPU-hours are estimated" in out
    # Costed in part (GIB on the CPU, not CLIB): the total says it covers the costed runs only.
    assert main([*argv, "--directory", str(tmp_path), "--device", "cpu", "--details"]) == 0
    out = capsys.readouterr().out
    epochs = yaml.safe_load((repo / "config/demo.yaml").read_text())["gib"]["epochs"]
    assert out.index("not costed: 1 of the 2 deep runs") < out.index("method dataset")
    assert (
        f"estimated {12.0 * epochs / 3600:.1f} CPU-hours (1 thread per run) for the 1 costed, "
        "plus the 1 not costed" in out
    )


def test_batched_packs_of_runs_not_costed_are_not_priced_at_zero():
    from mmcbench.planning.estimate import Line, Speedup, render_packs
    from mmcbench.planning.runtime import Timing

    gain = Speedup("GIB", 4, 2.0, "mfeat")
    unknown = [Line("train", "GIB", "mfeat", "GIB", 3, 3, 100, None)]
    text = render_packs(unknown, {"GIB": gain}, "cuda")
    assert "not costed" in text and "0.0 GPU-hours" not in text
    known = Line("train", "GIB", "BDGP", "GIB", 2, 2, 100, Timing(36.0, "measured"))
    text = render_packs([*unknown, known], {"GIB": gain}, "cuda")
    assert "batched packs: GIB: 1.0 GPU-hours" in text and "plus 3 runs not costed" in text


def test_the_batched_packs_total_counts_every_deep_method():
    """A method with no measured gain (SiMVC, CoMVC, MFLVC) was left out of "in all"; it is
    counted at one process per run, and named."""
    from mmcbench.planning.estimate import Line, Speedup, render_packs
    from mmcbench.planning.runtime import Timing

    lines = [
        Line("train", "GIB", "mfeat", "GIB", 2, 2, 100, Timing(36.0, "measured")),
        Line("train", "SiMVC", "mfeat", "SiMVC", 2, 2, 100, Timing(72.0, "measured")),
    ]
    text = render_packs(lines, {"GIB": Speedup("GIB", 4, 2.0, "mfeat")}, "cpu")
    assert "batched packs: GIB: 1.0 CPU-hours" in text
    assert "SiMVC: no cpu measurement of a batched pack stored; counted at its 4.0" in text
    assert text.splitlines()[-1] == (
        "batched packs: estimated 5.0 CPU-hours in all, every deep method counted (SiMVC at one "
        "process per run)"
    )


def test_batched_pack_gains_come_from_each_methods_newest_measurement():
    """An older pack measurement timed older code: a method's gain is the best K of its newest
    date, even when an older date stored a higher one."""
    from mmcbench.planning.estimate import batched_speedups

    def row(method, k, ratio, when, device="cpu"):
        return {
            "way": f"batched pack K={k}",
            "method": method,
            "dataset": "mfeat",
            "epochs": "20",
            "slots": "2",
            "device": device,
            "ratio": str(ratio),
            "date": when,
        }

    rows = [
        row("GIB", 4, 1.31, "2026-11-26"),
        row("GIB", 4, 1.10, "2026-12-05"),
        row("GIB", 16, 1.20, "2026-12-05"),
        row("CLIB", 16, 1.45, "2026-11-26"),
        row("GIB", 4, 3.0, "2026-12-06", device="cuda"),
    ]
    gains = batched_speedups(rows, "cpu")
    assert (gains["GIB"].pack_size, gains["GIB"].ratio) == (16, 1.20)
    assert "2026-12-05" in gains["GIB"].basis
    assert gains["CLIB"].ratio == 1.45
    assert batched_speedups(rows, "cuda")["GIB"].ratio == 3.0


def smoke_config(repo: Path) -> dict:
    from mmcbench.planning.estimate import CHECKOUT_SNAKEFILE, load_config

    return load_config(CHECKOUT_SNAKEFILE, [repo / "config/smoke.yaml"])


def test_a_fresh_folder_is_planned_without_snakemake(repo, tmp_path, monkeypatch):
    """No record there: every planned run is still to run, and Snakemake is not asked."""
    from mmcbench.planning import estimate as module

    def never(*args, **kwargs):
        raise AssertionError("snakemake was run for a folder with no record")

    monkeypatch.setattr(module, "remade_records", never)
    smoke = yaml.safe_load((repo / "config/smoke.yaml").read_text())
    runs = module.planned_runs(smoke_config(repo), tmp_path, repo / "Snakefile", [])
    assert all(run.pending for run in runs)
    rules = [run.rule for run in runs]
    assert rules.count("train") == len(planned_runs(smoke))  # smoke: the study's defaults are
    assert rules.count("train_point") == len(planned_points(smoke))  # table runs
    assert rules.count("baseline") == planned_baselines(smoke)


def test_records_there_are_done_unless_snakemake_would_remake_them(repo, tmp_path, monkeypatch):
    """A record in the folder may be remade (a changed parameter, command or input): Snakemake
    decides, once, for the same Snakefile and config files."""
    from mmcbench.planning import estimate as module
    from mmcbench.planning.plan import Plan

    config = smoke_config(repo)
    first, second, *_ = [r.path for r in Plan(config).runs() if r.kind == "deep"]
    for path in (first, second):
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text("{}")
    asked = []

    def remade(snakefile, configfiles, directory, cores=1):
        asked.append((snakefile, list(configfiles), directory))
        return {second}

    monkeypatch.setattr(module, "remade_records", remade)
    configfile = repo / "config/smoke.yaml"
    runs = module.planned_runs(config, tmp_path, repo / "Snakefile", [configfile])
    assert asked == [(repo / "Snakefile", [configfile], tmp_path)]
    done = [run for run in runs if not run.pending]
    assert len(done) == 1 and len(runs) - len([r for r in runs if r.pending]) == 1
    record = first.split("/")
    assert (done[0].method, done[0].dataset, done[0].variant) == tuple(record[2:5])


def test_the_summary_counts_measured_and_scaled_runs_per_method_and_details_on_request():
    from mmcbench.planning.estimate import Line, render
    from mmcbench.planning.runtime import Timing

    lines = [
        Line("train", "GIB", "mfeat", "GIB", 2, 2, 100, Timing(36.0, "measured")),
        Line("train", "GIB", "BDGP", "GIB", 3, 3, 100, Timing(18.0, "scaled by samples × views")),
        Line("train_point", "GIB", "BDGP", "GIB", 1, 1, 100, None),
        Line("train", "CLIB", "mfeat", "CLIB", 4, 4, 100, Timing(72.0, "measured (CLIB's time)")),
        Line("baseline", "KM", "mfeat", "view0", 5, 5, None, None),
    ]
    text = render(lines, "cpu")
    rows = {line.split()[0]: line.split()[1:] for line in text.splitlines() if line}
    # GIB: 6 to run, 2 × 1 h + 3 × 0.5 h, 2 measured, 3 scaled, 1 without a timing
    assert rows["GIB"] == ["cpu", "6", "3.50", "2", "3", "1"]
    assert rows["CLIB"] == ["cpu", "4", "8.00", "4", "0", "0"]
    assert "method dataset" not in text and text.endswith("--details")
    detailed = render(lines, "cpu", details=True)
    assert "method dataset" in detailed and "scaled by samples × views" in detailed
    assert "rule baseline: 5 runs, 5 still to run" in detailed
