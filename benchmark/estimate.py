"""What a config's DAG costs before launch: runs per rule and device-hours of the deep runs.

The runs are those Snakemake itself plans (`snakemake --summary` of the same Snakefile and
config files), so they match the DAG exactly, with the runs already done counted apart. The
cost of a run is epochs × seconds per epoch, from the measurements stored by
`benchmarks/train_speed.py --save` (benchmark/estimates/seconds_per_epoch.csv). A dataset
never measured is scaled from the measured ones by its samples × views (an epoch runs every
sample through one encoder per view; measured on CPU, s/epoch per sample-view varies 0.14–0.18 ms
over the datasets of more than 1,500 samples). The SLURM profiles run the runs of a
pack one after another, so the device-hours of packs are those of one process per run.
"""

from __future__ import annotations

import csv
import functools
import math
import re
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from benchmark.atomic import atomic_path
from benchmark.data.registry import get_dataset
from benchmark.errors import MmcbenchError

ESTIMATES_DIR = Path(__file__).resolve().parent / "estimates"
TIMINGS_CSV = ESTIMATES_DIR / "seconds_per_epoch.csv"
TIMING_FIELDS = ("method", "variant", "dataset", "n_samples", "device", "seconds_per_epoch")
DEEP_RULES = {"train", "train_point"}  # a study point is a deep run too
RUN_RULES = {*DEEP_RULES, "baseline"}
DEEP_RUN = re.compile(
    r"^results/runs/(?P<method>GIB|CLIB)/(?P<dataset>[^/]+)/(?P<variant>[^/]+)/"
    r"a(?P<alpha>[0-9.]+)_b(?P<beta>[0-9.]+)/(?:(?P<point>[^/]+=[^/]+)/)?seed(?P<seed>\d+)\.json$"
)
BASELINE_RUN = re.compile(
    r"^results/runs/(?P<method>[^/]+)/(?P<dataset>[^/]+)/(?P<variant>[^/]+)/seed(?P<seed>\d+)\.json$"
)


@dataclass(frozen=True)
class PlannedRun:
    """One run record the DAG produces, and whether it is still to be made."""

    rule: str
    method: str
    dataset: str
    variant: str
    pending: bool


@dataclass(frozen=True)
class Timing:
    """Seconds per epoch of a (method, variant, dataset, device) and where the figure came from."""

    seconds_per_epoch: float
    basis: str


def planned_runs(
    snakefile: Path, configfiles: Sequence[Path], directory: Path, cores: int = 1
) -> list[PlannedRun]:
    """Every run record of the DAG, from `snakemake --summary` (no job is run)."""
    command = [sys.executable, "-m", "snakemake", "-s", str(snakefile), "-d", str(directory)]
    command += ["--cores", str(cores), "--summary", "--configfile", *map(str, configfiles)]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise MmcbenchError(
            f"estimate: snakemake could not plan the DAG of {', '.join(map(str, configfiles))}:"
            f"\n{done.stderr.strip()[-3000:]}"
        )
    runs = []
    rows = csv.DictReader(
        (line for line in done.stdout.splitlines() if "\t" in line), delimiter="\t"
    )
    for row in rows:
        rule, path = row.get("rule"), row.get("output_file", "")
        if rule not in RUN_RULES:
            continue
        match = (DEEP_RUN if rule in DEEP_RULES else BASELINE_RUN).match(path)
        if match is None:
            continue  # the run's history / embeddings files: one record per run is counted
        runs.append(
            PlannedRun(
                rule=rule,
                method=match["method"],
                dataset=match["dataset"],
                variant=match["variant"],
                pending=row.get("plan") != "no update",
            )
        )
    return runs


