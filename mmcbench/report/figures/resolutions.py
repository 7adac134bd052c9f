"""The resolution study at a glance, from results/resolutions.csv only.

One heatmap: datasets as columns; per method and variant a block of rows, first the default
setting (grey, its own mean written in), then each one-factor change coloured by Δ of the metric
against the default (blue better, red worse) with Δ written in. A cell whose runs collapsed says
how many; a key the variant cannot feel reads `inert`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib import pyplot as plt

from mmcbench.core.errors import MmcbenchError
from mmcbench.planning.study import DEFAULT
from mmcbench.report.figures import style
from mmcbench.runs.metrics import LOWER_IS_BETTER

DIVERGING_CMAP = "RdBu"  # blue = better than the default, red = worse (colour-blind safe)
MIN_SPAN = 5.0  # points: the colour scale spans at least ±5
MAX_SPAN = 20.0  # and saturates beyond ±20, so that changes of a few points stay visible
DEFAULT_SHADE = "0.9"


def _collapses(row: pd.Series) -> str:
    return f"\n{int(row['n_collapsed'])}/{int(row['n'])} coll." if row["n_collapsed"] else ""


def _cell_text(row: pd.Series) -> str:
    if row["status"] == "inert":
        return "inert"
    if row["status"] == "missing" or pd.isna(row["mean"]):
        return "–"
    if row["status"] == DEFAULT:
        return f"{row['mean']:.1f}{_collapses(row)}"
    return f"{row['delta']:+.1f}{_collapses(row)}"


def figure_rows(
    study: pd.DataFrame,
) -> tuple[list[str], list[str], np.ndarray, list[list[str]], list[int]]:
    """Row labels, datasets, Δ matrix (NaN where not coloured), cell texts, default-row indices."""
    datasets = list(dict.fromkeys(study["dataset"]))
    labels, deltas, texts, defaults = [], [], [], []
    for (method, variant), block in study.groupby(["method", "variant"], sort=False):
        for (key, value), point in block.groupby(["key", "value"], sort=False):
            by = {r["dataset"]: r for _, r in point.iterrows()}
            if key == DEFAULT:
                defaults.append(len(labels))
                labels.append(f"{method} {variant}: default")
            else:
                labels.append(f"{key} = {value}")
            deltas.append(
                [
                    by[d]["delta"] if d in by and by[d]["status"] == "changed" else np.nan
                    for d in datasets
                ]
            )
            texts.append([_cell_text(by[d]) if d in by else "" for d in datasets])
    return labels, datasets, np.array(deltas, dtype=float), texts, defaults


def resolutions_figure(study: pd.DataFrame, metric: str = "ACC") -> plt.Figure:
    """Δ `metric` of every one-factor change, per dataset (see the module docstring)."""
    study = study[study["metric"] == metric]
    if study.empty:
        raise MmcbenchError(f"resolutions: no {metric} in the resolution study CSV")
    style.apply()
    labels, datasets, deltas, texts, defaults = figure_rows(study)
    finite = deltas[np.isfinite(deltas)]
    largest = float(np.abs(finite).max()) if finite.size else 0.0
    span = min(max(MIN_SPAN, largest), MAX_SPAN)
    width = min(style.FULL_IN, 2.4 + 1.0 * len(datasets))
    fig, ax = plt.subplots(figsize=(width, 0.8 + 0.26 * len(labels)))
    cmap = plt.get_cmap(DIVERGING_CMAP + ("_r" if metric in LOWER_IS_BETTER else ""))
    image = ax.imshow(deltas, cmap=cmap, vmin=-span, vmax=span, aspect="auto")
    for i in defaults:
        ax.axhspan(i - 0.5, i + 0.5, color=DEFAULT_SHADE, zorder=0)
        if i:
            ax.axhline(i - 0.5, color="black", linewidth=0.8)
    for i, row in enumerate(texts):
        for j, text in enumerate(row):
            dark = np.isfinite(deltas[i, j]) and abs(deltas[i, j]) > 0.6 * span
            colour = "0.45" if text in ("inert", "–") else ("white" if dark else "black")
            weight = "bold" if i in defaults else "normal"
            ax.text(
                j, i, text, ha="center", va="center", fontsize=5.5, color=colour, fontweight=weight
            )
    ax.set_yticks(range(len(labels)), labels)
    for i in defaults:
        ax.get_yticklabels()[i].set_fontweight("bold")
    ax.set_xticks(range(len(datasets)), datasets)
    ax.xaxis.tick_top()
    ax.tick_params(length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    better = "lower" if metric in LOWER_IS_BETTER else "higher"
    fig.colorbar(
        image,
        ax=ax,
        shrink=min(1.0, 8 / max(len(labels), 1)),
        pad=0.02,
        extend="both" if largest > span else "neither",
        label=f"Δ {metric} vs the default ({better} is better)",
    )
    seeds = int(study.loc[study["status"] == DEFAULT, "n_runs"].max() or 0)
    ax.set_title(
        f"Resolution study: Δ {metric} of each one-factor change ({seeds} seed"
        f"{'s' if seeds != 1 else ''})\ngrey rows: the default setting's own {metric}",
        loc="left",
        pad=14,
    )
    return fig
