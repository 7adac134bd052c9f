"""Training curves (GIB Fig. 5, CLIB's "training process") from the runs' history CSVs only.

One panel per quantity: total loss, ACC, NMI (and ECE for CLIB) against epoch, the mean over
seeds as a line and ± one standard deviation as a band. The histories of one figure must be
runs of one setting: the record beside each history (`<stem>.json`) names its method, variant,
dataset and α/β, and the history's own columns its views and loss terms. A history cut short (a
diverged run) is pooled while it lasts and the title says how many seeds each stretch pools.
The stages of a method trained in stages (the history's `stage` column: MFLVC's pre-training,
contrastive and fine-tuning stages, CLIB's warm-up and calibration) are marked by dotted lines
and named in the title; without that column, CLIB's end of warm-up is marked when the run record
next to the history says how long it was.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd
from matplotlib import pyplot as plt

from mmcbench.core.csv_input import distinct_paths
from mmcbench.core.errors import MmcbenchError
from mmcbench.planning import catalogue
from mmcbench.report.figures import inputs, names, style
from mmcbench.report.figures.inputs import differing, same_value
from mmcbench.runs.histories import read_history

PERCENT = ("ACC", "NMI", "ARI", "ECE")
LABELS = {"total": "total loss", "ACC": "ACC (%)", "NMI": "NMI (%)", "ECE": "ECE (%)"}
HISTORY = ".history.csv"


def run_identity(history_path: str | Path) -> dict[str, Any]:
    """Method, variant, dataset, α, β and overrides of a history's run, by the record beside it
    (None where it does not say)."""
    return inputs.run_identity(inputs.read_record_beside(history_path, HISTORY))


def check_histories(
    paths: Sequence[str | Path],
    frames: Sequence[pd.DataFrame],
    expected: dict[str, Any] | None = None,
    records: Sequence[dict[str, Any] | None] | None = None,
) -> None:
    """Refuse histories of different runs in one figure, or runs other than `expected` (keys of
    IDENTITY: what the command line says the figure shows), naming the files. `records`: the
    records beside the histories when already read (else they are read here)."""
    if records is None:
        records = [inputs.read_record_beside(p, HISTORY) for p in paths]
    identities = [inputs.run_identity(record) for record in records]
    for key in inputs.IDENTITY:
        values = [(p, i[key]) for p, i in zip(paths, identities, strict=True)]
        want = (expected or {}).get(key)
        wrong = [f"{p} ({v})" for p, v in values if v is not None and not same_value(v, want)]
        if want is not None and wrong:
            raise MmcbenchError(
                f"convergence: the figure is of {key} {want}, but the record beside "
                f"{', '.join(wrong)} says otherwise; give the histories of that {key} only"
            )
        if found := differing(values):
            raise MmcbenchError(
                f"convergence: the histories are of different {key}s ({found}, by the records "
                "beside them); one figure pools the seeds of one run setting"
            )
    # The history itself: its views (w_<view>, every row) and loss terms (L_…, from epoch 1;
    # a run cut short has fewer, never others).
    views = [frozenset(c for c in f.columns if c.startswith("w_")) for f in frames]
    if len(set(views)) > 1:
        found = ", ".join(f"{p} ({sorted(v)})" for p, v in zip(paths, views, strict=True))
        raise MmcbenchError(
            f"convergence: the histories have different views' fusion weights ({found}): "
            "runs of different datasets cannot share a figure"
        )
    terms = [frozenset(c for c in f.columns if c.startswith("L_")) for f in frames]
    for i, a in enumerate(terms):
        for j in range(i):
            b = terms[j]
            if not (a <= b or b <= a):
                raise MmcbenchError(
                    f"convergence: {paths[j]} (loss terms {sorted(b)}) and {paths[i]} "
                    f"({sorted(a)}) are histories of different methods or variants; one figure "
                    "pools the seeds of one run setting"
                )


def load_histories(
    paths: Sequence[str | Path], expected: dict[str, Any] | None = None
) -> pd.DataFrame:
    """The history CSVs of several seeds stacked, with a `run` column (0, 1, …); histories of
    different runs (or not of `expected`, see `check_histories`) are refused."""
    if not paths:
        raise MmcbenchError("convergence: no history files given")
    paths = distinct_paths(paths, "plot", "--histories")
    records = [inputs.read_record_beside(path, HISTORY) for path in paths]
    frames = [read_history(path, record) for path, record in zip(paths, records, strict=True)]
    seeds: dict[int, Path] = {}
    for path, record in zip(paths, records, strict=True):
        seed = (record or {}).get("seed")
        if isinstance(seed, int) and seed in seeds:
            raise MmcbenchError(
                f"plot: {seeds[seed]} and {path} are histories of the same seed {seed} (by the "
                "records beside them): one figure pools each seed once"
            )
        if isinstance(seed, int):
            seeds[seed] = path
    check_histories(paths, frames, expected, records)
    return pd.concat([f.assign(run=i) for i, f in enumerate(frames)], ignore_index=True)


def warmup_epochs(history_path: str | Path) -> int | None:
    """CLIB's warm-up length from the run record beside a history file (None if none)."""
    params = (inputs.read_record_beside(history_path, HISTORY) or {}).get("params")
    if not isinstance(params, dict):
        return None
    warmup = params.get("warmup_epochs")
    return int(warmup) if warmup and params.get("warmup", True) else None


