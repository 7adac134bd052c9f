# Target lists and parameters derived from the config (no rules here).
import json
import os
import shlex

import pandas as pd
from snakemake.utils import Paramspace

from benchmark import catalogue, run_paths
from benchmark.data.registry import dataset_names, get_dataset, group_files
from benchmark.config import grid_seeds, method_seed_count, reading_points
from benchmark.run_paths import number_text, setting_of, setting_values
from benchmark.runtime import run_minutes, slurm_runtime
from benchmark.study import RUN_KEYS, study_points

# The package CLI with this checkout first on PYTHONPATH, so that jobs need no install.
MMCBENCH = (
    f"PYTHONPATH={shlex.quote(workflow.basedir)}${{PYTHONPATH:+:$PYTHONPATH}} "
    "python -m benchmark"
)
SINGLE_VIEW_METHODS = catalogue.single_view_methods()
DATASETS = config["datasets"]
SEEDS = list(range(config["seeds"]))


wildcard_constraints:
    dataset=catalogue.names_pattern(dataset_names()),
    group=r"[A-Za-z0-9_.\-]+",
    method=r"[A-Za-z0-9+\-]+",
    variant=r"[A-Za-z0-9_+\-]+",
    seed=r"\d+",


def raw_manifest(wildcards):
    """The fetch manifest of the raw-file group a dataset belongs to."""
    return f"resources/raw/{get_dataset(wildcards.dataset).group}/manifest.json"


def manual_files(wildcards):
    """The hand-placed files of a raw-file group that exist (datasets with no public URL): they
    are inputs of `fetch`, so that replacing one reruns fetch, conversion and every run after
    it. A file not placed yet is no input: fetch then runs and says what to place where.
    """
    folder = os.path.join(config["data"]["manual_dir"], wildcards.group)
    paths = [
        os.path.join(folder, f.name) for f in group_files(wildcards.group) if f.manual
    ]
    return [p for p in paths if os.path.isfile(p)]


def fetch_flags():
    """Command-line flags of `mmcbench fetch` from the `data` config section."""
    data = config["data"]
    flags = [f"--manual-dir {shlex.quote(data['manual_dir'])}"]
    if data["mirror"]:
        flags.append(f"--mirror {shlex.quote(data['mirror'])}")
    if data["offline"]:
        flags.append("--offline")
    return " ".join(flags)


def baseline_flags():
    """Command-line flags of `mmcbench baseline` from the `baselines` config section."""
    b = config["baselines"]
    return (
        f"--n-init {b['n_init']} --n-neighbors {b['n_neighbors']} "
        f"--assign-labels {b['assign_labels']} {scaling_flag()}"
    )


def baseline_variants(method, dataset):
    """`view<i>` for each view of a single-view method, `all` otherwise."""
    if method in SINGLE_VIEW_METHODS:
        return [f"view{i}" for i in range(len(get_dataset(dataset).views))]
    return ["all"]


def baseline_records():
    """Every baseline run record the config asks for."""
    return [
        run_paths.run_file(method, dataset, variant, seed)
        for dataset in DATASETS
        for method in config["baselines"]["methods"]
        for variant in baseline_variants(method, dataset)
        for seed in SEEDS
    ]


# Hyper-parameters of GIB and CLIB are passed to `mmcbench train` as JSON, but for the keys
# the workflow sets per run (RUN_KEYS: α and β come from the run's path, so that grid points
# are ordinary runs; a study point's one change comes from its path too, as --set).
DEEP_METHODS = catalogue.sections()  # method → config section


# Wildcard constraints of the run rules, from the method catalogue.
DEEP_METHOD_PATTERN = catalogue.names_pattern(catalogue.deep_methods())
DEEP_VARIANT_PATTERN = catalogue.names_pattern(catalogue.all_deep_variants())
BASELINE_METHOD_PATTERN = catalogue.names_pattern(catalogue.baseline_methods())


def deep_section(method):
    """The config section of a deep method (`gib` or `clib`)."""
    return config[DEEP_METHODS[method]]


def scaling_flag():
    """`--scaling` of every run, deep and baseline (preprocessing.scaling): a params value, so
    that changing it reruns every run."""
    return f"--scaling {config['preprocessing']['scaling']}"


def precision_flag():
    """`--precision` of every deep run (train.precision): a params value, so that changing it
    reruns them."""
    return f"--precision {config['train']['precision']}"


