"""The Snakemake DAG itself: lint, dry runs of every config, the smoke DAG (run once per
session: conftest.py's smoke_dag) read, resumed, reported and packed, DAG-level errors."""

from __future__ import annotations

import json
import re
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from mmcbench.data.registry import get_dataset
from mmcbench.planning.config import load_schema
from mmcbench.runs import records
from tests.conftest import job_counts, snakemake, write_config  # other tests import them here

pytestmark = pytest.mark.workflow


def planned_baselines(config: dict) -> int:
    """Runs a config asks for: (2 × views + 2) variants per dataset, times the seeds."""
    return sum(2 * len(get_dataset(d).views) + 2 for d in config["datasets"]) * config["seeds"]


GIB_VARIANTS = ["GIB", "DDC", "DDC+Balls", "DDC+Samples"]
CLIB_VARIANTS = [
    "CLIB",
    "IB+cluH",
    "IB+cluH+re",
    "IB+cluH+caliH",
    "IB+cluH+con",
    "no-warmup",
    "calihead-backprop",
]


FULL_GRID = [i / 10 for i in range(11)]
# The compared methods off (the demo runs them), for tests of GIB's and CLIB's runs only.
NO_COMPARED = {
    m: {"variants": []} for m in ("simvc", "comvc", "mflvc", "divide", "dealmvc", "coper")
}


def planned_runs(config: dict, grid: bool = True) -> set[tuple]:
    """Distinct deep runs: the tables' (variants × datasets × seeds at the method's α, β, or
    its default setting for a method without them) and, with `grid`, the α/β grid's (full
    model × points × grid seeds)."""
    from mmcbench.planning import catalogue

    defaults = {"GIB": GIB_VARIANTS, "CLIB": CLIB_VARIANTS}  # the others: [] (opt-in)
    runs = set()
    for method in catalogue.deep_methods():
        section = config.get(catalogue.get(method).section, {})
        alpha = beta = None
        if catalogue.path_keys(method):
            alpha, beta = float(section.get("alpha", 0.5)), float(section.get("beta", 0.5))
        for dataset in config["datasets"]:
            for variant in section.get("variants", defaults.get(method, [])):
                for seed in range(section.get("seeds") or config["seeds"]):
                    runs.add((method, dataset, variant, alpha, beta, seed))
            points = section.get("grid", {})
            if not grid or not points.get("seeds"):
                continue
            for a in points.get("alphas", FULL_GRID):
                for b in points.get("betas", FULL_GRID):
                    for seed in range(points["seeds"]):
                        runs.add((method, dataset, method, float(a), float(b), seed))
    return runs


def planned_training(config: dict) -> int:
    """Training jobs a config asks for: the distinct runs of the tables and the grids."""
    return len(planned_runs(config))


SCHEMA = load_schema(
    Path(__file__).resolve().parent.parent / "workflow/schemas/config.schema.yaml"
)  # with every method's section, as the workflow composes it
STUDY_DEFAULTS = SCHEMA["properties"]["resolution"]["properties"]
# Keys a GIB ablation cannot feel: its loss term is off (kl_reduction and compression act on
# L_Samples' VIB term, feature_mi_input on L_Balls), so the study does not train them.
INERT = {
    ("DDC", "kl_reduction"),
    ("DDC", "compression"),
    ("DDC", "feature_mi_input"),
    ("DDC+Balls", "kl_reduction"),
    ("DDC+Balls", "compression"),
    ("DDC+Samples", "feature_mi_input"),
}


def spelt(value) -> str:
    """A value as a run path spells it."""
    if isinstance(value, str):
        return value
    if isinstance(value, float):
        return f"{value:g}"
    return json.dumps(value)


def planned_study(config: dict, trained_only: bool = True) -> set[tuple]:
    """Study points a config asks for beyond the default setting: (method, dataset, variant,
    key, value as spelt, seed); a value equal to the method's configured one is no point."""
    study = config.get("resolution", {})
    if not study.get("seeds"):
        return set()
    variants = study.get("variants", STUDY_DEFAULTS["variants"]["default"])
    keys = study.get("keys", STUDY_DEFAULTS["keys"]["default"])
    points = set()
    for method, method_variants in variants.items():
        properties = SCHEMA["properties"][method.lower()]["properties"]
        section = config.get(method.lower(), {})
        for key, values in keys.items():
            if key not in properties:
                continue
            configured = section.get(key, properties[key]["default"])
            for value in values:
                same = value == configured
                if same and isinstance(value, bool) == isinstance(configured, bool):
                    continue
                for variant in method_variants:
                    if trained_only and (variant, key) in INERT:
                        continue
                    for dataset in config["datasets"]:
                        for seed in range(study["seeds"]):
                            points.add((method, dataset, variant, key, spelt(value), seed))
    return points


