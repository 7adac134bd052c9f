"""The workflow's plan (mmcbench.planning.plan) against the independent oracle of
tests/test_workflow.py, for every shipped config, without a Snakemake subprocess."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml
from snakemake.utils import update_config

from mmcbench.planning.config import SCHEMA_PATH, validated_config
from mmcbench.planning.plan import Plan, options, setting_words
from mmcbench.planning.run_paths import RUNS_FOLDER, parse_run_path
from tests.test_workflow import (
    planned_baselines,
    planned_figures,
    planned_points,
    planned_runs,
    planned_study,
    planned_study_defaults,
    spelt,
)

REPO = Path(__file__).resolve().parent.parent
CONFIGS = [
    ["config/demo.yaml"],
    ["config/smoke.yaml"],
    ["config/config.yaml"],
    ["config/extended.yaml"],
    ["config/demo.yaml", "config/resolutions/first-reading.yaml"],
    ["config/extended.yaml", "config/mirror-shared.yaml"],
]


def merged(files: list[Path], **overrides) -> dict:
    """The config files merged in order as Snakemake merges them, then `overrides` (a section
    updated key by key, as tests/test_workflow.py's write_config does)."""
    config: dict = {}
    for path in files:
        update_config(config, yaml.safe_load(Path(path).read_text()) or {})
    for key, value in overrides.items():
        if isinstance(value, dict):
            config.setdefault(key, {}).update(value)
        else:
            config[key] = value
    return config


def plan_of(raw: dict) -> Plan:
    """The plan of a raw config, validated and completed as the Snakefile does."""
    config = copy.deepcopy(raw)
    validated_config(config, SCHEMA_PATH)
    return Plan(config)


def identities(plan: Plan, kind: str) -> set[tuple]:
    """The planned runs of one kind as the oracle spells them."""
    found = set()
    for run in plan.runs():
        if run.kind != kind:
            continue
        r = parse_run_path(run.path, RUNS_FOLDER)
        if kind == "point":
            found.add(
                (r.method, r.dataset, r.variant, r.key, spelt(r.value), r.seed, r.alpha, r.beta)
            )
        elif kind == "deep":
            found.add((r.method, r.dataset, r.variant, r.alpha, r.beta, r.seed))
        else:
            found.add((r.method, r.dataset, r.variant, r.seed))
    return found


@pytest.mark.parametrize("files", CONFIGS, ids=lambda files: "+".join(Path(f).stem for f in files))
def test_the_plan_of_each_config_is_the_oracles(files):
    raw = merged([REPO / f for f in files])
    plan = plan_of(raw)
    runs = plan.runs()
    assert len({run.path for run in runs}) == len(runs)  # a run two targets ask for is one
    assert identities(plan, "deep") == planned_runs(raw) | planned_study_defaults(raw)
    assert identities(plan, "point") == planned_points(raw)
    assert len(identities(plan, "baseline")) == planned_baselines(raw)
    # The resolution study's trained changed points are among the point runs.
    study = {(m, d, v, k, val, s) for m, d, v, k, val, s, *_ in identities(plan, "point")}
    assert planned_study(raw) <= study
    # One figure job per target figure, per rule (t-SNE: its coordinates and its figure).
    figures = plan.figure_targets()
    counted = {
        "reliability": sum(f.startswith("figures/reliability/") for f in figures),
        "convergence_figure": sum(
            f.startswith("figures/convergence/") and f.endswith(".png") for f in figures
        ),
        "dynamics_figure": sum(
            f.startswith("figures/dynamics/") and f.endswith(".png") for f in figures
        ),
        "tsne": sum(f.startswith("figures/tsne/") and f.endswith(".png") for f in figures),
        "tsne_figure": sum(f.startswith("figures/tsne/") and f.endswith(".png") for f in figures),
        "grid_figure": sum(f.startswith("figures/grid/") and f.endswith(".png") for f in figures),
        "grid_summary": len(plan.paper_checks_grid()),
        "paper_vs_reproduced": sum(f.startswith("figures/paper_vs_reproduced") for f in figures)
        // 2,
    }
    assert counted == planned_figures(raw)
    assert len(plan.table_targets()) == 4 * 4  # table1, table2, clib_results, clib_ablation
    study_on = bool(raw.get("resolution", {}).get("seeds"))
    assert bool(plan.resolution_targets()) == study_on


def test_the_studys_default_points_are_the_tables_runs_and_inert_keys_are_not_trained():
    """demo-sized: kl_reduction = mean is the configured value (no point); DDC cannot feel
    kl_reduction (inert, not trained); a run both the tables and the study ask for is one."""
    raw = merged(
        [REPO / "config/demo.yaml"],
        seeds=1,
        baselines={"methods": ["AmKM"]},
        gib={"variants": ["GIB", "DDC"], "grid": {"seeds": 0}, "readings": {}},
        clib={"variants": ["CLIB"], "grid": {"seeds": 0}, "readings": {}},
        **{m: {"variants": []} for m in ("simvc", "comvc", "mflvc", "divide", "dealmvc", "coper")},
        resolution={
            "seeds": 2,
            "variants": {"GIB": ["GIB", "DDC"], "CLIB": ["CLIB"]},
            "keys": {"kl_reduction": ["mean", "sum"]},
        },
    )
    plan = plan_of(raw)
    paths = {run.path for run in plan.runs() if run.kind != "baseline"}
    default = "a0.5_b0.5"
    assert paths == {
        f"results/runs/{m}/mfeat/{v}/{default}/seed{s}.json"
        for m, v in (("GIB", "GIB"), ("GIB", "DDC"), ("CLIB", "CLIB"))
        for s in (0, 1)
    } | {
        f"results/runs/{m}/mfeat/{m}/{default}/kl_reduction=sum/seed{s}.json"
        for m in ("GIB", "CLIB")
        for s in (0, 1)
    }
    inert = [p for p in plan.study_plan() if not p.trained]
    assert [(p.method, p.variant, p.key) for p in inert] == [("GIB", "DDC", "kl_reduction")]


@pytest.mark.parametrize("size", [2, 3, 50])
def test_packs_cut_at_every_seed_count_so_no_unasked_run_is_trained(size):
    """smoke: 2 seeds, grid 2, study 1, readings at 2: default-setting runs in one pack 0-1,
    points in packs 0-0 and 1-1 (the study's seed count cuts them); every group of runs of
    one setting is whole packs."""
    raw = merged([REPO / "config/smoke.yaml"], train={"pack_size": size})
    plan = plan_of(raw)
    assert plan.pack_chunks() == [(0, 1)]
    assert plan.pack_chunks(point=True) == [(0, 0), (1, 1)]
    for point in (False, True):
        chunks = plan.pack_chunks(point)
        groups: dict[str, set[int]] = {}
        for run in plan.runs():
            if run.kind == ("point" if point else "deep"):
                folder, _, seed = run.path.rpartition("/seed")
                groups.setdefault(folder, set()).add(int(seed.removesuffix(".json")))
        for seeds in groups.values():
            for first, last in chunks:  # a pack is wholly asked for or wholly not
                assert set(range(first, last + 1)) <= seeds or not seeds & set(
                    range(first, last + 1)
                )
    assert plan.single_run_seed_pattern() == r"(?!(?:0|1)(?!\d))\d+"
    one = plan_of(merged([REPO / "config/smoke.yaml"], train={"pack_size": 1}))
    assert one.pack_chunks() == [] and one.single_run_seed_pattern() == r"\d+"


def test_a_method_with_its_own_seeds_plans_only_those():
    raw = merged(
        [REPO / "config/smoke.yaml"],
        seeds=3,
        clib={"seeds": 1, "grid": {"alphas": [0.5, 1.0], "betas": [0.5], "seeds": 1}},
        train={"pack_size": 2},
    )
    plan = plan_of(raw)
    seeds = {
        m: {parse_run_path(r.path, RUNS_FOLDER).seed for r in plan.runs() if r.method == m}
        for m in ("GIB", "CLIB")
    }
    assert seeds == {"GIB": {0, 1, 2}, "CLIB": {0}}
    assert identities(plan, "deep") == planned_runs(raw) | planned_study_defaults(raw)
    assert identities(plan, "point") == planned_points(raw)
    assert plan.pack_chunks() == [(0, 0), (1, 1), (2, 2)]


def test_flags_and_words_of_a_setting():
    plan = plan_of(merged([REPO / "config/smoke.yaml"]))
    assert options("a0.5_b1") == "--alpha 0.5 --beta 1" and options("default") == ""
    assert setting_words("a0.5_b1") == "α = 0.5, β = 1"
    assert setting_words("default") == "default setting"
    assert plan.method_setting_flags("GIB") == "--alpha 0.5 --beta 0.5"
    assert plan.scaling_flag() == "--scaling minmax"
    assert plan.baseline_flags().endswith("--assign-labels discretize --scaling minmax")
    assert "--offline" in plan.fetch_flags() and "--mirror ../shared/datasets" in plan.fetch_flags()
    hparams = plan.deep_hparams("GIB")
    assert '"epochs": 2' in hparams and '"alpha"' not in hparams and '"grid"' not in hparams
    assert plan.pack_gpus("GIB") == 0 and plan.embeddings_at("GIB") == "0 2"


def test_planning_imports_neither_torch_nor_pandas():
    """The Snakefile imports the plan in the Snakemake process."""
    import subprocess
    import sys

    code = (
        "import sys, mmcbench.planning.plan, mmcbench.planning.estimate;"
        "print(sorted(m for m in ('torch', 'pandas') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_a_runs_slurm_runtime_comes_from_the_stored_timings():
    """3 × the stored estimate, at least 5 min (mmcbench.planning.runtime)."""
    from mmcbench.planning.runtime import run_minutes, slurm_runtime

    plan = plan_of(merged([REPO / "config/config.yaml"]))
    minutes = run_minutes("GIB", "GIB", "mfeat", plan.section_epochs("GIB", "GIB"))
    assert minutes and plan.train_runtime("GIB", "GIB", "mfeat") == slurm_runtime(minutes)
    assert plan.train_runtime("GIB", "DDC", "mfeat") >= 5