def deep_hparams(method):
    """`--hparams` of `mmcbench train`: the method's config section minus the per-run keys."""
    section = deep_section(method)
    hparams = {k: v for k, v in section.items() if k not in RUN_KEYS}
    return shlex.quote(json.dumps(hparams, sort_keys=True))


def section_epochs(method, variant=None):
    """Epochs a run of the method's config section (its variant) trains (all stages)."""
    return catalogue.total_epochs(method, deep_section(method), variant)


def train_runtime(wildcards):
    """SLURM runtime (minutes) of a deep run: 3 × its estimate from the stored 1-thread CPU
    timings (an upper bound for a GPU), at least 5; 240 when nothing was ever timed. A pack
    asks for the sum over its runs."""
    minutes = run_minutes(
        wildcards.method,
        wildcards.variant,
        wildcards.dataset,
        section_epochs(wildcards.method, wildcards.variant),
    )
    return slurm_runtime(minutes)


def pack_chunks(point=False):
    """Seed ranges (first, last) of the packs (none when train.pack_size is 1): cut every
    pack_size seeds and at each seed count that asks for runs of the kind (default-setting
    runs: seeds, grid.seeds; study points: resolution.seeds), so that every target's seeds
    0…count−1 are whole packs and no unasked run is trained."""
    size = config["train"]["pack_size"]
    if size == 1:
        return []
    if point:
        counts = {config["resolution"]["seeds"]}
        for (
            m
        ) in DEEP_METHODS:  # the readings' points: at the tables' and the grid's seeds
            if reading_records(m):
                counts |= {len(method_seeds(m)), grid_seeds(deep_section(m))}
    else:
        counts = (
            {config["seeds"]}
            | {
                len(method_seeds(m))
                for m in DEEP_METHODS
                if deep_section(m)["variants"]
            }
            | {
                deep_section(m)["grid"]["seeds"]
                for m in DEEP_METHODS
                if catalogue.path_keys(m)
            }
        )
    counts.discard(0)
    if not counts:
        return []
    cuts = sorted(set(range(0, max(counts), size)) | counts)
    return list(zip(cuts, [c - 1 for c in cuts[1:]]))


def single_run_seed_pattern(point=False):
    """Seeds trained one run per process: every seed without packs, else those beyond them."""
    chunks = pack_chunks(point)
    if not chunks:
        return r"\d+"
    packed = "|".join(str(seed) for seed in range(chunks[-1][1] + 1))
    return rf"(?!(?:{packed})(?!\d))\d+"


def pack_folder(point):
    """The wildcard path of a pack's runs, below results/runs/ (and logs/runs/)."""
    parts = ["{method}", "{dataset}", "{variant}", "{setting}"]
    return os.path.join(*parts, *(["{key}={value}"] if point else []))


def pack_outputs(seeds, suffix, point):
    """The files of each run of a pack: those a single run writes."""
    return [update(run_pattern(suffix, point=point, seed=seed)) for seed in seeds]


def run_pattern(
    suffix, point=False, deep=True, root=run_paths.RUNS_FOLDER, seed="{seed}"
):
    """A run file's path with wildcards (benchmark.run_paths.run_file, the one spelling)."""
    return run_paths.run_file(
        "{method}",
        "{dataset}",
        "{variant}",
        seed,
        suffix,
        setting="{setting}" if deep else None,
        point="{key}={value}" if point else None,
        root=root,
    )


def run_device(wildcards, threads):
    """`--device` of a deep run. Not a rerun trigger: Snakemake does not compare params computed
    from `threads` (as the threads themselves are not), and where a run executes is not what it
    is (README "What you have is never lost")."""
    return deep_section(wildcards.method)["device"]


def pack_gpus(wildcards):
    """GPUs a pack asks for (SLURM `--gpus`): one, unless its method runs on the CPU."""
    return 0 if deep_section(wildcards.method)["device"] == "cpu" else 1


def pack_runtime(seeds):
    """SLURM runtime of a pack: the sum of its runs' (`train_runtime`), an upper bound."""
    return lambda wildcards: seeds * train_runtime(wildcards)


def default_setting(method):
    """The setting part (benchmark.run_paths) of the method's table runs: `a{α}_b{β}` of its
    section's α and β for a method whose path spells them, else `default`."""
    return setting_of(deep_section(method), catalogue.path_keys(method))


def method_setting_flags(method):
    """The options of the method's table setting (`--alpha 0.5 --beta 0.5`, or none)."""
    values = setting_values(default_setting(method))
    return " ".join(f"--{key} {number_text(value)}" for key, value in values.items())