def planned_readings(config: dict) -> set[tuple]:
    """The full models' runs under each reading (`readings`): (method, dataset, variant, key,
    value as spelt, seed, α, β), at the tables' seeds and, with grid.readings, the grid's."""
    from mmcbench.planning import catalogue

    defaults = {"GIB": GIB_VARIANTS, "CLIB": CLIB_VARIANTS}
    runs = set()
    for method in ("GIB", "CLIB"):
        section = config.get(catalogue.get(method).section, {})
        properties = SCHEMA["properties"][method.lower()]["properties"]
        if method not in section.get("variants", defaults[method]):
            continue
        alpha, beta = float(section.get("alpha", 0.5)), float(section.get("beta", 0.5))
        grid = section.get("grid", {})
        points = [(alpha, beta, range(section.get("seeds") or config["seeds"]))]
        if grid.get("readings") and grid.get("seeds"):
            points += [
                (float(a), float(b), range(grid["seeds"]))
                for a in grid.get("alphas", FULL_GRID)
                for b in grid.get("betas", FULL_GRID)
            ]
        for key, values in section.get("readings", {}).items():
            configured = section.get(key, properties[key]["default"])
            for value in values:
                if value == configured:
                    continue
                for dataset in config["datasets"]:
                    for a, b, seeds in points:
                        for seed in seeds:
                            runs.add((method, dataset, method, key, spelt(value), seed, a, b))
    return runs


def planned_points(config: dict) -> set[tuple]:
    """Every run with a study path part: the study's changed points (at the tables' α, β) and
    the readings' runs, a run both ask for counted once."""
    from mmcbench.planning import catalogue

    study = set()
    for method, dataset, variant, key, value, seed in planned_study(config):
        section = config.get(catalogue.get(method).section, {})
        alpha = beta = None
        if catalogue.path_keys(method):
            alpha, beta = float(section.get("alpha", 0.5)), float(section.get("beta", 0.5))
        study.add((method, dataset, variant, key, value, seed, alpha, beta))
    return study | planned_readings(config)


def planned_study_defaults(config: dict) -> set[tuple]:
    """The study's default points (method, dataset, variant, α, β, seed)."""
    study = config.get("resolution", {})
    if not study.get("seeds"):
        return set()
    variants = study.get("variants", STUDY_DEFAULTS["variants"]["default"])
    runs = set()
    from mmcbench.planning import catalogue

    for method, method_variants in variants.items():
        section = config.get(method.lower(), {})
        alpha = beta = None
        if catalogue.path_keys(method):
            alpha, beta = float(section.get("alpha", 0.5)), float(section.get("beta", 0.5))
        for variant in method_variants:
            for dataset in config["datasets"]:
                for seed in range(study["seeds"]):
                    runs.add((method, dataset, variant, alpha, beta, seed))
    return runs


def planned_records(plan, configfile: Path) -> set[str]:
    """Deep run records a config's DAG makes (train, train_point and packs), from --summary
    (`plan`: conftest.py's session cache of plans)."""
    result = plan(configfile, "--summary")
    assert result.returncode == 0, result.stderr[-3000:]
    records = set()
    for line in result.stdout.splitlines():
        parts = line.split("\t")
        deep = len(parts) > 2 and parts[2].startswith("train")
        if deep and parts[0].endswith(".json"):
            records.add(parts[0])
    return records


def planned_figures(config: dict) -> dict[str, int]:
    """Figure jobs per rule: per method whose full model runs (GIB, CLIB by default, the
    compared methods where the config names them) and dataset."""
    from mmcbench.planning import catalogue

    n = len(config["datasets"])
    grids = sum(1 for m in ("gib", "clib") if config.get(m, {}).get("grid", {}).get("seeds"))
    metrics = len(config.get("figures", {}).get("grid_metrics", ["ACC", "NMI", "ECE"]))
    defaults = {"GIB": ["GIB"], "CLIB": ["CLIB"]}
    full = sum(
        1
        for m in catalogue.deep_methods()
        if m in config.get(m.lower(), {}).get("variants", defaults.get(m, []))
    )
    return {
        "reliability": n,
        "convergence_figure": full * n,
        "dynamics_figure": full * n,
        "tsne": full * n,
        "tsne_figure": full * n,
        "grid_figure": grids * n * metrics,
        "grid_summary": 1 if grids else 0,
        "paper_vs_reproduced": 1,
    }


