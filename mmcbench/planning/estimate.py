"""What a config's DAG costs before launch: runs per rule and device-hours of the deep runs.

The runs are the workflow's own plan of the config (mmcbench.planning.plan, which the Snakefile
reads its targets from), so they match the DAG exactly. A run whose record is not in the
working folder is still to run. Whether Snakemake remakes a record that is there depends on
its rerun triggers (a changed parameter, command or input), which only Snakemake knows: when
some planned records exist, `snakemake --summary` of the same Snakefile and config files says
which of them it would remake; a fresh folder needs no Snakemake at all. Each run is priced by
the runtime model (`mmcbench.planning.runtime`). The SLURM profiles run the runs of a pack one
after another, so the device-hours of packs are those of one process per run.
"""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from mmcbench.core.errors import MmcbenchError
from mmcbench.planning import catalogue
from mmcbench.planning.plan import Plan
from mmcbench.planning.runtime import BATCHED, Timing, seconds_per_epoch, slurm_runtime

# The rule that makes each kind of planned run (a pack makes the same records).
RULES = {"baseline": "baseline", "deep": "train", "point": "train_point"}
DEEP_RULES = {"train", "train_point"}  # a study point is a deep run too


@dataclass(frozen=True)
class PlannedRun:
    """One run record the DAG produces, and whether it is still to be made."""

    rule: str
    method: str
    dataset: str
    variant: str
    pending: bool


def remade_records(
    snakefile: Path, configfiles: Sequence[Path], directory: Path, cores: int = 1
) -> set[str]:
    """The output files `snakemake --summary` would make or remake (no job is run)."""
    command = [sys.executable, "-m", "snakemake", "-s", str(snakefile), "-d", str(directory)]
    command += ["--cores", str(cores), "--summary", "--configfile", *map(str, configfiles)]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise MmcbenchError(
            f"estimate: snakemake could not plan the DAG of {', '.join(map(str, configfiles))}:"
            f"\n{done.stderr.strip()[-3000:]}"
        )
    rows = csv.DictReader(
        (line for line in done.stdout.splitlines() if "\t" in line), delimiter="\t"
    )
    remade = {row["output_file"] for row in rows if row.get("plan") != "no update"}
    return {os.path.relpath(p, directory) if os.path.isabs(p) else p for p in remade}


def planned_runs(
    config: dict, directory: Path, snakefile: Path, configfiles: Sequence[Path]
) -> list[PlannedRun]:
    """Every run record of the config's plan, each still to run when its record is not in
    `directory`, or when Snakemake would remake the one there (`remade_records`)."""
    runs = Plan(config).runs()
    present = [run.path for run in runs if (directory / run.path).is_file()]
    remade = remade_records(snakefile, configfiles, directory) if present else set()
    done = set(present) - remade
    return [
        PlannedRun(RULES[r.kind], r.method, r.dataset, r.variant, pending=r.path not in done)
        for r in runs
    ]


CHECKOUT_SNAKEFILE = Path(__file__).resolve().parents[2] / "Snakefile"


def default_snakefile(directory: Path) -> tuple[Path, str]:
    """The Snakefile `snakemake` would run in `directory` (a clone of the suite has its own,
    and its runs are up to date against that one), else this checkout's; and which it is."""
    own = directory / "Snakefile"
    if own.is_file():
        return own, "the working folder's (--directory)"
    return CHECKOUT_SNAKEFILE, "the installed checkout's; the working folder has none"


def load_config(snakefile: Path, configfiles: Sequence[Path]) -> dict:
    """The config the DAG sees: the files merged in order and checked as the Snakefile checks
    them (mmcbench.planning.config.validated_config: clear messages, defaults filled in, the
    rules that join keys)."""
    import yaml
    from snakemake.utils import update_config

    from mmcbench.planning.config import validated_config

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
    if not schema.is_file():
        raise MmcbenchError(
            f"estimate: {snakefile} has no config schema beside it ({schema}): it is not the "
            "suite's Snakefile; give --snakefile the Snakefile of an mmcbench checkout"
        )
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
            section = config[catalogue.get(method).section]
            epochs = catalogue.total_epochs(method, section, variant)
            timing = seconds_per_epoch(timings, method, variant, dataset, device)
        pending = sum(r.pending for r in members)
        lines.append(Line(rule, method, dataset, variant, len(members), pending, epochs, timing))
    return lines