def setting_words(wildcards):
    """A run's setting in the job's message: `α = 0.5, β = 0.5`, or `default setting`."""
    values = setting_values(wildcards.setting)
    symbols = {"alpha": "α", "beta": "β"}
    words = [f"{symbols[k]} = {number_text(v)}" for k, v in values.items()]
    return ", ".join(words) or "default setting"


def setting_flags(wildcards):
    """The options a run's setting part stands for (`--alpha 0.5 --beta 0.5`, or none)."""
    values = setting_values(wildcards.setting)
    return " ".join(f"--{key} {number_text(value)}" for key, value in values.items())


def deep_run(method, dataset, variant, setting, seed, suffix=".json"):
    """A deep run's file (record by default; `.history.csv`, `.embeddings.npz` beside it)."""
    return run_paths.run_file(method, dataset, variant, seed, suffix, setting=setting)


def train_records(method=None):
    """Every deep run record (full models and ablations) the config asks for."""
    methods = [method] if method else list(DEEP_METHODS)
    return [
        deep_run(m, dataset, variant, default_setting(m), seed)
        for m in methods
        for dataset in DATASETS
        for variant in deep_section(m)["variants"]
        for seed in method_seeds(m)
    ]


def method_seeds(method):
    """Seeds of a deep method's table runs: its section's `seeds`, else the top-level one."""
    return list(range(method_seed_count(config, DEEP_METHODS[method])))


def grid_space(method):
    """The method's α/β grid as a Paramspace whose instances are run path components
    (`a0.1_b0.5`, the same spelling as `setting_dir`, so a grid point at the default (α, β)
    is the very same run file)."""
    grid = deep_section(method)["grid"]
    points = pd.DataFrame(
        [
            (number_text(a), number_text(b))
            for a in grid["alphas"]
            for b in grid["betas"]
        ],
        columns=["a", "b"],
    )
    return Paramspace(points, filename_params="*", param_sep="")


def grid_methods():
    """Deep methods whose α/β grid is switched on (grid.seeds > 0); a method whose path spells
    no key has no grid."""
    return [
        m
        for m in DEEP_METHODS
        if catalogue.path_keys(m) and grid_seeds(deep_section(m)) > 0
    ]


def grid_records(method=None):
    """Every run record of the α/β grids: the full model per dataset, point and grid seed."""
    methods = [method] if method else grid_methods()
    return [
        deep_run(m, dataset, m, point, seed)
        for m in methods
        for dataset in DATASETS
        for point in grid_space(m).instance_patterns
        for seed in range(deep_section(m)["grid"]["seeds"])
    ]


def all_records():
    """Every run record the tables are built from: the baselines, the deep runs and the full
    models under each reading (`readings`)."""
    return baseline_records() + train_records() + reading_records()


def reading_parts(method):
    """Path parts (`compression=sampled`) of the method's readings (`readings` of its section;
    none without its full model among the table runs)."""
    section = deep_section(method)
    if method not in section["variants"]:
        return []
    return [run_paths.point_dir(key, value) for key, value in reading_points(section)]


def reading_records(method=None):
    """Run records of the full models under each reading: at the tables' setting and seeds."""
    methods = [method] if method else list(DEEP_METHODS)
    return [
        deep_run(m, dataset, m, f"{default_setting(m)}/{part}", seed)
        for m in methods
        for part in reading_parts(m)
        for dataset in DATASETS
        for seed in method_seeds(m)
    ]


def reading_grid_records(method=None):
    """Run records of the α/β grid under each reading (grid.readings), one seed set per point."""
    methods = [method] if method else grid_methods()
    return [
        deep_run(m, dataset, m, f"{point}/{part}", seed)
        for m in methods
        if deep_section(m)["grid"].get("readings")
        for part in reading_parts(m)
        for dataset in DATASETS
        for point in grid_space(m).instance_patterns
        for seed in range(deep_section(m)["grid"]["seeds"])
    ]


def paper_checks_grid():
    """The grid summary the paper checks read (none without a grid)."""
    return ["results/grid.csv"] if grid_methods() else []


def paper_checks_histories():
    """The histories of the paper methods' full-model table runs, under every reading."""
    histories = []
    for m in full_model_methods():
        if catalogue.get(m).role != "paper":
            continue
        settings = [default_setting(m)]
        settings += [f"{default_setting(m)}/{part}" for part in reading_parts(m)]
        histories += [
            deep_run(m, dataset, m, setting, seed, ".history.csv")
            for setting in settings
            for dataset in DATASETS
            for seed in method_seeds(m)
        ]
    return histories