def test_lint(repo, tmp_path):
    result = snakemake(repo, tmp_path, "--lint", "--configfile", str(repo / "config/demo.yaml"))
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    "name", ["demo.yaml", "smoke.yaml", pytest.param("config.yaml", marks=pytest.mark.slow)]
)
def test_dry_run_plans_every_run(repo, plan, name):
    config = yaml.safe_load((repo / "config" / name).read_text())
    result = plan(repo / "config" / name, "-n")  # nothing written: checked by the fixture
    assert result.returncode == 0, result.stdout + result.stderr
    counts = job_counts(result.stdout)
    assert counts["baseline"] == planned_baselines(config)
    assert counts["train"] == len(planned_runs(config) | planned_study_defaults(config))
    assert counts.get("train_point", 0) == len(planned_points(config))
    assert counts["convert"] == len(config["datasets"])
    assert counts["table"] == 4  # table1, table2, clib_results, clib_ablation
    for rule, expected in planned_figures(config).items():
        assert counts.get(rule, 0) == expected, rule
    study = 3 if config.get("resolution", {}).get("seeds") else 0  # csv, table, figure
    assert (
        counts.get("resolution_summary", 0)
        + counts.get("resolution_table", 0)
        + counts.get("resolution_figure", 0)
        == study
    )


@pytest.mark.slow
def test_study_plans_each_default_point_once_and_a_new_value_adds_exactly_its_runs(
    repo, tmp_path, plan
):
    base = dict(
        base=repo / "config/demo.yaml",
        seeds=1,
        baselines={"methods": ["AmKM"]},
        gib={"variants": ["GIB", "DDC"], "grid": {"seeds": 0}, "readings": {}},
        clib={"variants": ["CLIB"], "grid": {"seeds": 0}, "readings": {}},
        **NO_COMPARED,
    )
    study = {"seeds": 2, "variants": {"GIB": ["GIB", "DDC"], "CLIB": ["CLIB"]}}
    first = write_config(
        tmp_path / "a.yaml", **base, resolution={**study, "keys": {"kl_reduction": ["mean", "sum"]}}
    )
    before = planned_records(plan, first)
    default = "a0.5_b0.5"
    # The default points: the tables' runs (seed 0) and the study's second seed, once each;
    # kl_reduction = mean is the configured value, so no run path names it.
    defaults = {r for r in before if f"/{default}/seed" in r}
    expected = {
        f"results/runs/{m}/mfeat/{v}/{default}/seed{s}.json"
        for m, v in (("GIB", "GIB"), ("GIB", "DDC"), ("CLIB", "CLIB"))
        for s in (0, 1)
    }
    assert defaults == expected
    assert not any("kl_reduction=mean" in r for r in before)
    changed = before - defaults
    assert changed == {
        f"results/runs/{m}/mfeat/{v}/{default}/kl_reduction=sum/seed{s}.json"
        for m, v in (("GIB", "GIB"), ("CLIB", "CLIB"))  # DDC has no L_Samples: inert
        for s in (0, 1)
    }
    # One more value of one more key: exactly its runs are added (CLIB has no ddc2).
    second = write_config(
        tmp_path / "b.yaml",
        **base,
        resolution={**study, "keys": {"kl_reduction": ["mean", "sum"], "ddc2": ["samples"]}},
    )
    after = planned_records(plan, second)
    assert after - before == {
        f"results/runs/GIB/mfeat/{v}/{default}/ddc2=samples/seed{s}.json"
        for v in ("GIB", "DDC")
        for s in (0, 1)
    }
    assert before <= after


@pytest.mark.slow
@pytest.mark.parametrize("size", [2, 3, 50])
def test_packs_make_exactly_the_runs_of_one_run_per_process(repo, tmp_path, plan, size):
    """train.pack_size only regroups the runs: the same records, none added, in packs that
    end at every seed count (smoke: 2 seeds, grid 2, study 1)."""
    alone = planned_records(plan, repo / "config/smoke.yaml")
    config = write_config(
        tmp_path / "packed.yaml", base=repo / "config/smoke.yaml", train={"pack_size": size}
    )
    assert planned_records(plan, config) == alone
    result = plan(config, "-n")
    assert result.returncode == 0, result.stderr[-3000:]
    counts = job_counts(result.stdout)
    assert "train" not in counts and "train_point" not in counts  # every seed is in a pack
    smoke = yaml.safe_load((repo / "config/smoke.yaml").read_text())
    plain_runs = len(planned_runs(smoke) | planned_study_defaults(smoke))
    # Seeds 0-1 as one pack; study points (1 seed) as packs of one, and so the readings'
    # points (2 seeds) too, their packs ending at the study's seed count.
    assert counts["train_pack_0_1"] == plain_runs // 2
    points = planned_points(smoke)
    assert counts["train_pack_point_0_0"] == len({p for p in points if p[5] == 0})
    assert counts["train_pack_point_1_1"] == len({p for p in points if p[5] == 1})


