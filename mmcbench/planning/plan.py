"""What a workflow config asks for: every run record, target file and per-run flag of its DAG.

The Snakefile (workflow/rules/common.smk) reads its targets and the rules' flags from a `Plan`
of its validated config, and `mmcbench estimate` prices the same plan, so both see the same
runs. A run record's path follows the run-path grammar (mmcbench.planning.run_paths); a run
two targets ask for (a grid point at the tables' α and β, a study's default point) is one file.

Torch- and pandas-free: the Snakefile imports it in the Snakemake process.
"""

from __future__ import annotations

import json
import os
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mmcbench.data.registry import get_dataset, group_files
from mmcbench.planning import catalogue, run_paths
from mmcbench.planning.config import grid_seeds, method_seed_count, reading_points
from mmcbench.planning.run_paths import number_text, setting_dir, setting_of, setting_values
from mmcbench.planning.runtime import run_minutes, slurm_runtime
from mmcbench.planning.study import RUN_KEYS, StudyPoint, study_points

TABLE_FORMATS = ("md", "html", "tex", "csv")  # html: what the report shows inline
SYMBOLS = {"alpha": "α", "beta": "β"}
RUNS_ROOT = run_paths.RUNS_FOLDER + "/"


def figure_files(stem: str) -> list[str]:
    """A figure's PNG and PDF."""
    return [f"{stem}.png", f"{stem}.pdf"]


def options(setting: str) -> str:
    """The options a setting part stands for (`--alpha 0.5 --beta 0.5`, or none)."""
    values = setting_values(setting)
    return " ".join(f"--{key} {number_text(value)}" for key, value in values.items())


def setting_words(setting: str) -> str:
    """A setting part in words: `α = 0.5, β = 0.5`, or `default setting`."""
    words = [f"{SYMBOLS[k]} = {number_text(v)}" for k, v in setting_values(setting).items()]
    return ", ".join(words) or "default setting"


@dataclass(frozen=True)
class PlannedRecord:
    """One run record of the plan: its path, and its method, dataset and variant."""

    path: str
    method: str
    dataset: str
    variant: str
    kind: str  # "baseline", "deep" (default setting or grid point) or "point" (`key=value`)


