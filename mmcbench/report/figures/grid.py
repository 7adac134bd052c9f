"""α/β grid figures (GIB Fig. 4, CLIB's parameter analysis) from results/grid.csv only.

A heatmap of the mean over the grid's seeds per (α, β), values written in the cells, the best
cell outlined (highest mean; lowest for ECE). The papers draw 3-D bars: `style="bars3d"`. The
title names the epoch the cells are read at: the selection protocol of the summary's rows
(`final`: each run's last epoch) and, where given, the runs' number of epochs.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib import colors
from matplotlib import pyplot as plt
from matplotlib.patches import Rectangle

from mmcbench.core.csv_input import SUMMARY, read_csv
from mmcbench.core.errors import MmcbenchError
from mmcbench.report.figures import GRID_STYLES, style
from mmcbench.runs.metrics import LOWER_IS_BETTER

STYLES = GRID_STYLES


def load_grid(path: str | Path) -> pd.DataFrame:
    """results/grid.csv, checked for the columns the figures need."""
    needed = ("method", "dataset", "metric", "p_alpha", "p_beta", "mean", "n", "n_runs")
    return read_csv(path, "grid summary", needed, columns=SUMMARY)


def grid_cells(grid: pd.DataFrame, method: str, dataset: str, metric: str) -> pd.DataFrame:
    """The grid summary's rows of one method, dataset and metric at the configured reading
    (a grid under another reading, `grid.readings`, is results/paper_checks.csv's; an error if
    there are none)."""
    configured = (
        grid["overrides"].fillna("").astype(str) == ""
        if "overrides" in grid
        else pd.Series(True, index=grid.index)
    )
    cells = grid[
        configured
        & (grid["method"] == method)
        & (grid["dataset"] == dataset)
        & (grid["metric"] == metric)
    ]
    if cells.empty:
        raise MmcbenchError(f"grid: no {metric} of {method} on {dataset} in the grid summary")
    return cells


def _matrix(cells: pd.DataFrame) -> pd.DataFrame:
    return cells.pivot_table(index="p_beta", columns="p_alpha", values="mean", aggfunc="first")


def grid_matrix(grid: pd.DataFrame, method: str, dataset: str, metric: str) -> pd.DataFrame:
    """Mean of `metric` with β as rows (ascending upwards when drawn) and α as columns."""
    return _matrix(grid_cells(grid, method, dataset, metric))


def best_cell(matrix: pd.DataFrame, metric: str) -> tuple[float, float, float] | None:
    """(α, β, value) of the best cell (ties: the first in α, then β order); None if all NaN."""
    stacked = matrix.stack().dropna()
    if stacked.empty:
        return None
    (beta, alpha) = stacked.idxmin() if metric in LOWER_IS_BETTER else stacked.idxmax()
    return float(alpha), float(beta), float(stacked[(beta, alpha)])


PROTOCOL_EPOCH = {"final": "each run's last epoch"}


def epoch_text(cells: pd.DataFrame, epochs: int | None = None) -> str:
    """ "epoch 100 (protocol final: each run's last epoch)": which epoch the cells read (the
    protocol alone when the epochs are not given, or the protocol picks an epoch per run)."""
    protocols = (
        sorted(cells["protocol"].dropna().astype(str).unique()) if "protocol" in cells else []
    )
    if not protocols:  # a summary written before it named its protocol: the honest default
        protocols = ["final"]
    said = ", ".join(f"{p}: {PROTOCOL_EPOCH[p]}" if p in PROTOCOL_EPOCH else p for p in protocols)
    if epochs is not None and protocols == ["final"]:
        return f"epoch {epochs} (protocol {said})"
    return f"protocol {said}"


def _title(
    method: str, dataset: str, metric: str, cells: pd.DataFrame, best, epochs: int | None = None
) -> str:
    seeds = int(cells["n_runs"].max())
    failed = int((cells["n_runs"] - cells["n"]).clip(lower=0).sum())
    better = ", lower is better" if metric in LOWER_IS_BETTER else ""
    text = f"{method} on {dataset}: {metric} (%{better}), mean of {seeds} seed{'s' * (seeds != 1)}"
    if failed:
        text += f", {failed} failed runs"
    if "n_collapsed" in cells and (collapsed := int(cells["n_collapsed"].fillna(0).sum())):
        text += f", {collapsed} collapsed (hatched)"
    text += f"\n{epoch_text(cells, epochs)}"
    if best:
        text += f"\nbest α = {best[0]:g}, β = {best[1]:g}: {best[2]:.1f}"
    return text


def _collapsed(cells: pd.DataFrame) -> set[tuple[float, float]]:
    """(α, β) of the cells with collapsed runs."""
    if "n_collapsed" not in cells:
        return set()
    hit = cells[cells["n_collapsed"].fillna(0) > 0]
    return set(zip(hit["p_alpha"].astype(float), hit["p_beta"].astype(float), strict=True))


def _heatmap(
    ax: plt.Axes, matrix: pd.DataFrame, metric: str, best, collapsed: set = frozenset()
) -> None:
    import seaborn as sns

    shown = matrix.sort_index(ascending=False)  # β grows upwards
    size = max(shown.shape)
    sns.heatmap(
        shown,
        ax=ax,
        cmap=style.SEQUENTIAL_CMAP + ("_r" if metric in LOWER_IS_BETTER else ""),
        annot=True,
        fmt=".0f" if size > 6 else ".1f",
        annot_kws={"fontsize": 5 if size > 6 else 7},
        linewidths=0.3,
        square=True,
        cbar_kws={"label": f"{metric} (%)", "shrink": 0.8},
    )
    ax.set_xticklabels([f"{a:g}" for a in shown.columns], rotation=0)
    ax.set_yticklabels([f"{b:g}" for b in shown.index], rotation=0)
    ax.set_xlabel("α")
    ax.set_ylabel("β")
    for alpha, beta in collapsed:  # a collapse is not a low score: hatch it
        col, row = list(shown.columns).index(alpha), list(shown.index).index(beta)
        ax.add_patch(Rectangle((col, row), 1, 1, fill=False, hatch="///", edgecolor="0.3"))
    if best:
        col = list(shown.columns).index(best[0])
        row = list(shown.index).index(best[1])
        ax.add_patch(Rectangle((col, row), 1, 1, fill=False, edgecolor="red", linewidth=1.5))


def _bars3d(fig: plt.Figure, matrix: pd.DataFrame, metric: str, best) -> plt.Axes:
    ax = fig.add_subplot(projection="3d")
    alphas, betas = list(matrix.columns), list(matrix.index)
    values = matrix.to_numpy(dtype=float)
    finite = values[np.isfinite(values)]
    norm = colors.Normalize(finite.min(), finite.max() if finite.max() > finite.min() else 1)
    cmap = plt.get_cmap(style.SEQUENTIAL_CMAP + ("_r" if metric in LOWER_IS_BETTER else ""))
    for i, beta in enumerate(betas):
        for j, alpha in enumerate(alphas):
            value = values[i, j]
            if not np.isfinite(value):
                continue
            is_best = best is not None and (alpha, beta) == (best[0], best[1])
            colour = "red" if is_best else cmap(norm(value))
            ax.bar3d(j, i, 0, 0.7, 0.7, value, color=colour, shade=True)
    step = 2 if max(len(alphas), len(betas)) > 6 else 1  # every other label on a fine grid
    ax.set_xticks(np.arange(0, len(alphas), step) + 0.35, [f"{a:g}" for a in alphas[::step]])
    ax.set_yticks(np.arange(0, len(betas), step) + 0.35, [f"{b:g}" for b in betas[::step]])
    ax.set_xlabel("α")
    ax.set_ylabel("β")
    ax.set_zlabel(f"{metric} (%)")
    return ax


def grid_figure(
    grid: pd.DataFrame,
    method: str,
    dataset: str,
    metric: str,
    kind: str = "heatmap",
    epochs: int | None = None,
) -> plt.Figure:
    """The grid of one method, dataset and metric (not saved; see `style.save`); `epochs`: the
    grid runs' number of epochs, for the title."""
    if kind not in STYLES:
        raise MmcbenchError(f"grid: unknown style {kind!r} (choose from {', '.join(STYLES)})")
    style.apply()
    cells = grid_cells(grid, method, dataset, metric)
    matrix = _matrix(cells)
    best = best_cell(matrix, metric)
    fig = plt.figure(figsize=(style.COLUMN_IN, style.COLUMN_IN * 0.95))
    if kind == "heatmap":
        ax = fig.add_subplot()
        _heatmap(ax, matrix, metric, best, _collapsed(cells))
    else:
        ax = _bars3d(fig, matrix, metric, best)
    ax.set_title(_title(method, dataset, metric, cells, best, epochs))
    return fig
