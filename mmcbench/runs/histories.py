"""Reading a run's history (`<stem>.history.csv`, one row per epoch) with the checks a run record
gets, and with the record it belongs to: the history must be the record's.

A history is refused, by name, when it cannot be read as a CSV of numbers (`csv_input.HISTORY`:
scores in their ranges, whole epochs, each once), when its epochs are not 0, 1, …, E without a
gap, or when it disagrees with the record beside it: its last epoch must be the record's
`epochs_run`, and a finished run's last row must hold the record's scores (they are written
from that row). So a hand-edited history cannot change what the protocol rows or the figures
report behind the record's back.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from mmcbench.core.csv_input import HISTORY, CsvProblem, read_csv
from mmcbench.runs import records

WHAT = "run history"
TOLERANCE = 1e-6  # a score in the record and in its history's last row: the same float


def read_history(path: str | Path, record: Mapping[str, Any] | None = None) -> pd.DataFrame:
    """The history at `path`, checked on its own and, when `record` is given, against it."""
    history = read_csv(path, WHAT, ["epoch"], columns=HISTORY)
    epochs = history["epoch"].astype(int).tolist()
    if epochs != list(range(len(epochs))):
        raise CsvProblem(
            f"{path}: the {WHAT}'s epochs are {_spelled(epochs)}, not 0, 1, … in order (one row "
            "per epoch from the untrained model's, epoch 0)"
        )
    history["epoch"] = history["epoch"].astype(int)
    if record is not None and (problem := disagreement(history, record)):
        raise CsvProblem(
            f"{path}: the {WHAT} is not the one of its run record: {problem}. Restore it or "
            "retrain the run (delete its record)"
        )
    return history


def disagreement(history: pd.DataFrame, record: Mapping[str, Any]) -> str | None:
    """How a checked history disagrees with its run's record (None when it does not)."""
    diagnostics = record.get("diagnostics") or {}
    last = int(history["epoch"].iloc[-1])
    epochs_run = diagnostics.get("epochs_run")
    if isinstance(epochs_run, int) and last != epochs_run:
        return f"it ends at epoch {last}, the record says the run trained {epochs_run} epoch(s)"
    if record.get("status") not in ("done", "stopped"):
        return None
    metrics = record.get("metrics") or {}
    row = history.iloc[-1]
    for metric in records.METRICS:
        want = metrics.get(metric)
        have = row.get(metric)
        have = None if have is None or pd.isna(have) else float(have)
        if want is None and have is None:
            continue
        if want is None or have is None or not math.isclose(want, have, abs_tol=TOLERANCE):
            return f"its last epoch ({last}) has {metric} {_shown(have)}, the record {_shown(want)}"
    return None


def _spelled(epochs: list[int]) -> str:
    shown = ", ".join(map(str, epochs[:8]))
    return shown + (", …" if len(epochs) > 8 else "")


def _shown(value: float | None) -> str:
    return "none" if value is None else f"{value:g}"