def basis_kind(timing: Timing | None) -> str:
    """What a run's price rests on: `measured` (this dataset timed), `scaled` (from other
    datasets by samples × views) or `not costed` (no timing on the device)."""
    if timing is None:
        return "not costed"
    return "measured" if timing.basis.startswith("measured") else "scaled"


def render_summary(deep: list[Line], device: str) -> list[str]:
    """Per method: the deep runs to train on `device`, their hours, and how many are priced
    from a timing of their own dataset, scaled from other datasets, or not costed."""
    out = [
        "deep runs to train per method: priced from a timing of their own dataset (measured), "
        "scaled by samples × views from other datasets (scaled), or not priced (no timing)",
        f"{'method':<10} {'device':<6} {'to run':>6} {'hours':>8} {'measured':>8} "
        f"{'scaled':>6} {'no timing':>9}",
    ]
    for method in sorted({x.method for x in deep}):
        mine = [x for x in deep if x.method == method]
        count = {kind: 0 for kind in ("measured", "scaled", "not costed")}
        for x in mine:
            count[basis_kind(x.timing)] += x.pending
        pending = sum(x.pending for x in mine)
        priced = [x.hours for x in mine if x.hours is not None]
        hours = f"{sum(priced):.2f}" if priced else "?"
        out.append(
            f"{method:<10} {device:<6} {pending:>6} {hours:>8} {count['measured']:>8} "
            f"{count['scaled']:>6} {count['not costed']:>9}"
        )
    return out


def render_details(deep: list[Line], device: str) -> list[str]:
    """One row per method, dataset and variant: runs to train, epochs, s/epoch, hours, basis."""
    out = [
        f"{'method':<6} {'dataset':<12} {'variant':<18} {'to run':>6} {'epochs':>6} "
        f"{'s/epoch':>8} {'hours':>8}  basis"
    ]
    for x in deep:
        if x.timing is None:
            s, h, basis = "?", "?", f"no {device} timing of {x.method} stored"
        else:
            s, h, basis = f"{x.timing.seconds_per_epoch:.2f}", f"{x.hours:.2f}", x.timing.basis
        out.append(
            f"{x.method:<6} {x.dataset:<12} {x.variant:<18} {x.pending:>6} {x.epochs:>6} "
            f"{s:>8} {h:>8}  {basis}"
        )
    return out


def render(lines: list[Line], device: str, details: bool = False) -> str:
    """The printed estimate: runs per rule, then the deep runs' device-hours per method (what
    is measured, what is scaled from other datasets), with `details` per method, dataset and
    variant too."""
    out = []
    for rule in sorted({line.rule for line in lines}):
        mine = [line for line in lines if line.rule == rule]
        runs, pending = sum(x.runs for x in mine), sum(x.pending for x in mine)
        out.append(f"rule {rule}: {runs} runs, {pending} still to run")
    deep = [line for line in lines if line.rule in DEEP_RULES]
    if not deep:
        return "\n".join(out)
    pending = sum(x.pending for x in deep)
    unknown = sum(x.pending for x in deep if x.hours is None)
    unit = "GPU-hours" if device == "cuda" else "CPU-hours (1 thread per run)"
    out.append("")
    if unknown:  # said before the table, not after a total that leaves them out
        out.append(
            f"not costed: {unknown} of the {pending} deep runs to train have no {device} timing "
            f"stored (shown as ?; benchmarks/epoch_speed.py DATA.h5 --device {device} --save "
            "stores some)"
        )
    out += render_summary(deep, device)
    if details:
        out += ["", *render_details(deep, device)]
    total = sum(x.hours for x in deep if x.hours is not None)
    out.append("")
    if unknown and unknown == pending:
        out.append(f"deep runs to train: {pending}; not costed, so no {unit} are estimated")
    elif unknown:
        out.append(
            f"deep runs to train: {pending}; estimated {total:.1f} {unit} for the "
            f"{pending - unknown} costed, plus the {unknown} not costed"
        )
    else:
        out.append(f"deep runs to train: {pending}; estimated {total:.1f} {unit}")
    costed = [x for x in deep if x.minutes_per_run is not None]
    if costed:
        x = max(costed, key=lambda line: line.minutes_per_run)
        minutes = x.minutes_per_run
        out.append(
            f"longest run: {x.method} {x.variant} on {x.dataset}, {minutes:.1f} min; the SLURM "
            f"profiles ask {slurm_runtime(minutes)} min per run, a pack the sum over its runs"
        )
    if not details:
        out.append("per dataset and variant, with the basis of each price: --details")
    return "\n".join(out)