def seeds_pooled(histories: pd.DataFrame) -> str:
    """How many seeds the curves pool: "4 seeds", or "4 seeds (3 after epoch 2)" when some
    histories end early."""
    n_runs = histories["run"].nunique()
    text = f"{n_runs} seed{'s' * (n_runs != 1)}"
    per_epoch = histories.groupby("epoch")["run"].nunique().sort_index()
    changes = [
        f"{n} after epoch {epoch}"
        for (epoch, before), n in zip(per_epoch.items(), per_epoch.iloc[1:], strict=False)
        if n != before
    ]
    if per_epoch.iloc[0] != n_runs:
        changes.insert(0, f"{per_epoch.iloc[0]} at epoch {per_epoch.index[0]}")
    return f"{text} ({', '.join(changes)})" if changes else text


def convergence_figure(
    method: str,
    dataset: str,
    histories: pd.DataFrame,
    panels: Sequence[str] | None = None,
    warmup: int | None = None,
    setting: str = "",
    variant: str | None = None,
) -> plt.Figure:
    """Mean ± std over seeds of each panel's quantity against epoch (not saved); `variant` is
    named in the title when it is not the full model. Stages recorded in the histories are
    marked and named (then `warmup`, the first of them for CLIB, is not marked again)."""
    style.apply()
    spans = names.stage_spans(histories)
    if spans:
        warmup = None
    panels = list(panels or catalogue.get(method).panels)
    missing = [p for p in panels if p not in histories]
    trained = bool((histories["epoch"] > 0).any())
    if missing and trained:
        raise MmcbenchError(f"convergence: the histories have no column {missing}")
    fig, axes = plt.subplots(
        1, len(panels), figsize=(style.FULL_IN, 1.9), squeeze=False, layout="constrained"
    )
    colour = style.palette(1)[0]
    for ax, quantity in zip(axes[0], panels, strict=True):
        if quantity not in histories:  # no trained epoch: every run ended in epoch 1
            ax.text(0.5, 0.5, "no trained epoch\n(every run ended in epoch 1)", ha="center",
                    va="center", transform=ax.transAxes, fontsize=6, color="grey")  # fmt: skip
            ax.set_xlabel("epoch")
            ax.set_ylabel(LABELS.get(quantity, quantity))
            continue
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
        names.mark_stages(ax, spans)
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
    name = f"{method} {variant}" if variant and variant != method else method
    title = f"{name} on {dataset}{setting}: mean ± std over {seeds_pooled(histories)}"
    if stages := names.stage_text(method, spans):
        title += f"\n{stages}"
    fig.suptitle(title)
    return fig
