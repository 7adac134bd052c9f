"""How long a deep run takes, from stored timings: the runtime model the DAG reads (SLURM
runtime of each training job, mmcbench.planning.plan) and `mmcbench estimate` prices a plan with.

The cost of a run is epochs × seconds per epoch, from the measurements stored by
`benchmarks/epoch_speed.py --save` (mmcbench/estimates/epoch_speed.csv). A dataset
never measured is scaled from the measured ones by its samples × views (an epoch runs every
sample through one encoder per view; measured on CPU, s/epoch per sample-view varies 0.14–0.18 ms
over the datasets of more than 1,500 samples).
"""

from __future__ import annotations

import csv
import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from mmcbench.core.errors import MmcbenchError
from mmcbench.data.registry import get_dataset

ESTIMATES_DIR = Path(__file__).resolve().parents[1] / "estimates"
PACKING_CSV = ESTIMATES_DIR / "packing.csv"
TIMINGS_CSV = ESTIMATES_DIR / "epoch_speed.csv"
TIMING_FIELDS = ("method", "variant", "dataset", "n_samples", "device", "seconds_per_epoch")


@dataclass(frozen=True)
class Timing:
    """Seconds per epoch of a (method, variant, dataset, device) and where the figure came from."""

    seconds_per_epoch: float
    basis: str


PACKING_FIELDS = ("way", "method", "dataset", "epochs", "slots", "device", "ratio", "date")
BATCHED = "batched pack K="  # the `way` of a batched pack of K runs


def read_table(path: Path, fields: Sequence[str], what: str) -> list[dict]:
    """The rows of a stored CSV, each with every one of `fields`; MmcbenchError naming the file
    when it cannot be read (not text, not CSV), lacks a column or has a short or long row."""
    problem = None
    try:
        with path.open(newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            header = reader.fieldnames or []
            rows = list(reader)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        problem = f"not a readable CSV file ({type(exc).__name__}: {exc})"
    else:
        if missing := [c for c in fields if c not in header]:
            problem = f"expected the columns {', '.join(fields)}; " + (
                f"missing {', '.join(missing)}" if header else "the file is empty"
            )
        else:
            for line, row in enumerate(rows, start=2):
                if None in row or any(row[c] is None for c in fields):
                    problem = f"line {line} does not have the {len(header)} fields of the header"
                    break
    if problem:
        raise MmcbenchError(
            f"estimate: {path}: {problem}. It should hold {what}; fix or remove it, or give "
            "another file."
        )
    return rows


def load_packing(path: Path = PACKING_CSV, required: bool = False) -> list[dict]:
    """Stored runs per hour of the ways to lay runs out (rows of benchmarks/pack_speed.py
    --save); none when the file does not exist, unless it is `required` (a file the user
    named). A file that exists is checked: columns, ratios > 0, K of each batched pack."""
    if not path.exists() and not required:
        return []
    if not path.is_file():
        problem = "is a folder" if path.exists() else "does not exist"
        raise MmcbenchError(f"estimate: --packing {path} {problem}; give a packing CSV")
    what = "the speed-ups of benchmarks/pack_speed.py --save"
    rows = read_table(path, PACKING_FIELDS, what)
    for line, row in enumerate(rows, start=2):
        try:
            ratio = float(row["ratio"])
            if not (math.isfinite(ratio) and ratio > 0):
                raise ValueError(f"ratio {row['ratio']} is not a positive number")
            if row["way"].startswith(BATCHED) and int(row["way"].removeprefix(BATCHED)) < 1:
                raise ValueError(f"{row['way']!r}: K must be ≥ 1")
        except ValueError as exc:
            raise MmcbenchError(
                f"estimate: {path}: line {line}: {exc}. It should hold {what}."
            ) from exc
    return rows


def load_timings(path: Path = TIMINGS_CSV) -> list[dict]:
    """Stored seconds per epoch (rows of benchmarks/epoch_speed.py --save)."""
    if path.is_dir():
        raise MmcbenchError(f"estimate: {path}: is a folder, not a timings CSV (--timings)")
    if not path.is_file():
        raise MmcbenchError(
            f"estimate: {path}: no stored timings; run benchmarks/epoch_speed.py --save first"
        )
    what = "the seconds per epoch of benchmarks/epoch_speed.py --save"
    rows = read_table(path, TIMING_FIELDS, what)
    if not rows:
        raise MmcbenchError(
            f"estimate: {path}: expected columns {', '.join(TIMING_FIELDS)}; the file has no rows"
        )
    for line, row in enumerate(rows, start=2):
        try:
            row["seconds_per_epoch"] = float(row["seconds_per_epoch"])
            row["n_samples"] = int(row["n_samples"])
            if not (math.isfinite(row["seconds_per_epoch"]) and row["seconds_per_epoch"] > 0):
                raise ValueError("seconds_per_epoch must be a positive number")
        except ValueError as exc:
            raise MmcbenchError(
                f"estimate: {path}: bad number on line {line} ({exc}). It should hold {what}."
            ) from exc
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
    when there is no estimate. The train rule asks for this per run (Plan.train_runtime)."""
    if minutes is None:
        return fallback
    return max(floor, math.ceil(factor * minutes))