@pytest.mark.parametrize("size", [1, 2])
def test_a_method_with_its_own_seeds_plans_only_those(repo, tmp_path, plan, size):
    """`<method>.seeds` below the top-level seeds: that method's table runs are seeds
    0…seeds−1 (alone or packed), the other methods keep the top-level seeds."""
    config = write_config(
        tmp_path / "few.yaml",
        base=repo / "config/smoke.yaml",
        seeds=3,
        clib={"seeds": 1, "grid": {"alphas": [0.5, 1.0], "betas": [0.5], "seeds": 1}},
        train={"pack_size": size},
    )
    planned = planned_records(plan, config)
    table_seeds = {
        method: {int(p.rsplit("seed", 1)[1][:-5]) for p in planned if f"/{method}/" in p}
        for method in ("GIB", "CLIB")
    }
    smoke = yaml.safe_load(config.read_text())
    assert table_seeds["CLIB"] == {0}  # its tables, grid and study: seed 0 only
    assert table_seeds["GIB"] == {0, 1, 2}
    assert len(planned) == len(planned_runs(smoke) | planned_study_defaults(smoke)) + len(
        planned_points(smoke)
    )


def test_a_method_with_its_own_seeds_keeps_the_tsne_seed_among_them(repo, tmp_path, plan):
    config = write_config(
        tmp_path / "tsne.yaml",
        base=repo / "config/smoke.yaml",
        seeds=3,
        clib={"seeds": 1},
        figures={"tsne_seed": 1},
    )
    result = plan(config, "-n")
    assert result.returncode != 0
    assert "clib.seeds" in result.stdout + result.stderr


def test_grid_point_at_the_default_setting_is_not_trained_twice(repo, tmp_path, plan):
    config = write_config(
        tmp_path / "grid.yaml",
        base=repo / "config/demo.yaml",
        seeds=3,
        gib={"variants": ["GIB"], "grid": {"alphas": [0.5, 1.0], "betas": [0.0, 0.5], "seeds": 2}},
        clib={"variants": [], "grid": {"seeds": 0}},
        baselines={"methods": ["AmKM"]},
        resolution={"seeds": 0},  # no study: its default points would add runs of other variants
        **NO_COMPARED,
    )
    result = plan(config, "-n")
    assert result.returncode == 0, result.stdout + result.stderr
    # 3 table seeds at (0.5, 0.5) + 4 grid points × 2 seeds, of which (0.5, 0.5) seeds 0-1
    # are the tables' runs: 3 + 8 - 2 = 9 jobs, each output planned once.
    assert job_counts(result.stdout)["train"] == 9
    # The train rule's message names each job's run: method, variant, dataset, α, β, seed.
    planned = re.findall(r"Job \d+: (GIB GIB on mfeat, α = \S+ β = \S+ seed \d+)", result.stdout)
    assert len(planned) == len(set(planned)) == 9
    assert "GIB GIB on mfeat, α = 0.5, β = 0.5, seed 2" in planned
    assert "GIB GIB on mfeat, α = 1, β = 0, seed 1" in planned