def point_flags(wildcards):
    """`--set key=value` of a resolution-study point (nothing for a default-setting run)."""
    if "key" not in wildcards.keys():
        return ""
    return f"--set {wildcards.key}={wildcards.value}"


def study_plan():
    """Every point of the resolution study (benchmark.study), default points first."""
    study = config["resolution"]
    if study["seeds"] == 0:
        return []
    sections = {m: deep_section(m) for m in DEEP_METHODS}
    return study_points(study["variants"], study["keys"], sections)


def study_records():
    """Run records of the study's trained points: per dataset and study seed. The default
    point is the tables' run path; a changed key adds `<key>=<value>/`."""
    records = []
    for point in study_plan():
        if not point.trained:
            continue
        setting = default_setting(point.method)
        if point.path_part:
            setting = f"{setting}/{point.path_part}"
        records += [
            deep_run(point.method, dataset, point.variant, setting, seed)
            for dataset in DATASETS
            for seed in range(config["resolution"]["seeds"])
        ]
    return records


def resolution_targets():
    """The study's CSV, table and figure (none without a study)."""
    if not study_plan():
        return []
    tables = [f"results/tables/resolutions.{ext}" for ext in TABLE_FORMATS]
    return ["results/resolutions.csv", *tables, *figure_files("figures/resolutions")]


TABLE_FORMATS = ("md", "html", "tex", "csv")  # html: what the report shows inline
TABLE_PAPER = {  # report category of each table
    "table1": "GIB paper",
    "table2": "GIB paper",
    "clib_results": "CLIB paper",
    "clib_ablation": "CLIB paper",
}


def table_settings(table):
    """`--setting METHOD α β` of `mmcbench render` for the deep methods a table has rows of."""
    from benchmark.tables import TABLES, table_methods

    return " ".join(
        f"--setting {method} {deep_section(method)['alpha']} {deep_section(method)['beta']}"
        for method in table_methods(TABLES[table])
        if catalogue.path_keys(method)
    )


def table_targets():
    """Rendered tables: Table 1 always, Table 2 with GIB runs, the CLIB tables with CLIB runs."""
    names = ["table1"]
    if config["gib"]["variants"]:
        names.append("table2")
    if config["clib"]["variants"]:
        names += ["clib_results", "clib_ablation"]
    return [f"results/tables/{n}.{ext}" for n in names for ext in TABLE_FORMATS]


def full_model_embeddings(wildcards):
    """Embeddings files of the full GIB and CLIB runs on a dataset, by method (for figures)."""
    return {
        method: full_model_runs(method, wildcards.dataset, ".embeddings.npz")
        for method in full_model_methods()
    }


def full_model_methods():
    """Deep methods whose full model (variant = method name) is among the table runs."""
    return [m for m in DEEP_METHODS if m in deep_section(m)["variants"]]


def full_model_runs(method, dataset, suffix, seeds=None):
    """Files of the full model's table runs (default α, β) on a dataset, one per seed."""
    return [
        deep_run(method, dataset, method, default_setting(method), seed, suffix)
        for seed in (method_seeds(method) if seeds is None else seeds)
    ]


def tsne_embeddings(wildcards):
    """The embeddings file the t-SNE figure of a method and dataset shows."""
    seed = config["figures"]["tsne_seed"]
    return full_model_runs(
        wildcards.method, wildcards.dataset, ".embeddings.npz", [seed]
    )


def figure_files(stem):
    """A figure's PNG and PDF."""
    return [f"{stem}.png", f"{stem}.pdf"]


def figure_targets():
    """Every figure the config asks for: reliability diagrams, convergence curves, dynamics
    and t-SNE of the full models, α/β grids, and the paper-vs-reproduced overview."""
    targets = figure_files("figures/paper_vs_reproduced")
    full = full_model_methods()
    if full:
        targets += [f"figures/reliability/{dataset}.png" for dataset in DATASETS]
    for method in full:
        for dataset in DATASETS:
            targets += figure_files(f"figures/convergence/{method}_{dataset}")
            targets += figure_files(f"figures/dynamics/{method}_{dataset}")
            targets += figure_files(f"figures/tsne/{method}_{dataset}")
    for method in grid_methods():
        targets += [
            f"figures/grid/{method}_{dataset}_{metric}.{ext}"
            for dataset in DATASETS
            for metric in config["figures"]["grid_metrics"]
            for ext in ("png", "pdf")
        ]
    return targets