def load_timings(path: Path = TIMINGS_CSV) -> list[dict]:
    """Stored seconds per epoch (rows of benchmarks/train_speed.py --save)."""
    if not path.is_file():
        raise MmcbenchError(
            f"estimate: {path}: no stored timings; run benchmarks/train_speed.py --save first"
        )
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    missing = [c for c in TIMING_FIELDS if rows and c not in rows[0]]
    if not rows or missing:
        raise MmcbenchError(
            f"estimate: {path}: expected columns {', '.join(TIMING_FIELDS)}"
            + (f"; missing {', '.join(missing)}" if missing else "; the file has no rows")
        )
    for row in rows:
        try:
            row["seconds_per_epoch"] = float(row["seconds_per_epoch"])
            row["n_samples"] = int(row["n_samples"])
        except ValueError as exc:
            raise MmcbenchError(f"estimate: {path}: bad number in row {row} ({exc})") from exc
    return rows


def seconds_per_epoch(
    timings: list[dict], method: str, variant: str, dataset: str, device: str
) -> Timing | None:
    """Measured s/epoch of the run, else scaled by samples × views from the variant's datasets.

    A variant never measured is costed as the method's full model (its nearest relative).
    """
    for name, basis in ((variant, ""), (method, f" ({method}'s time)")):
        rows = [
            r
            for r in timings
            if r["method"] == method and r["variant"] == name and r["device"] == device
        ]
        exact = [r["seconds_per_epoch"] for r in rows if r["dataset"] == dataset]
        if exact:
            return Timing(sum(exact) / len(exact), "measured" + basis)
        if rows:
            # Least squares through the origin: s/epoch = k × samples × views.
            sizes = [_sample_views(r["dataset"], r["n_samples"]) for r in rows]
            k = sum(r["seconds_per_epoch"] * x for r, x in zip(rows, sizes, strict=True)) / sum(
                x**2 for x in sizes
            )
            size = _sample_views(dataset, get_dataset(dataset).n_samples)
            sources = len({r["dataset"] for r in rows})
            return Timing(k * size, f"scaled by samples × views ({sources} datasets)" + basis)
    return None


def _sample_views(dataset: str, n_samples: int) -> int:
    return n_samples * len(get_dataset(dataset).views)


@functools.cache
def _stored_timings() -> list[dict]:
    return load_timings()


def run_minutes(
    method: str, variant: str, dataset: str, epochs: int, device: str = "cpu"
) -> float | None:
    """Expected minutes of one deep run from the stored timings (None: nothing to go on)."""
    try:
        timing = seconds_per_epoch(_stored_timings(), method, variant, dataset, device)
    except MmcbenchError:
        return None
    return None if timing is None else epochs * timing.seconds_per_epoch / 60


def slurm_runtime(
    minutes: float | None, factor: float = 3, floor: int = 5, fallback: int = 240
) -> int:
    """SLURM runtime (minutes) of a run: `factor` × the estimate, at least `floor`; `fallback`
    when there is no estimate. The train rule asks for this per run (common.smk)."""
    if minutes is None:
        return fallback
    return max(floor, math.ceil(factor * minutes))


def store_rows(
    path: Path, rows: list[dict], fields: Sequence[str], key: Callable[[dict], tuple] | None = None
) -> None:
    """Add `rows` to the CSV at `path` (kept rows with the same `key` are replaced; no key:
    appended), written atomically. The benchmark scripts store their measurements this way."""
    kept = []
    if path.is_file():
        with path.open(newline="") as f:
            kept = list(csv.DictReader(f))
    if key is not None:
        new = {key(r) for r in rows}
        kept = sorted([r for r in kept if key(r) not in new] + rows, key=key)
    else:
        kept += rows
    with atomic_path(path) as tmp, tmp.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        writer.writerows(kept)


