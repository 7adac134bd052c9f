"""Training curves (GIB Fig. 5, CLIB's "training process") from the runs' history CSVs only.

One panel per quantity: total loss, ACC, NMI (and ECE for CLIB) against epoch, the mean over
seeds as a line and ± one standard deviation as a band. CLIB's end of warm-up is marked when
the run record next to the history says how long it was.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
from matplotlib import pyplot as plt

from benchmark import catalogue
from benchmark.errors import MmcbenchError
from benchmark.figures import style
from benchmark.figures.inputs import read_csv

PERCENT = ("ACC", "NMI", "ARI", "ECE")
LABELS = {"total": "total loss", "ACC": "ACC (%)", "NMI": "NMI (%)", "ECE": "ECE (%)"}


def load_histories(paths: Sequence[str | Path]) -> pd.DataFrame:
    """The history CSVs of several seeds stacked, with a `run` column (0, 1, …)."""
    frames = []
    for i, path in enumerate(paths):
        frames.append(read_csv(path, "run history", ["epoch"]).assign(run=i))
    if not frames:
        raise MmcbenchError("convergence: no history files given")
    return pd.concat(frames, ignore_index=True)


def warmup_epochs(history_path: str | Path) -> int | None:
    """CLIB's warm-up length from the run record beside a history file (None if none)."""
    record = Path(str(history_path).removesuffix(".history.csv") + ".json")
    try:
        params = json.loads(record.read_text())["params"]
    except (OSError, ValueError, KeyError):
        return None
    warmup = params.get("warmup_epochs")
    return int(warmup) if warmup and params.get("warmup", True) else None


def convergence_figure(
    method: str,
    dataset: str,
    histories: pd.DataFrame,
    panels: Sequence[str] | None = None,
    warmup: int | None = None,
    setting: str = "",
) -> plt.Figure:
    """Mean ± std over seeds of each panel's quantity against epoch (not saved)."""
    style.apply()
    panels = list(panels or catalogue.get(method).panels)
    missing = [p for p in panels if p not in histories]
    if missing:
        raise MmcbenchError(f"convergence: the histories have no column {missing}")
    fig, axes = plt.subplots(
        1, len(panels), figsize=(style.FULL_IN, 1.9), squeeze=False, layout="constrained"
    )
    colour = style.palette(1)[0]
    n_runs = histories["run"].nunique()
    for ax, quantity in zip(axes[0], panels, strict=True):
        stats = histories.groupby("epoch")[quantity].agg(["mean", "std"]).dropna(subset=["mean"])
        ax.plot(stats.index, stats["mean"], color=colour, linewidth=1.2)
        low = stats["mean"] - stats["std"].fillna(0)
        high = stats["mean"] + stats["std"].fillna(0)
        if quantity in PERCENT:  # a score cannot leave [0, 100]; neither does its band
            low, high = low.clip(0, 100), high.clip(0, 100)
        ax.fill_between(
            stats.index,
            low,
            high,
            color=colour,
            alpha=0.25,
            linewidth=0,
        )
        if warmup:
            ax.axvline(warmup, color="grey", linestyle=":", linewidth=1)
        ax.set_xlabel("epoch")
        ax.set_ylabel(LABELS.get(quantity, quantity))
    if warmup:
        axes[0][0].annotate(
            "warm-up ends",
            (warmup, 0.45),
            xycoords=("data", "axes fraction"),
            xytext=(3, 0),
            textcoords="offset points",
            va="center",
            fontsize=6,
            color="grey",
        )
    seeds = f"{n_runs} seed{'s' * (n_runs != 1)}"
    fig.suptitle(f"{method} on {dataset}{setting}: mean ± std over {seeds}")
    return fig
