# Target lists and parameters derived from the config (no rules here).
import json
import re
import shlex

from benchmark.data.registry import dataset_names, get_dataset

# The package CLI with this checkout first on PYTHONPATH, so that jobs need no install.
MMCBENCH = (
    f"PYTHONPATH={shlex.quote(workflow.basedir)}${{PYTHONPATH:+:$PYTHONPATH}} "
    "python -m benchmark"
)
SINGLE_VIEW_METHODS = ("KM", "Ncuts")
DATASETS = config["datasets"]
SEEDS = list(range(config["seeds"]))


wildcard_constraints:
    dataset="|".join(re.escape(name) for name in dataset_names()),
    group=r"[A-Za-z0-9_.\-]+",
    method=r"[A-Za-z0-9+\-]+",
    variant=r"[A-Za-z0-9_+\-]+",
    seed=r"\d+",


def raw_manifest(wildcards):
    """The fetch manifest of the raw-file group a dataset belongs to."""
    return f"resources/raw/{get_dataset(wildcards.dataset).group}/manifest.json"


def fetch_flags():
    """Command-line flags of `mmcbench fetch` from the `data` config section."""
    data = config["data"]
    flags = [f"--manual-dir {data['manual_dir']}"]
    if data["mirror"]:
        flags.append(f"--mirror {data['mirror']}")
    if data["offline"]:
        flags.append("--offline")
    return " ".join(flags)


def baseline_flags():
    """Command-line flags of `mmcbench baseline` from the `baselines` config section."""
    b = config["baselines"]
    return (
        f"--n-init {b['n_init']} --n-neighbors {b['n_neighbors']} "
        f"--assign-labels {b['assign_labels']} "
        f"--scaling {config['preprocessing']['scaling']}"
    )


def baseline_variants(method, dataset):
    """`view<i>` for each view of a single-view method, `all` otherwise."""
    if method in SINGLE_VIEW_METHODS:
        return [f"view{i}" for i in range(len(get_dataset(dataset).views))]
    return ["all"]


def baseline_records():
    """Every baseline run record the config asks for."""
    return [
        f"results/runs/{method}/{dataset}/{variant}/seed{seed}.json"
        for dataset in DATASETS
        for method in config["baselines"]["methods"]
        for variant in baseline_variants(method, dataset)
        for seed in SEEDS
    ]


# Hyper-parameters of GIB that are passed to `mmcbench train` as JSON (α and β come from the
# run's path, so that grid points are ordinary runs).
GIB_RUN_KEYS = ("variants", "alpha", "beta", "embeddings_at", "device", "threads")


def setting_dir(alpha, beta):
    """The path component that names a run's (α, β)."""
    return f"a{alpha:g}_b{beta:g}"


def gib_hparams():
    """`--hparams` of `mmcbench train`: the gib config section minus the per-run keys."""
    hparams = {k: v for k, v in config["gib"].items() if k not in GIB_RUN_KEYS}
    return shlex.quote(json.dumps(hparams, sort_keys=True))


def train_records():
    """Every GIB run record (full model and ablations) the config asks for."""
    gib = config["gib"]
    setting = setting_dir(gib["alpha"], gib["beta"])
    return [
        f"results/runs/GIB/{dataset}/{variant}/{setting}/seed{seed}.json"
        for dataset in DATASETS
        for variant in gib["variants"]
        for seed in SEEDS
    ]


def all_records():
    """Every run record the tables are built from."""
    return baseline_records() + train_records()


def table_targets():
    """Rendered tables: Table 1 always, Table 2 when GIB ablations run."""
    names = ["table1"] + (["table2"] if config["gib"]["variants"] else [])
    return [f"results/tables/{n}.{ext}" for n in names for ext in ("md", "tex", "csv")]