@dataclass(frozen=True)
class Speedup:
    """A measured gain of batched packs over one process per run (benchmarks/pack_speed.py)."""

    method: str
    pack_size: int
    ratio: float
    basis: str


def batched_speedups(rows: list[dict], device: str) -> dict[str, Speedup]:
    """Per method, the best stored speed-up of a batched pack on `device` (its runs per hour
    over one process per run in the same measurement), among the method's newest measurement
    (latest `date`): an older one timed older code."""
    batched = [r for r in rows if r["device"] == device and r["way"].startswith(BATCHED)]
    newest: dict[str, str] = {}
    for row in batched:
        newest[row["method"]] = max(newest.get(row["method"], ""), row["date"])
    best: dict[str, Speedup] = {}
    for row in batched:
        if row["date"] != newest[row["method"]]:
            continue
        ratio = float(row["ratio"])
        if row["method"] not in best or ratio > best[row["method"]].ratio:
            best[row["method"]] = Speedup(
                row["method"],
                int(row["way"].removeprefix(BATCHED)),
                ratio,
                f"{row['dataset']}, {row['epochs']} epochs, {row['slots']} slots, {row['date']}",
            )
    return best


def render_packs(lines: list[Line], speedups: dict[str, Speedup], device: str) -> str:
    """The deep runs' hours in batched packs, from the measured speed-ups (or why not)."""
    unit = "GPU-hours" if device == "cuda" else "CPU-hours"
    if not speedups:
        return (
            f"batched packs: no {device} measurement stored (benchmarks/pack_speed.py "
            f"--device {device} --save), so their {unit} are not estimated"
        )
    out = []
    total, priced, uncosted, unmeasured = 0.0, 0, 0, []
    for method in sorted({x.method for x in lines if x.rule in DEEP_RULES}):
        mine = [x for x in lines if x.rule in DEEP_RULES and x.method == method]
        hours = sum(x.hours for x in mine if x.hours is not None)
        unknown = sum(x.pending for x in mine if x.hours is None)
        uncosted += unknown
        if unknown and unknown == sum(x.pending for x in mine):
            out.append(f"batched packs: {method}: not costed (no {device} timing of its runs)")
            continue
        more = f"; plus {unknown} runs not costed" if unknown else ""
        if method not in speedups:
            # no gain measured: counted at one process per run, never left out of the total
            total += hours
            priced += 1
            unmeasured.append(method)
            out.append(
                f"batched packs: {method}: no {device} measurement of a batched pack stored; "
                f"counted at its {hours:.1f} {unit} of one process per run{more}"
            )
            continue
        gain = speedups[method]
        total += hours / gain.ratio
        priced += 1
        out.append(
            f"batched packs: {method}: {hours / gain.ratio:.1f} {unit} at the best measured gain, "
            f"×{gain.ratio:.2f} with K = {gain.pack_size} ({gain.basis}; one dataset's gain "
            f"applied to all){more}"
        )
    if not priced:
        out.append(f"batched packs: no deep run is costed on {device}, so no total")
        return "\n".join(out)
    out.append(
        f"batched packs: estimated {total:.1f} {unit} in all, every deep method counted"
        + (f" ({', '.join(unmeasured)} at one process per run)" if unmeasured else "")
        + (f", plus {uncosted} runs not costed" if uncosted else "")
    )
    return "\n".join(out)