def load_config(snakefile: Path, configfiles: Sequence[Path]) -> dict:
    """The config the DAG sees: the files merged in order and checked as the Snakefile checks
    them (benchmark.config.validated_config: clear messages, defaults filled in, joint rules)."""
    import yaml
    from snakemake.utils import update_config

    from benchmark.config import validated_config

    config: dict = {}
    for path in configfiles:
        try:
            loaded = yaml.safe_load(Path(path).read_text()) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise MmcbenchError(f"estimate: {path}: cannot read the config ({exc})") from exc
        if not isinstance(loaded, dict):
            raise MmcbenchError(f"estimate: {path}: a config file must be a YAML mapping")
        update_config(config, loaded)
    schema = snakefile.parent / "workflow" / "schemas" / "config.schema.yaml"
    validated_config(config, schema, configfiles)
    return config


@dataclass(frozen=True)
class Line:
    """Cost of the runs of one (rule, method, dataset, variant)."""

    rule: str
    method: str
    dataset: str
    variant: str
    runs: int
    pending: int
    epochs: int | None
    timing: Timing | None

    @property
    def minutes_per_run(self) -> float | None:
        if self.timing is None or self.epochs is None:
            return None
        return self.epochs * self.timing.seconds_per_epoch / 60

    @property
    def hours(self) -> float | None:
        minutes = self.minutes_per_run
        return None if minutes is None else self.pending * minutes / 60


def cost_lines(
    runs: list[PlannedRun], config: dict, timings: list[dict], device: str
) -> list[Line]:
    """One line per (rule, method, dataset, variant), deep runs costed on `device`."""
    groups: dict[tuple, list[PlannedRun]] = {}
    for run in runs:
        groups.setdefault((run.rule, run.method, run.dataset, run.variant), []).append(run)
    lines = []
    for (rule, method, dataset, variant), members in sorted(groups.items()):
        epochs = timing = None
        if rule in DEEP_RULES:
            epochs = config[method.lower()]["epochs"]
            timing = seconds_per_epoch(timings, method, variant, dataset, device)
        pending = sum(r.pending for r in members)
        lines.append(Line(rule, method, dataset, variant, len(members), pending, epochs, timing))
    return lines


def render(lines: list[Line], device: str) -> str:
    """The printed estimate: runs per rule, then the deep runs' device-hours."""
    out = []
    for rule in sorted({line.rule for line in lines}):
        mine = [line for line in lines if line.rule == rule]
        runs, pending = sum(x.runs for x in mine), sum(x.pending for x in mine)
        out.append(f"rule {rule}: {runs} runs, {pending} still to run")
    deep = [line for line in lines if line.rule in DEEP_RULES]
    if not deep:
        return "\n".join(out)
    out.append("")
    out.append(
        f"{'method':<6} {'dataset':<12} {'variant':<18} {'to run':>6} {'epochs':>6} "
        f"{'s/epoch':>8} {'hours':>8}  basis"
    )
    unknown = 0
    for x in deep:
        if x.timing is None:
            unknown += x.pending
            s, h, basis = "?", "?", f"no {device} timing of {x.method} stored"
        else:
            s, h, basis = f"{x.timing.seconds_per_epoch:.2f}", f"{x.hours:.2f}", x.timing.basis
        out.append(
            f"{x.method:<6} {x.dataset:<12} {x.variant:<18} {x.pending:>6} {x.epochs:>6} "
            f"{s:>8} {h:>8}  {basis}"
        )
    total = sum(x.hours or 0.0 for x in deep)
    pending = sum(x.pending for x in deep)
    unit = "GPU-hours" if device == "cuda" else "CPU-hours (1 thread per run)"
    out.append("")
    out.append(f"deep runs to train: {pending}; estimated {total:.1f} {unit}")
    if unknown:
        out.append(f"not costed: {unknown} runs without any {device} timing (shown as ?)")
    costed = [x for x in deep if x.minutes_per_run is not None]
    if costed:
        x = max(costed, key=lambda line: line.minutes_per_run)
        minutes = x.minutes_per_run
        out.append(
            f"longest run: {x.method} {x.variant} on {x.dataset}, {minutes:.1f} min; the SLURM "
            f"profiles ask {slurm_runtime(minutes)} min per run, a pack the sum over its runs"
        )
    return "\n".join(out)