def test_demo_and_paper_job_counts(repo):
    assert planned_baselines({"datasets": ["mfeat"], "seeds": 5}) == 70
    assert planned_training({"datasets": ["mfeat"], "seeds": 3}) == 3 * (4 + 7)
    demo = yaml.safe_load((repo / "config/demo.yaml").read_text())
    # 2 × 2 grid, 1 seed; SiMVC, CoMVC, MFLVC, DIVIDE, DealMVC one run each, COPER two (its
    # CCA-float64 variant)
    assert planned_training(demo) == 1 * (4 + 7) + 2 * (4 - 1) + 7
    # Six keys on the full models only: GIB 6 changes, CLIB 4 (sigma_param, kl_reduction,
    # compression, feature_mi_input: no ddc_input, no ddc2).
    assert len(planned_study(demo)) == 6 + 4
    assert len(planned_study(demo, trained_only=False)) == 6 + 4
    # GIB and CLIB under 3 more readings of the compression term, 1 seed; the study's
    # compression=cluster_balance points of GIB and CLIB are the same 2 runs
    assert len(planned_readings(demo)) == 2 * 3
    assert len(planned_points(demo)) == 10 + 6 - 2
    paper = yaml.safe_load((repo / "config/config.yaml").read_text())
    grid_only = planned_runs(paper) - planned_runs(paper, grid=False)
    assert len(grid_only) == 2 * 6 * (121 * 3 - 3)  # the default point's 3 seeds are shared
    # The full study: GIB 11 changes, DDC 9, CLIB and IB+cluH 8 each, per dataset and seed;
    # SiMVC 6 (init, grad_clip, lr, batch_size, ddc2, encoder), CoMVC 9 (those, delta,
    # neg_sampling_empty, contrastive_similarity), MFLVC 10 (init, grad_clip, both lr values,
    # batch_size, recon_reduction, entropy_per_pair, pseudo_label_scaling, finetune_ce,
    # finetune_batch); DIVIDE 18 (its 9 keys' 14 other values and init, grad_clip, both
    # batch_size values), DealMVC 19 (its 10 keys, and MFLVC's but entropy_per_pair), COPER 11
    # (its 6 keys, both other inits, grad_clip, lr, batch_size).
    assert len(planned_study(paper)) == 6 * 3 * (11 + 9 + 8 + 8 + 6 + 9 + 10 + 18 + 19 + 11)
    paper = ["Caltech-2V", "Caltech-3V", "ESP-Game", "WVU", "IAPR", "MIRFlickr"]
    assert planned_baselines({"datasets": paper, "seeds": 20}) == 20 * (6 + 8 + 6 + 10 + 6 + 10)


@pytest.mark.slow
def test_default_config_is_the_paper_setting(repo, tmp_path):
    result = snakemake(repo, tmp_path, "-n", "--config", "seeds=2")
    assert result.returncode == 0, result.stderr
    assert "resources/hdf5/MIRFlickr.h5" in result.stdout and "seed19" not in result.stdout


@pytest.mark.parametrize(
    "content,fragment",
    [
        (
            {"datasets": ["mfeat", "NotADataset"]},
            "key 'datasets[1]': unknown dataset 'NotADataset'",
        ),
        ({"datasets": ["mfeat"], "seeds": "five"}, "key 'seeds': 'five' is not of type 'integer'"),
        ({"datasets": ["mfeat"], "mflvc": {"seeds": 0}}, "key 'mflvc.seeds': 0 is less than"),
    ],
)
def test_bad_config_stops_before_anything_runs(repo, tmp_path, content, fragment):
    config = tmp_path / "bad.yaml"
    config.write_text(yaml.safe_dump(content))
    workdir = tmp_path / "work"
    workdir.mkdir()
    result = snakemake(repo, workdir, "--configfile", str(config))
    assert result.returncode != 0
    assert fragment in result.stderr and str(config) in result.stderr
    assert not (workdir / "results").exists() and not (workdir / "resources").exists()


@pytest.mark.dag  # runs the fetch job
def test_manual_dataset_stops_the_dag_with_instructions(repo, tmp_path):
    config = write_config(tmp_path / "wvu.yaml", datasets=["WVU"], seeds=1)
    result = snakemake(repo, tmp_path / "work", "--configfile", str(config))
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "place it by hand at resources/manual/WVU/WVU.mat" in output
    assert "650 entries and 10 distinct classes" in output
    assert not (tmp_path / "work" / "resources" / "raw" / "WVU" / "manifest.json").exists()