class Plan:
    """The runs and targets of one validated workflow config (schema defaults filled in)."""

    def __init__(self, config: Mapping[str, Any]) -> None:
        self.config = config
        self.datasets: list[str] = list(config["datasets"])
        self.seeds = list(range(config["seeds"]))
        self.deep_methods: dict[str, str] = catalogue.sections()  # method → config section

    # --- flags of every run -----------------------------------------------------------------

    def fetch_flags(self) -> str:
        """Command-line flags of `mmcbench fetch` from the `data` config section."""
        data = self.config["data"]
        flags = [f"--manual-dir {shlex.quote(data['manual_dir'])}"]
        if data["mirror"]:
            flags.append(f"--mirror {shlex.quote(data['mirror'])}")
        if data["offline"]:
            flags.append("--offline")
        return " ".join(flags)

    def scaling_flag(self) -> str:
        """`--scaling` of every run, deep and baseline (preprocessing.scaling)."""
        return f"--scaling {self.config['preprocessing']['scaling']}"

    def precision_flag(self) -> str:
        """`--precision` of every deep run (train.precision)."""
        return f"--precision {self.config['train']['precision']}"

    def baseline_flags(self) -> str:
        """Command-line flags of `mmcbench baseline` from the `baselines` config section."""
        b = self.config["baselines"]
        return (
            f"--n-init {b['n_init']} --n-neighbors {b['n_neighbors']} "
            f"--assign-labels {b['assign_labels']} {self.scaling_flag()}"
        )

    def section(self, method: str) -> Mapping[str, Any]:
        """The config section of a deep method."""
        return self.config[self.deep_methods[method]]

    def deep_hparams(self, method: str) -> str:
        """`--hparams` of `mmcbench train`: the method's config section minus the keys the
        workflow sets per run (RUN_KEYS: α and β from the run's path, a study point's change
        as --set), shell-quoted JSON."""
        hparams = {k: v for k, v in self.section(method).items() if k not in RUN_KEYS}
        return shlex.quote(json.dumps(hparams, sort_keys=True))

    def embeddings_at(self, method: str) -> str:
        """`--embeddings-at` of a deep method's runs."""
        return " ".join(str(e) for e in self.section(method)["embeddings_at"])

    def section_epochs(self, method: str, variant: str | None = None) -> int:
        """Epochs a run of the method's config section (its variant) trains (all stages)."""
        return catalogue.total_epochs(method, self.section(method), variant)

    def train_runtime(self, method: str, variant: str, dataset: str) -> int:
        """SLURM runtime (minutes) of a deep run: 3 × its estimate from the stored 1-thread
        CPU timings (an upper bound for a GPU), at least 5; 240 when nothing was ever timed."""
        epochs = self.section_epochs(method, variant)
        return slurm_runtime(run_minutes(method, variant, dataset, epochs))

    def device(self, method: str) -> str:
        """`--device` of a deep method's runs."""
        return self.section(method)["device"]

    def pack_gpus(self, method: str) -> int:
        """GPUs a pack asks for (SLURM `--gpus`): one, unless its method runs on the CPU."""
        return 0 if self.device(method) == "cpu" else 1

    # --- deep runs ----------------------------------------------------------------------------

    def default_setting(self, method: str) -> str:
        """The setting part of the method's table runs: `a{α}_b{β}` of its section's α and β
        for a method whose path spells them, else `default`."""
        return setting_of(self.section(method), catalogue.path_keys(method))

    def method_setting_flags(self, method: str) -> str:
        """The options of the method's table setting (`--alpha 0.5 --beta 0.5`, or none)."""
        return options(self.default_setting(method))

    def method_seeds(self, method: str) -> list[int]:
        """Seeds of a deep method's table runs: its section's `seeds`, else the top-level one."""
        return list(range(method_seed_count(self.config, self.deep_methods[method])))

    def deep_run(
        self,
        method: str,
        dataset: str,
        variant: str,
        setting: str,
        seed: int | str,
        suffix: str = ".json",
    ) -> str:
        """A deep run's file (record by default; `.history.csv`, `.embeddings.npz` beside)."""
        return run_paths.run_file(method, dataset, variant, seed, suffix, setting=setting)

    def train_records(self, method: str | None = None) -> list[str]:
        """Every deep table run record (full models and ablations) the config asks for."""
        methods = [method] if method else list(self.deep_methods)
        return [
            self.deep_run(m, dataset, variant, self.default_setting(m), seed)
            for m in methods
            for dataset in self.datasets
            for variant in self.section(m)["variants"]
            for seed in self.method_seeds(m)
        ]

    def grid_settings(self, method: str) -> list[str]:
        """The setting parts of the method's α/β grid points (`a0.1_b0.5`: a point at the
        table's α and β is the very same run file)."""
        grid = self.section(method)["grid"]
        return [setting_dir(a, b) for a in grid["alphas"] for b in grid["betas"]]

    def grid_methods(self) -> list[str]:
        """Deep methods whose α/β grid is on (grid.seeds > 0); a method whose path spells no
        key has no grid."""
        return [
            m
            for m in self.deep_methods
            if catalogue.path_keys(m) and grid_seeds(self.section(m)) > 0
        ]

    def grid_records(self, method: str | None = None) -> list[str]:
        """Every run record of the α/β grids: the full model per dataset, point and seed."""
        methods = [method] if method else self.grid_methods()
        return [
            self.deep_run(m, dataset, m, point, seed)
            for m in methods
            for dataset in self.datasets
            for point in self.grid_settings(m)
            for seed in range(self.section(m)["grid"]["seeds"])
        ]

    def reading_parts(self, method: str) -> list[str]:
        """Path parts (`compression=sampled`) of the method's readings (none without its full
        model among the table runs)."""
        section = self.section(method)
        if method not in section["variants"]:
            return []
        return [run_paths.point_dir(key, value) for key, value in reading_points(section)]

    def reading_records(self, method: str | None = None) -> list[str]:
        """Run records of the full models under each reading: at the tables' setting, seeds."""
        methods = [method] if method else list(self.deep_methods)
        return [
            self.deep_run(m, dataset, m, f"{self.default_setting(m)}/{part}", seed)
            for m in methods
            for part in self.reading_parts(m)
            for dataset in self.datasets
            for seed in self.method_seeds(m)
        ]

    def reading_grid_records(self, method: str | None = None) -> list[str]:
        """Run records of the α/β grid under each reading (grid.readings)."""
        methods = [method] if method else self.grid_methods()
        return [
            self.deep_run(m, dataset, m, f"{point}/{part}", seed)
            for m in methods
            if self.section(m)["grid"].get("readings")
            for part in self.reading_parts(m)
            for dataset in self.datasets
            for point in self.grid_settings(m)
            for seed in range(self.section(m)["grid"]["seeds"])
        ]

    # --- baselines ----------------------------------------------------------------------------

    def baseline_variants(self, method: str, dataset: str) -> list[str]:
        """`view<i>` for each view of a single-view method, `all` otherwise."""
        if method in catalogue.single_view_methods():
            return [f"view{i}" for i in range(len(get_dataset(dataset).views))]
        return ["all"]

    def baseline_records(self) -> list[str]:
        """Every baseline run record the config asks for."""
        return [
            run_paths.run_file(method, dataset, variant, seed)
            for dataset in self.datasets
            for method in self.config["baselines"]["methods"]
            for variant in self.baseline_variants(method, dataset)
            for seed in self.seeds
        ]

    def all_records(self) -> list[str]:
        """Every run record the tables are built from: the baselines, the deep runs and the
        full models under each reading."""
        return self.baseline_records() + self.train_records() + self.reading_records()

    # --- the resolution study -----------------------------------------------------------------

    def study_plan(self) -> list[StudyPoint]:
        """Every point of the resolution study (mmcbench.planning.study), defaults first."""
        study = self.config["resolution"]
        if study["seeds"] == 0:
            return []
        sections = {m: self.section(m) for m in self.deep_methods}
        return study_points(study["variants"], study["keys"], sections)

    def study_records(self) -> list[str]:
        """Run records of the study's trained points, per dataset and study seed: the default
        point is the tables' run path; a changed key adds `<key>=<value>/`."""
        records = []
        for point in self.study_plan():
            if not point.trained:
                continue
            setting = self.default_setting(point.method)
            if point.path_part:
                setting = f"{setting}/{point.path_part}"
            records += [
                self.deep_run(point.method, dataset, point.variant, setting, seed)
                for dataset in self.datasets
                for seed in range(self.config["resolution"]["seeds"])
            ]
        return records

    # --- every run ------------------------------------------------------------------------------

    def runs(self) -> list[PlannedRecord]:
        """Every distinct run record of the DAG (tables, readings, grids, study), in order."""
        paths = (
            self.all_records()
            + self.grid_records()
            + self.reading_grid_records()
            + self.study_records()
        )
        kinds = {0: "baseline", 1: "deep", 2: "point"}  # parts between variant and seed
        runs = []
        for path in dict.fromkeys(paths):
            method, dataset, variant, *setting, _ = path[len(RUNS_ROOT) :].split("/")
            runs.append(PlannedRecord(path, method, dataset, variant, kinds[len(setting)]))
        return runs

    # --- packs ----------------------------------------------------------------------------------

    def pack_chunks(self, point: bool = False) -> list[tuple[int, int]]:
        """Seed ranges (first, last) of the packs (none when train.pack_size is 1): cut every
        pack_size seeds and at each seed count that asks for runs of the kind (default-setting
        runs: seeds, grid.seeds; study points: resolution.seeds, and the readings' table and
        grid seeds), so that every target's seeds 0…count−1 are whole packs and no unasked
        run is trained."""
        size = self.config["train"]["pack_size"]
        if size == 1:
            return []
        if point:
            counts = {self.config["resolution"]["seeds"]}
            for m in self.deep_methods:
                if self.reading_records(m):
                    counts |= {len(self.method_seeds(m)), grid_seeds(self.section(m))}
        else:
            counts = (
                {self.config["seeds"]}
                | {
                    len(self.method_seeds(m))
                    for m in self.deep_methods
                    if self.section(m)["variants"]
                }
                | {
                    self.section(m)["grid"]["seeds"]
                    for m in self.deep_methods
                    if catalogue.path_keys(m)
                }
            )
        counts.discard(0)
        if not counts:
            return []
        cuts = sorted(set(range(0, max(counts), size)) | counts)
        return list(zip(cuts, [c - 1 for c in cuts[1:]], strict=False))

    def single_run_seed_pattern(self, point: bool = False) -> str:
        """Seeds trained one run per process: every seed without packs, else those beyond."""
        chunks = self.pack_chunks(point)
        if not chunks:
            return r"\d+"
        packed = "|".join(str(seed) for seed in range(chunks[-1][1] + 1))
        return rf"(?!(?:{packed})(?!\d))\d+"

    # --- report targets ---------------------------------------------------------------------

    def full_model_methods(self) -> list[str]:
        """Deep methods whose full model (variant = method name) is among the table runs."""
        return [m for m in self.deep_methods if m in self.section(m)["variants"]]

    def full_model_runs(
        self, method: str, dataset: str, suffix: str, seeds: list[int] | None = None
    ) -> list[str]:
        """Files of the full model's table runs (default α, β) on a dataset, one per seed."""
        return [
            self.deep_run(method, dataset, method, self.default_setting(method), seed, suffix)
            for seed in (self.method_seeds(method) if seeds is None else seeds)
        ]

    def paper_checks_grid(self) -> list[str]:
        """The grid summary the paper checks read (none without a grid)."""
        return ["results/grid.csv"] if self.grid_methods() else []

    def paper_checks_histories(self) -> list[str]:
        """The histories of the paper methods' full-model table runs, under every reading."""
        histories = []
        for m in self.full_model_methods():
            if catalogue.get(m).role != "paper":
                continue
            settings = [self.default_setting(m)]
            settings += [f"{self.default_setting(m)}/{part}" for part in self.reading_parts(m)]
            histories += [
                self.deep_run(m, dataset, m, setting, seed, ".history.csv")
                for setting in settings
                for dataset in self.datasets
                for seed in self.method_seeds(m)
            ]
        return histories

    def table_targets(self) -> list[str]:
        """Rendered tables: Table 1 always, Table 2 with GIB runs, the CLIB tables with CLIB
        runs."""
        names = ["table1"]
        if self.config["gib"]["variants"]:
            names.append("table2")
        if self.config["clib"]["variants"]:
            names += ["clib_results", "clib_ablation"]
        return [f"results/tables/{n}.{ext}" for n in names for ext in TABLE_FORMATS]

    def resolution_targets(self) -> list[str]:
        """The study's CSV, table and figure (none without a study)."""
        if not self.study_plan():
            return []
        tables = [f"results/tables/resolutions.{ext}" for ext in TABLE_FORMATS]
        return ["results/resolutions.csv", *tables, *figure_files("figures/resolutions")]

    def figure_targets(self) -> list[str]:
        """Every figure the config asks for: reliability diagrams, convergence curves,
        dynamics and t-SNE of the full models, α/β grids, and the paper-vs-reproduced one."""
        targets = figure_files("figures/paper_vs_reproduced")
        full = self.full_model_methods()
        if full:
            targets += [f"figures/reliability/{dataset}.png" for dataset in self.datasets]
        for method in full:
            for dataset in self.datasets:
                targets += figure_files(f"figures/convergence/{method}_{dataset}")
                targets += figure_files(f"figures/dynamics/{method}_{dataset}")
                targets += figure_files(f"figures/tsne/{method}_{dataset}")
        for method in self.grid_methods():
            targets += [
                f"figures/grid/{method}_{dataset}_{metric}.{ext}"
                for dataset in self.datasets
                for metric in self.config["figures"]["grid_metrics"]
                for ext in ("png", "pdf")
            ]
        return targets

    def manual_files(self, group: str) -> list[str]:
        """The hand-placed files of a raw-file group that exist (datasets with no public URL):
        inputs of `fetch`, so that replacing one reruns fetch, conversion and every run after
        it. A file not placed yet is no input: fetch then runs and says what to place where."""
        folder = os.path.join(self.config["data"]["manual_dir"], group)
        paths = [os.path.join(folder, f.name) for f in group_files(group) if f.manual]
        return [p for p in paths if os.path.isfile(p)]
