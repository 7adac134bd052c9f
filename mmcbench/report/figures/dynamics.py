"""Training dynamics (issue "why GIB's accuracy decays"): everything a run's history records per
epoch, mean ± std over seeds, in one figure per method and dataset.

Panels: ACC and NMI (and ECE where recorded); each loss term the method trains on, as the
training epoch's mean over batches and as evaluated on all samples in eval mode (the terms are
those the evaluation records as `eval_<term>`, so the panels are the method's own terms,
whatever they are called); and per
view the mean σ and the mean |μ| of the variational encoders on all samples in eval mode
(`eval_sigma_v<i>`, `eval_mu_abs_v<i>`; one line per view, named by the dataset's view names
where known), where the method has them. Loss panels carry the terms' paper names (`names`), and
the stages of a method trained in stages are marked as in the training curves.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import pandas as pd
from matplotlib import pyplot as plt
from matplotlib.ticker import MaxNLocator

from mmcbench.core.errors import MmcbenchError
from mmcbench.report.figures import names, style
from mmcbench.report.figures.convergence import LABELS, PERCENT, seeds_pooled

EVAL = "eval_"
VIEW_STATISTICS = {"sigma": "mean σ (eval)", "mu_abs": "mean |μ| (eval)"}
COLUMNS = 4


def loss_terms(histories: pd.DataFrame) -> list[str]:
    """The method's loss terms: the `eval_<term>` columns' terms, in the history's order, that
    are not per-view statistics (the training column where it exists, else the eval one)."""
    terms = []
    for column in histories.columns:
        if not column.startswith(EVAL):
            continue
        term = column.removeprefix(EVAL)
        if any(term.startswith(f"{s}_v") for s in VIEW_STATISTICS):
            continue
        terms.append(term if term in histories else column)
    return terms


def view_columns(histories: pd.DataFrame, statistic: str) -> list[str]:
    prefix = f"{EVAL}{statistic}_v"
    return [c for c in histories.columns if c.startswith(prefix)]


def panels(histories: pd.DataFrame, method: str | None = None) -> list[tuple[str, list[str]]]:
    """(title, columns) of each panel: scores, loss terms (titled by `method`'s paper names
    where known), per-view statistics."""
    scores = [m for m in ("ACC", "NMI", "ECE") if m in histories]
    out = [(LABELS[m], [m]) for m in scores]
    for term in loss_terms(histories):  # the training mean and the eval value, where both are
        pair = [term, f"{EVAL}{term}"] if not term.startswith(EVAL) else [term]
        out.append((names.term_name(method, term.removeprefix(EVAL)), pair))
    for statistic, title in VIEW_STATISTICS.items():
        if columns := view_columns(histories, statistic):
            out.append((title, columns))
    return out


def dynamics_figure(
    method: str,
    dataset: str,
    histories: pd.DataFrame,
    setting: str = "",
    variant: str | None = None,
    views: Sequence[str] | None = None,
) -> plt.Figure:
    """Mean ± std over seeds of every recorded quantity against epoch (not saved); `views`: the
    views' names, for the per-view lines' legends. Histories without eval-mode losses (written
    before the suite recorded them, or of a method without `eval_step`) show the scores and the
    total loss, and the title says why."""
    style.apply()
    shown = panels(histories, method)
    spans = names.stage_spans(histories)
    note = ""
    if not loss_terms(histories):
        if "total" in histories:
            shown.append((f"{names.term_name(method, 'total')} (train)", ["total"]))
        note = " (no eval-mode loss terms recorded: scores and total loss only)"
    if not shown:
        raise MmcbenchError("dynamics: the histories have no score or loss column to draw")
    rows = math.ceil(len(shown) / COLUMNS)
    fig, axes = plt.subplots(
        rows,
        COLUMNS,
        figsize=(style.FULL_IN, 1.7 * rows),
        squeeze=False,
        layout="constrained",
    )
    colours = style.palette(max(len(c) for _, c in shown))
    for ax, (title, columns) in zip(axes.flat, shown, strict=False):
        for colour, column in zip(colours, columns, strict=False):
            label = _view(column, views) if len(columns) > 1 else None
            _band(ax, histories, column, colour, label=label)
        names.mark_stages(ax, spans)
        ax.ticklabel_format(axis="y", useOffset=False)  # an offset text would cover the title
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_title(title, fontsize=7)
        ax.set_xlabel("epoch")
        if len(columns) > 1 and not _per_view(columns[0]):
            ax.legend(fontsize=5, frameon=False)
    spare = list(axes.flat)[len(shown) :]
    for ax in spare:
        ax.set_visible(False)
    _view_legend(fig, axes, shown, spare)
    name = f"{method} {variant}" if variant and variant != method else method
    title = f"{name} on {dataset}{setting}: mean ± std over {seeds_pooled(histories)}{note}"
    if stages := names.stage_text(method, spans):
        title += f"\n{stages}"
    fig.suptitle(title)
    return fig


def _per_view(column: str) -> bool:
    return any(column.startswith(f"{EVAL}{s}_v") for s in VIEW_STATISTICS)


def _view_legend(fig: plt.Figure, axes, shown, spare: list) -> None:
    """One legend of the views for every per-view panel: in the first unused cell of the grid,
    else below the panels (a legend inside a panel of six lines hides them)."""
    for ax, (_, columns) in zip(axes.flat, shown, strict=False):
        if _per_view(columns[0]):
            handles, labels = ax.get_legend_handles_labels()
            break
    else:
        return
    if spare:
        spare[0].set_visible(True)
        spare[0].axis("off")
        spare[0].legend(
            handles, labels, title="view", loc="center", frameon=False, title_fontsize=7
        )
    else:
        fig.legend(handles, labels, title="view", loc="outside lower center", ncol=len(labels))


def _view(column: str, views: Sequence[str] | None = None) -> str:
    """A line's legend: the view of a per-view statistic (its name in `views`, else v0, …),
    else train or eval."""
    if _per_view(column):
        index = column.rsplit("_v", 1)[-1]
        return names.view_label(int(index), views) if index.isdigit() else f"v{index}"
    return "eval" if column.startswith(EVAL) else "train"


def _band(ax, histories: pd.DataFrame, column: str, colour, label: str | None) -> None:
    stats = histories.groupby("epoch")[column].agg(["mean", "std"]).dropna(subset=["mean"])
    low = stats["mean"] - stats["std"].fillna(0)
    high = stats["mean"] + stats["std"].fillna(0)
    if column in PERCENT:
        low, high = low.clip(0, 100), high.clip(0, 100)
    ax.plot(stats.index, stats["mean"], color=colour, linewidth=1.0, label=label)
    ax.fill_between(stats.index, low, high, color=colour, alpha=0.25, linewidth=0)
