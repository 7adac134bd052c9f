"""How long a deep run takes, from stored timings: the runtime model the DAG reads (SLURM
runtime of each training job, common.smk) and `mmcbench estimate` prices a plan with.

The cost of a run is epochs × seconds per epoch, from the measurements stored by
`benchmarks/train_speed.py --save` (benchmark/estimates/seconds_per_epoch.csv). A dataset
never measured is scaled from the measured ones by its samples × views (an epoch runs every
sample through one encoder per view; measured on CPU, s/epoch per sample-view varies 0.14–0.18 ms
over the datasets of more than 1,500 samples).
"""

from __future__ import annotations

import csv
import functools
import math
from dataclasses import dataclass
from pathlib import Path

from benchmark.data.registry import get_dataset
from benchmark.errors import MmcbenchError

ESTIMATES_DIR = Path(__file__).resolve().parent / "estimates"
PACKING_CSV = ESTIMATES_DIR / "packing.csv"
TIMINGS_CSV = ESTIMATES_DIR / "seconds_per_epoch.csv"
TIMING_FIELDS = ("method", "variant", "dataset", "n_samples", "device", "seconds_per_epoch")


@dataclass(frozen=True)
class Timing:
    """Seconds per epoch of a (method, variant, dataset, device) and where the figure came from."""

    seconds_per_epoch: float
    basis: str


def load_packing(path: Path = PACKING_CSV) -> list[dict]:
    """Stored runs per hour of the ways to lay runs out (rows of benchmarks/pack_speed.py
    --save); none when the file does not exist."""
    if not path.is_file():
        return []
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    missing = [c for c in ("way", "method", "device", "ratio") if rows and c not in rows[0]]
    if missing:
        raise MmcbenchError(f"estimate: {path}: missing column(s) {', '.join(missing)}")
    for row in rows:
        try:
            float(row["ratio"])
        except ValueError as exc:
            raise MmcbenchError(f"estimate: {path}: bad ratio in row {row} ({exc})") from exc
    return rows


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
