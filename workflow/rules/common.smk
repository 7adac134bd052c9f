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


# Hyper-parameters of GIB and CLIB that are passed to `mmcbench train` as JSON (α and β come
# from the run's path, so that grid points are ordinary runs).
DEEP_METHODS = {"GIB": "gib", "CLIB": "clib"}  # method → config section
DEEP_RUN_KEYS = ("variants", "alpha", "beta", "embeddings_at", "device", "threads")


def setting_dir(alpha, beta):
    """The path component that names a run's (α, β)."""
    return f"a{alpha:g}_b{beta:g}"


def deep_section(method):
    """The config section of a deep method (`gib` or `clib`)."""
    return config[DEEP_METHODS[method]]


def deep_hparams(method):
    """`--hparams` of `mmcbench train`: the method's config section minus the per-run keys."""
    section = deep_section(method)
    hparams = {k: v for k, v in section.items() if k not in DEEP_RUN_KEYS}
    return shlex.quote(json.dumps(hparams, sort_keys=True))


def train_records(method=None):
    """Every deep run record (full models and ablations) the config asks for."""
    methods = [method] if method else list(DEEP_METHODS)
    return [
        f"results/runs/{m}/{dataset}/{variant}/"
        f"{setting_dir(deep_section(m)['alpha'], deep_section(m)['beta'])}/seed{seed}.json"
        for m in methods
        for dataset in DATASETS
        for variant in deep_section(m)["variants"]
        for seed in SEEDS
    ]


def all_records():
    """Every run record the tables are built from."""
    return baseline_records() + train_records()


def table_targets():
    """Rendered tables: Table 1 always, Table 2 with GIB runs, the CLIB tables with CLIB runs."""
    names = ["table1"]
    if config["gib"]["variants"]:
        names.append("table2")
    if config["clib"]["variants"]:
        names += ["clib_results", "clib_ablation"]
    return [f"results/tables/{n}.{ext}" for n in names for ext in ("md", "tex", "csv")]


def full_model_embeddings(wildcards):
    """Embeddings files of the full GIB and CLIB runs on a dataset, by method (for figures)."""
    runs = {}
    for method in DEEP_METHODS:
        if method in deep_section(method)["variants"]:
            runs[method] = [
                record.removesuffix(".json") + ".embeddings.npz"
                for record in train_records(method)
                if f"/{method}/{wildcards.dataset}/{method}/" in record
            ]
    return runs


def figure_targets():
    """Reliability diagrams, one per dataset, when GIB or CLIB (full model) runs."""
    if not any(method in deep_section(method)["variants"] for method in DEEP_METHODS):
        return []
    return [f"figures/reliability/{dataset}.png" for dataset in DATASETS]
