"""Published vs reproduced, every cell of every rendered table, in one figure.

Reads the comparison only: `results/comparison.csv` (`mmcbench.report.comparison`, every table's
cells, which aggregation writes), or the tables' CSVs (`results/tables/<table>.csv`, a table's part
of it as `render` writes it). One row of panels per table, one panel per metric the table prints; a
line per cell: the honest reproduced mean (filled circle, ± std bar), the value under the method's
own paper's selection protocol (triangle, joined to the honest mean by a dashed line: the selection
gain), and the published value (open diamond), joined by a grey line to the value the verdict is
taken against (the paper's-protocol value where the cell has one, else the honest mean). Cells of
datasets the papers do not have show the reproduced values alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib import pyplot as plt
from matplotlib.lines import Line2D

from mmcbench.core.csv_input import TABLE, distinct_paths, read_csv
from mmcbench.core.errors import MmcbenchError
from mmcbench.report.figures import style
from mmcbench.report.tables import TABLES, VERDICT_POINTS

ROW_IN = 0.15  # height per cell row, inches


def load_comparisons(paths: Sequence[str | Path]) -> dict[str, pd.DataFrame]:
    """Table name → its cells, restricted to the metrics it prints: each table of a
    comparison.csv (a file with a `table` column), or a table CSV named by its file stem."""
    out = {}
    for path in distinct_paths(paths, "plot paper-vs-reproduced", "--tables"):
        if path.stem not in TABLES and _is_comparison(path):
            from mmcbench.report.comparison import cells, read_comparison

            table = read_comparison(path)
            for name in dict.fromkeys(table["table"]):
                if name in out:
                    raise MmcbenchError(f"{path}: the cells of {name} are given twice")
                part = cells(table, name)
                out[name] = part[part["metric"].isin(TABLES[name].metrics)]
            continue
        spec = TABLES.get(path.stem)
        if spec is None:
            raise MmcbenchError(
                f"{path}: not a table CSV (known: {', '.join(TABLES)}) nor a comparison.csv"
            )
        if path.stem in out:
            raise MmcbenchError(f"{path}: the cells of {path.stem} are given twice")
        needed = ["paper", "dataset", "label", "metric", "mean"]
        # A table with no reproduced cell is written as an empty CSV: no rows, not an error.
        empty = pd.DataFrame(columns=needed)
        frame = read_csv(path, "table CSV", needed, if_empty=empty, columns=TABLE)
        out[path.stem] = frame[frame["metric"].isin(spec.metrics)]
    return out


def _is_comparison(path: Path) -> bool:
    """Whether the CSV's header has comparison.csv's `table` column (False if unreadable)."""
    try:
        return "table" in pd.read_csv(path, nrows=0).columns
    except (OSError, ValueError, pd.errors.ParserError, UnicodeDecodeError):
        return False


def _row_names(frame: pd.DataFrame) -> list[str]:
    two_papers = frame["paper"].fillna("").nunique() > 1
    names = []
    for _, r in frame.iterrows():
        name = f"{r['dataset']} · {r['label']}"
        if two_papers and isinstance(r["paper"], str) and r["paper"]:
            name += f" [{r['paper']}]"
        names.append(name)
    return names


def _panel(ax: plt.Axes, frame: pd.DataFrame, rows: list[str], colours) -> str:
    index = {name: i for i, name in enumerate(rows)}
    y = np.array([index[n] for n in _row_names(frame)])
    mean = frame["mean"].to_numpy(dtype=float)
    std = frame["std"].to_numpy(dtype=float) if "std" in frame else np.full_like(mean, np.nan)
    published = frame["published"].to_numpy(dtype=float) if "published" in frame else mean * np.nan
    selected = _column(frame, "protocol_mean")
    against = np.where(np.isfinite(selected), selected, mean)  # what the verdict reads
    for yi, m, s, a, p in zip(y, mean, selected, against, published, strict=True):
        if np.isfinite(a) and np.isfinite(p):
            ax.plot([a, p], [yi, yi], color="0.6", linewidth=1, zorder=1)
        if np.isfinite(m) and np.isfinite(s):
            ax.plot([m, s], [yi, yi], color=colours[1], linewidth=0.8, linestyle="--", zorder=1)
    ax.errorbar(
        mean,
        y,
        xerr=np.nan_to_num(std),
        fmt="o",
        color=colours[0],
        markersize=3,
        elinewidth=0.8,
        capsize=1.5,
        zorder=2,
    )
    ax.scatter(selected, y, marker="^", color=colours[1], s=14, zorder=3)
    ax.scatter(published, y, marker="D", facecolors="none", edgecolors="black", s=14, zorder=3)
    if "n_collapsed" in frame:  # a collapse is not a low score: cross it out
        collapsed = frame["n_collapsed"].fillna(0).to_numpy(dtype=float) > 0
        ax.scatter(mean[collapsed], y[collapsed], marker="x", color="red", s=22, zorder=4)
    ax.set_xlim(-2, 102)
    ax.set_ylim(len(rows) - 0.5, -0.5)
    ax.grid(axis="x", linewidth=0.3)
    both = np.isfinite(against) & np.isfinite(published)
    within = int((np.abs(against - published)[both] <= VERDICT_POINTS).sum())
    honest = int((np.abs(mean - published)[both] <= VERDICT_POINTS).sum())
    return (
        f"{within}/{int(both.sum())} within {VERDICT_POINTS:g} pts ({honest} honest)"
        if both.any()
        else "no published value"
    )


def _column(frame: pd.DataFrame, name: str) -> np.ndarray:
    """A numeric column of a table CSV, NaN where the CSV lacks it (written before it was)."""
    if name not in frame:
        return np.full(len(frame), np.nan)
    return pd.to_numeric(frame[name], errors="coerce").to_numpy(dtype=float)


def paper_vs_reproduced_figure(comparisons: dict[str, pd.DataFrame]) -> plt.Figure:
    """The figure over all tables (not saved)."""
    style.apply()
    tables = {name: frame for name, frame in comparisons.items() if not frame.empty}
    if not tables:
        raise MmcbenchError("paper vs reproduced: no table has a reproduced cell")
    n_cols = max(len(TABLES[name].metrics) for name in tables)
    row_lists = {}
    for name, frame in tables.items():
        names = _row_names(frame)
        row_lists[name] = list(dict.fromkeys(names))
    heights = [max(len(r), 2) for r in row_lists.values()]
    fig, axes = plt.subplots(
        len(tables),
        n_cols,
        figsize=(style.FULL_IN, ROW_IN * sum(heights) + 0.55 * len(tables) + 0.6),
        gridspec_kw={"height_ratios": heights},
        squeeze=False,
        sharex=True,
    )
    colours = style.palette(2)
    for r, (name, frame) in enumerate(tables.items()):
        metrics = TABLES[name].metrics
        for c in range(n_cols):
            ax = axes[r][c]
            if c >= len(metrics):
                ax.set_visible(False)
                continue
            metric = metrics[c]
            verdict = _panel(ax, frame[frame["metric"] == metric], row_lists[name], colours)
            ax.set_yticks(range(len(row_lists[name])))
            ax.set_yticklabels(row_lists[name] if c == 0 else [])
            ax.set_title(f"{name} · {metric}\n{verdict}")
            ax.set_xlabel(f"{metric} (%)" if r == len(tables) - 1 else "")
    handles = [
        Line2D([], [], marker="o", linestyle="", color=colours[0], markersize=4),
        Line2D([], [], marker="^", linestyle="--", color=colours[1], markersize=4),
        Line2D([], [], marker="D", linestyle="", markerfacecolor="none", color="black"),
        Line2D([], [], marker="x", linestyle="", color="red", markersize=4),
    ]
    fig.legend(
        handles,
        [
            "honest: mean ± std over seeds, last epoch",
            "paper's selection protocol",
            "published",
            "some runs collapsed",
        ],
        loc="upper center",
        ncol=4,
        frameon=False,
        bbox_to_anchor=(0.5, 1.0),
    )
    fig.tight_layout(rect=(0, 0, 1, 0.97))
    return fig
