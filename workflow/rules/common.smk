# Target lists and parameters derived from the config (no rules here): the plan of the
# validated config (mmcbench.planning.plan), which `mmcbench estimate` prices too; the functions
# below hand it the rules' wildcards.
import os
import shlex

from mmcbench.planning import catalogue, run_paths
from mmcbench.data.registry import dataset_names, get_dataset
from mmcbench.planning.plan import Plan, options
from mmcbench.planning.plan import setting_words as words

# The package CLI with this checkout first on PYTHONPATH, so that jobs need no install.
MMCBENCH = (
    f"PYTHONPATH={shlex.quote(workflow.basedir)}${{PYTHONPATH:+:$PYTHONPATH}} "
    "python -m mmcbench"
)
PLAN = Plan(config)
DATASETS = PLAN.datasets


wildcard_constraints:
    dataset=catalogue.names_pattern(dataset_names()),
    group=r"[A-Za-z0-9_.\-]+",
    method=r"[A-Za-z0-9+\-]+",
    variant=r"[A-Za-z0-9_+\-]+",
    seed=r"\d+",


# Wildcard constraints of the run rules, from the method catalogue.
DEEP_METHOD_PATTERN = catalogue.names_pattern(catalogue.deep_methods())
DEEP_VARIANT_PATTERN = catalogue.names_pattern(catalogue.all_deep_variants())
BASELINE_METHOD_PATTERN = catalogue.names_pattern(catalogue.baseline_methods())

# The plan's flags, records and targets, under the names the rules call.
fetch_flags = PLAN.fetch_flags
baseline_flags = PLAN.baseline_flags
scaling_flag = PLAN.scaling_flag
precision_flag = PLAN.precision_flag
deep_section = PLAN.section
method_setting_flags = PLAN.method_setting_flags
pack_chunks = PLAN.pack_chunks
single_run_seed_pattern = PLAN.single_run_seed_pattern
all_records = PLAN.all_records
grid_records = PLAN.grid_records
reading_grid_records = PLAN.reading_grid_records
study_plan = PLAN.study_plan
study_records = PLAN.study_records
full_model_methods = PLAN.full_model_methods
full_model_runs = PLAN.full_model_runs
paper_checks_grid = PLAN.paper_checks_grid
paper_checks_histories = PLAN.paper_checks_histories
table_targets = PLAN.table_targets
resolution_targets = PLAN.resolution_targets
figure_targets = PLAN.figure_targets


def raw_manifest(wildcards):
    """The fetch manifest of the raw-file group a dataset belongs to."""
    return f"resources/raw/{get_dataset(wildcards.dataset).group}/manifest.json"


def manual_files(wildcards):
    """The hand-placed files of a raw-file group that exist (Plan.manual_files)."""
    return PLAN.manual_files(wildcards.group)


def train_runtime(wildcards):
    """SLURM runtime (minutes) of a deep run: 3 × its estimate from the stored 1-thread CPU
    timings (an upper bound for a GPU), at least 5; 240 when nothing was ever timed. A pack
    asks for the sum over its runs."""
    return PLAN.train_runtime(wildcards.method, wildcards.variant, wildcards.dataset)


def pack_runtime(seeds):
    """SLURM runtime of a pack: the sum of its runs' (`train_runtime`), an upper bound."""
    return lambda wildcards: seeds * train_runtime(wildcards)


def pack_gpus(wildcards):
    """GPUs a pack asks for (SLURM `--gpus`): one, unless its method runs on the CPU."""
    return PLAN.pack_gpus(wildcards.method)


def run_device(wildcards, threads):
    """`--device` of a deep run. Not a rerun trigger: Snakemake does not compare params computed
    from `threads` (as the threads themselves are not), and where a run executes is not what it
    is (README "What you have is never lost")."""
    return PLAN.device(wildcards.method)


def embeddings_at(wildcards):
    """`--embeddings-at` of a deep run."""
    return PLAN.embeddings_at(wildcards.method)


def hparams(wildcards):
    """`--hparams` of a deep run (Plan.deep_hparams)."""
    return PLAN.deep_hparams(wildcards.method)


def setting_words(wildcards):
    """A run's setting in the job's message: `α = 0.5, β = 0.5`, or `default setting`."""
    return words(wildcards.setting)


def setting_flags(wildcards):
    """The options a run's setting part stands for (`--alpha 0.5 --beta 0.5`, or none)."""
    return options(wildcards.setting)


def point_flags(wildcards):
    """`--set key=value` of a resolution-study point (nothing for a default-setting run)."""
    if "key" not in wildcards.keys():
        return ""
    return f"--set {wildcards.key}={wildcards.value}"


def run_pattern(
    suffix, point=False, deep=True, root=run_paths.RUNS_FOLDER, seed="{seed}"
):
    """A run file's path with wildcards (mmcbench.planning.run_paths.run_file, the one spelling)."""
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


def run_files(point=False):
    """A run's three files, `record`, `history` and `embeddings`: one stem, three endings."""
    return multiext(
        run_pattern("", point=point),
        record=".json",
        history=".history.csv",
        embeddings=".embeddings.npz",
    )


def pack_folder(point):
    """The wildcard path of a pack's runs, below results/runs/ (and logs/runs/)."""
    parts = ["{method}", "{dataset}", "{variant}", "{setting}"]
    return os.path.join(*parts, *(["{key}={value}"] if point else []))


def pack_outputs(seeds, suffix, point):
    """The files of each run of a pack: those a single run writes."""
    return [update(run_pattern(suffix, point=point, seed=seed)) for seed in seeds]


TABLE_PAPER = {  # report category of each table
    "table1": "GIB paper",
    "table2": "GIB paper",
    "clib_results": "CLIB paper",
    "clib_ablation": "CLIB paper",
}


def full_model_embeddings(wildcards):
    """Embeddings files of the full GIB and CLIB runs on a dataset, by method (for figures)."""
    return {
        method: full_model_runs(method, wildcards.dataset, ".embeddings.npz")
        for method in full_model_methods()
    }


def tsne_embeddings(wildcards):
    """The embeddings file the t-SNE figure of a method and dataset shows."""
    seed = config["figures"]["tsne_seed"]
    return full_model_runs(
        wildcards.method, wildcards.dataset, ".embeddings.npz", [seed]
    )


# report inputs (H5)
def table_histories():
    """The histories beside the deep table runs' records (`<stem>.history.csv`): the aggregate
    rule reads them for summary.csv's protocol rows."""
    return [
        record.removesuffix(".json") + ".history.csv"
        for record in PLAN.train_records() + PLAN.reading_records()
    ]