@pytest.mark.dag  # runs the fetch job
def test_corrupt_mirror_file_stops_the_dag_naming_both_hashes(repo, tmp_path, mirror):
    spec = get_dataset("NGs").files[0]
    fake_mirror = tmp_path / "mirror"
    target = fake_mirror / spec.mirror_path
    target.parent.mkdir(parents=True)
    data = (mirror / spec.mirror_path).read_bytes()
    target.write_bytes(data[: len(data) // 2])  # truncated copy
    config = write_config(
        tmp_path / "c.yaml",
        datasets=["NGs"],
        seeds=1,
        data={"mirror": str(fake_mirror), "offline": True},
    )
    result = snakemake(repo, tmp_path / "work", "--configfile", str(config))
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "Checksum mismatch for NGs.mat" in output and spec.sha256 in output
    assert not (tmp_path / "work" / "resources" / "hdf5" / "NGs.h5").exists()
    assert not (tmp_path / "work" / "resources" / "raw" / "NGs" / "NGs.mat").exists()


# ------------------------------------------------------------------ the smoke DAG
# conftest.py's smoke_dag runs config/smoke.yaml once per session (float64, the mirror as
# data.mirror); the tests below read its folder, and those that run Snakemake in it work on a
# copy (smoke_copy).


def test_the_smoke_dag_runs_and_records_every_run(smoke_dag):
    workdir = smoke_dag.workdir
    runs = pd.read_csv(workdir / "results/runs.csv")
    assert set(runs["dataset"]) == {"3-sources", "NGs"}
    # baselines, GIB (and its reading `none`: 2 datasets × 2 seeds), CLIB
    assert len(runs) == (32 + 16 + 4 + 28) * len(records.METRICS)
    assert set(runs["status"]) == {"done"}
    gib = runs[runs["method"] == "GIB"]
    assert set(gib["variant"]) == set(GIB_VARIANTS)
    assert gib["value"].notna().all() and (gib["p_epochs"] == 2).all()
    clib = runs[runs["method"] == "CLIB"]
    assert set(clib["variant"]) == set(CLIB_VARIANTS)
    assert clib["value"].notna().all() and (clib["p_epochs"] == 3).all()
    assert (runs["p_precision"].dropna() == "float64").all() and len(gib) + len(clib) > 0
    no_warmup = clib[clib["variant"] == "no-warmup"]
    assert (no_warmup["p_warmup_epochs"] == 0).all()
    assert runs["max_rss_mb"].notna().all()  # Snakemake benchmark files were picked up
    assert (
        runs["clusters_used"].between(1, 20).all() and runs["collapsed"].isin([True, False]).all()
    )
    # the tables' runs: no study point among them but GIB's reading `none` (gib.readings)
    readings = runs[runs["overrides"].notna()]
    assert set(readings["overrides"]) == {"compression=none"}
    assert set(readings["method"]) == {"GIB"} and set(readings["variant"]) == {"GIB"}
    for record in (workdir / "results/runs").rglob("seed*.json"):
        records.read(record)
    # The closing summary (onsuccess): every planned run done, and where the tables are.
    planned = len(list((workdir / "results/runs").rglob("seed*.json")))
    assert f"mmcbench: {planned} runs planned: {planned} done" in smoke_dag.stdout
    assert "results/tables/table1.md" in smoke_dag.stdout and "--report" in smoke_dag.stdout
    history = next((workdir / "results/runs/GIB/NGs/GIB").rglob("seed0.history.csv"))
    assert pd.read_csv(history)["epoch"].tolist() == [0, 1, 2]
    manifest = json.loads((workdir / "resources/raw/NGs/manifest.json").read_text())
    assert manifest["files"]["NGs.mat"]["origin"].startswith("mirror:")


def test_the_smoke_dag_summary_and_tables(smoke_dag):
    workdir = smoke_dag.workdir
    summary = pd.read_csv(workdir / "results/summary.csv")
    acc = summary[summary["metric"] == "ACC"]
    final = acc[acc["protocol"] == "final"]
    assert (final["n"] == 2).all() and final["mean"].between(0, 100).all()
    # every deep cell also has its paper's protocol (one run) and the label-free one (each
    # seed), read from the histories' eval-mode losses
    deep = acc[acc["method"].isin(["GIB", "CLIB"])]
    assert set(deep["protocol"]) == {"final", "paper", "paper_bound", "label_free"}
    assert (deep.loc[deep["protocol"].isin(["paper", "paper_bound"]), "n"] == 1).all()
    assert (deep.loc[deep["protocol"] == "label_free", "n"] == 2).all()
    assert set(acc.loc[~acc["method"].isin(["GIB", "CLIB"]), "protocol"]) == {"final"}
    md = (workdir / "results/tables/table1.md").read_text()
    assert "| 3-sources | AmNcuts |" in md and "| NGs | KM (view" in md
    # each deep cell of a table: the honest mean, its paper's-protocol value and the gain
    table1 = pd.read_csv(workdir / "results/tables/table1.csv")
    gib_cells = table1[table1["method"] == "GIB"]
    assert (gib_cells["protocol_rule"] == "best_run_final").all()
    assert (gib_cells["bound_rule"] == "best_epoch_best_run").all()
    gib_acc = gib_cells[gib_cells["metric"] == "ACC"]  # both readings choose by ACC
    assert (gib_acc["bound_mean"] >= gib_acc["protocol_mean"] - 1e-9).all()
    assert gib_cells["protocol_mean"].notna().all()
    gain = gib_cells["protocol_mean"] - gib_cells["mean"]
    assert np.allclose(gib_cells["selection_gain"], gain)
    assert table1.loc[table1["method"] == "KM", "protocol_mean"].isna().all()
    assert "ACC paper's protocol [gain]" in md
    assert "| NGs | GIB |" in md
    assert "| NGs | GIB (no I(X;H) term) |" in md  # GIB's reading `none`: rows of its own
    table2 = (workdir / "results/tables/table2.md").read_text()
    assert "| 3-sources | DDC+Balls |" in table2
    clib_results = (workdir / "results/tables/clib_results.md").read_text()
    assert "| NGs | CLIB |" in clib_results and "ECE" in clib_results
    clib_ablation = (workdir / "results/tables/clib_ablation.md").read_text()
    assert "| 3-sources | IB+cluH+con |" in clib_ablation
    page = (workdir / "results/tables/clib_ablation.html").read_text()
    assert "<table>" in page and "<td>3-sources</td>" in page  # the report shows it as a table


def test_the_smoke_dag_claims_paper_checks_and_audit(smoke_dag):
    workdir = smoke_dag.workdir
    # the claims: like for like (baselines compete), Welch verdicts with n on both sides (2
    # seeds each), extra rows only (no paper has these datasets); the published audit
    claims = pd.read_csv(workdir / "results/claims.csv")
    assert {"claimed", "p_value", "ci_low", "ours_runs", "best_failed", "printed_margin"} <= set(
        claims.columns
    )
    assert not claims["claimed"].any() and set(claims["dataset"]) == {"3-sources", "NGs"}
    assert (claims["ours_n"] == 2).all() and claims["p_value"].dropna().between(0, 1).all()
    assert claims["p_value"].notna().any()
    assert claims["verdict"].str.match(r"holds|does not hold|undecided").all()
    none = claims[claims["reading"] == "none"]  # GIB's reading `none`: its own verdicts
    assert len(none) and set(none["ours"]) == {"GIB"} and (none["ours_n"] == 2).all()
    # GIB's figures as claims: Fig. 4 over the grid (configured reading and `none`), Fig. 5
    # undecided on a 2-epoch schedule (the figure speaks of 100)
    checks = pd.read_csv(workdir / "results/paper_checks.csv", keep_default_na=False)
    fig4 = checks[(checks["figure"] == "Fig. 4") & (checks["method"] == "GIB")]
    assert set(fig4["reading"]) == {"", "none"} and (fig4["n"] == 2).all()
    assert fig4["verdict"].isin(["holds", "does not hold"]).all()
    fig5 = checks[checks["figure"] == "Fig. 5"]
    assert set(fig5["method"]) == {"GIB", "CLIB"}
    assert fig5["verdict"].str.match(r"undecided \([23] epochs: the figure speaks of 100").all()
    assert "not very sensitive" in (workdir / "results/paper_checks.html").read_text()
    audit = pd.read_csv(workdir / "results/published_audit.csv")
    checks = {"printed row", "shared cell", "same rows, other views", "best compared"}
    assert set(audit["check"]) == checks


def test_the_smoke_dag_figures(smoke_dag):
    workdir = smoke_dag.workdir
    for dataset in ("3-sources", "NGs"):
        assert (workdir / f"figures/reliability/{dataset}.png").stat().st_size > 0
        for method in ("GIB", "CLIB"):
            stems = [f"convergence/{method}_{dataset}", f"tsne/{method}_{dataset}"]
            stems += [f"dynamics/{method}_{dataset}"]
            stems += [f"grid/{method}_{dataset}_{m}" for m in ("ACC", "NMI", "ECE")]
            for stem in stems:
                for ext in ("png", "pdf"):
                    assert (workdir / f"figures/{stem}.{ext}").stat().st_size > 0, stem
    assert (workdir / "figures/paper_vs_reproduced.png").stat().st_size > 0
    assert (workdir / "figures/resolutions.png").stat().st_size > 0
    tsne = pd.read_csv(workdir / "results/tsne/GIB_NGs.csv")
    assert set(tsne["epoch"]) == {0, 2} and len(tsne) == 2 * 200  # subsampled to 200


def test_the_smoke_dag_study_and_grid(smoke_dag):
    workdir = smoke_dag.workdir
    # The two-key study: ddc_input is GIB's only, kl_reduction is inert for GIB's DDC.
    study = pd.read_csv(workdir / "results/resolutions.csv")
    study = study[study["metric"] == "ACC"].set_index(["variant", "key", "dataset"]).sort_index()
    assert set(study.index.get_level_values("dataset")) == {"3-sources", "NGs"}
    assert (study.loc[("DDC", "kl_reduction"), "status"] == "inert").all()
    assert (study.loc[("DDC", "ddc_input"), "status"] == "changed").all()
    assert ("CLIB", "ddc_input") not in study.index.droplevel("dataset")
    changed = study[study["status"] == "changed"]
    assert len(changed) == 2 * (2 + 1 + 1 + 1) and (changed["n"] == 1).all()
    assert (changed["delta"] == changed["mean"] - changed["default_mean"]).all()
    point = workdir / "results/runs/GIB/NGs/DDC/a0.5_b0.5/ddc_input=samples/seed0.json"
    assert records.read(point)["overrides"] == {"ddc_input": "samples"}
    assert records.read(point)["params"]["ddc_input"] == "samples"
    assert (
        "| GIB | DDC | NGs | kl_reduction | sum | not trained"
        in (workdir / "results/tables/resolutions.md").read_text()
    )
    grid = pd.read_csv(workdir / "results/grid.csv")
    acc = grid[grid["metric"] == "ACC"]
    configured = acc[acc["overrides"].isna()]
    assert len(configured) == 2 * 2 * 2  # methods × datasets × points (0.5, 0.5) and (1, 0.5)
    assert set(configured["p_alpha"]) == {0.5, 1.0} and (acc["n"] == 2).all()
    none = acc[acc["overrides"] == "compression=none"]  # GIB's grid under the reading `none`
    assert len(none) == 2 * 2 and set(none["method"]) == {"GIB"}


def test_a_finished_smoke_dag_has_nothing_to_do(repo, smoke_dag, smoke_copy):
    again = snakemake(repo, smoke_copy, "--configfile", str(smoke_dag.config))
    assert again.returncode == 0 and "Nothing to be done" in again.stdout + again.stderr


def test_the_smoke_dags_report_has_its_tables(repo, smoke_dag, smoke_copy):
    report = smoke_copy / "report.zip"
    made = snakemake(
        repo, smoke_copy, "--configfile", str(smoke_dag.config), "--report", str(report)
    )
    assert made.returncode == 0, made.stderr[-2000:]
    assert report.stat().st_size > 0
    with zipfile.ZipFile(report) as bundle:  # tables are in the report as HTML pages
        assert any(name.endswith("/table1.html") for name in bundle.namelist())


def test_an_interrupted_smoke_dag_resumes_with_just_what_is_missing(repo, smoke_dag, smoke_copy):
    """Two records and the aggregates missing: the plan runs just those two and aggregates."""
    shutil.rmtree(smoke_copy / "results/runs/KM/NGs/view1")
    for path in ["results/runs.csv", "results/summary.csv"]:
        (smoke_copy / path).unlink()
    partial = snakemake(repo, smoke_copy, "--configfile", str(smoke_dag.config), "-n")
    counts = job_counts(partial.stdout)
    assert counts["baseline"] == 2 and counts["aggregate"] == 1 and "convert" not in counts
    assert "train" not in counts


def test_packed_smoke_dag_gives_the_tables_of_one_run_per_process(repo, smoke_dag, smoke_copy):
    """The smoke DAG's deep runs trained again in packs of 2 (float64, where rounding stays
    small; data and baselines kept from the shared DAG): every run's metrics, and so every
    table, are those of the shared DAG, which trains one run per process."""
    for method in ("GIB", "CLIB"):
        shutil.rmtree(smoke_copy / "results/runs" / method)
    config = write_config(
        smoke_copy.parent / "packed.yaml", base=smoke_dag.config, train={"pack_size": 2}
    )
    targets = ["results/runs.csv", "results/grid.csv", "results/resolutions.csv"]
    result = snakemake(repo, smoke_copy, *targets, "--configfile", str(config))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    ran = job_counts(result.stderr)  # what packs train, and the summaries of it
    assert ran["train_pack_0_1"] > 0 and not {"train", "train_point", "baseline"} & set(ran)
    assert list((smoke_copy / "logs/runs/GIB/NGs/GIB/a0.5_b0.5").glob("pack0-1.log"))
    outputs = {"alone": smoke_dag.workdir / "results", "packed": smoke_copy / "results"}
    key = ["method", "variant", "dataset", "seed", "metric", "p_alpha", "p_beta", "overrides"]
    alone, packed = (pd.read_csv(outputs[n] / "runs.csv") for n in ("alone", "packed"))
    assert (packed["p_precision"].dropna() == "float64").all()
    both = alone.merge(packed, on=key, suffixes=("_alone", "_packed"), validate="1:1")
    assert len(both) == len(alone) == len(packed)
    deep = both[both["method"].isin(["GIB", "CLIB"])]
    assert len(deep) > 0
    difference = (both["value_alone"] - both["value_packed"]).abs().fillna(0)
    assert difference.max() < 1e-4  # percentage points: 1e-6 as a fraction
    for name in ("grid.csv", "resolutions.csv"):
        a, b = (pd.read_csv(outputs[n] / name) for n in ("alone", "packed"))
        assert a.shape == b.shape
        assert ((a["mean"] - b["mean"]).abs().fillna(0) < 1e-4).all()
