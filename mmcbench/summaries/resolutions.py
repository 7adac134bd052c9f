"""The resolution study's results: `results/resolutions.csv` and the table
`results/tables/resolutions.{md,html,tex,csv}`, from the study's run records only.

resolutions.csv: one row per (method, variant, dataset, key, value, metric): mean, std (ddof 1),
n, failed and collapsed runs and mean clusters used over the study's seeds; the default point's
mean, std and n over the same seeds; Δ = mean − default mean; `status` default / changed / inert
(a key the variant cannot feel: not trained, `note` says why) / missing (planned, no record).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mmcbench.core import atomic
from mmcbench.core.errors import RecordError
from mmcbench.planning.study import DEFAULT
from mmcbench.report.html_page import write_markdown_page
from mmcbench.report.table_format import Cell, latex_table, markdown_table
from mmcbench.runs.health import COLLAPSE_RULE
from mmcbench.summaries.aggregate import POINT, runs_table, summarise

log = logging.getLogger(__name__)

METRICS = ("ACC", "NMI", "ECE")
NOTABLE = 2.0  # points: a Δ beyond this is printed bold (protocol.md's verdict threshold)
CELL_COLUMNS = ["mean", "std", "n", "n_runs", "n_collapsed", "clusters_used_mean"]
COLUMNS = [
    "method",
    "variant",
    "dataset",
    "key",
    "value",
    "metric",
    "status",
    "mean",
    "std",
    "n",
    "n_runs",
    "n_failed",
    "n_collapsed",
    "clusters_used_mean",
    "default_mean",
    "default_std",
    "default_n",
    "delta",
    "note",
]


def plan_from_summary(summary: pd.DataFrame) -> list[dict[str, Any]]:
    """The points the records show, when no plan is given (default first, then as found)."""
    points = summary[["method", "variant", POINT]].drop_duplicates()
    rows = []
    for (method, variant), group in points.groupby(["method", "variant"], sort=False):
        rows.append({"method": method, "variant": variant, "key": DEFAULT, "value": ""})
        for text in sorted(t for t in group[POINT] if t):
            key, _, value = text.partition("=")
            rows.append({"method": method, "variant": variant, "key": key, "value": value})
    return rows


def _cell(summary: pd.DataFrame, method, variant, dataset, metric, point: str) -> pd.Series | None:
    hit = summary[
        (summary["method"] == method)
        & (summary["variant"] == variant)
        & (summary["dataset"] == dataset)
        & (summary["metric"] == metric)
        & (summary[POINT] == point)
    ]
    return hit.iloc[0] if len(hit) else None


def study_table(
    record_paths: Iterable[str | Path],
    plan: Sequence[Mapping[str, Any]] | None = None,
    datasets: Sequence[str] | None = None,
    runs_root: Path | None = None,
) -> pd.DataFrame:
    """resolutions.csv as a DataFrame (see the module docstring). Records below `runs_root`
    must be the runs their paths name (aggregate.runs_table)."""
    summary = summarise(runs_table(record_paths, runs_root))
    if summary.empty:
        raise RecordError("no run records of the resolution study")
    summary[POINT] = summary[POINT].fillna("")
    plan = list(plan) if plan is not None else plan_from_summary(summary)
    datasets = list(datasets) if datasets is not None else list(summary["dataset"].unique())
    rows = []
    blocks = list(dict.fromkeys((p["method"], p["variant"]) for p in plan))
    ordered = [
        (point, dataset)
        for block in blocks
        for dataset in datasets
        for point in plan
        if (point["method"], point["variant"]) == block
    ]
    for point, dataset in ordered:  # per method and variant, dataset: default, then changes
        method, variant, key = point["method"], point["variant"], point["key"]
        value = "" if key == DEFAULT else str(point["value"])
        text = "" if key == DEFAULT else f"{key}={value}"
        for metric in METRICS:
            base = _cell(summary, method, variant, dataset, metric, "")
            row = {
                "method": method,
                "variant": variant,
                "dataset": dataset,
                "key": key,
                "value": value,
                "metric": metric,
                "default_mean": base["mean"] if base is not None else np.nan,
                "default_std": base["std"] if base is not None else np.nan,
                "default_n": base["n"] if base is not None else 0,
                "note": point.get("inert") or "",
            }
            if point.get("inert"):
                rows.append({**row, "status": "inert", "n": 0, "n_runs": 0})
                continue
            cell = (
                base if key == DEFAULT else _cell(summary, method, variant, dataset, metric, text)
            )
            if cell is None:
                rows.append({**row, "status": "missing", "n": 0, "n_runs": 0})
                continue
            rows.append(
                {
                    **row,
                    **{c: cell[c] for c in CELL_COLUMNS},
                    "n_failed": cell["n_error"] + cell["n_diverged"],
                    "status": DEFAULT if key == DEFAULT else "changed",
                    "delta": cell["mean"] - row["default_mean"],
                }
            )
    return pd.DataFrame(rows, columns=COLUMNS)


def write_study_csv(
    record_paths: Iterable[str | Path],
    out: Path,
    plan: Sequence[Mapping[str, Any]] | None = None,
    datasets: Sequence[str] | None = None,
    runs_root: Path | None = None,
) -> pd.DataFrame:
    """Write resolutions.csv atomically (only once every record is checked); return it."""
    atomic.check_writable(out)
    paths = list(record_paths)
    table = study_table(paths, plan, datasets, runs_root)
    with atomic.atomic_path(out) as tmp:
        table.to_csv(tmp, index=False)
    changed = table[(table["status"] == "changed") & (table["metric"] == "ACC")]
    log.info(
        "resolution study: %d records, %d (point, dataset) cells changed, %d inert; wrote %s",
        len(paths),
        len(changed),
        int(((table["status"] == "inert") & (table["metric"] == "ACC")).sum()),
        out,
    )
    return table


# ----------------------------------------------------------------------------- table
def _mean_std(mean: float, std: float) -> str:
    if pd.isna(mean):
        return "–"
    return f"{mean:.1f}" + ("" if pd.isna(std) else f" ± {std:.1f}")


def _delta(row: pd.Series) -> Cell:
    if row["status"] != "changed" or pd.isna(row["delta"]):
        return Cell("")
    return Cell(f"{row['delta']:+.1f}", 1 if abs(row["delta"]) > NOTABLE else None)


def _collapsed(row: pd.Series) -> str:
    if row["status"] in ("inert", "missing"):
        return ""
    return f"{int(row['n_collapsed'])}/{int(row['n'])}"


def table_lines(study: pd.DataFrame) -> list[list[Cell]]:
    """One line per (method, variant, dataset, point): ACC, NMI, ECE, n, their Δ, collapsed."""
    lines = []
    keys = ["method", "variant", "dataset", "key", "value"]
    for (method, variant, dataset, key, value), part in study.groupby(keys, sort=False):
        by = {r["metric"]: r for _, r in part.iterrows()}
        first = next(iter(by.values()))
        line = [Cell(method), Cell(variant), Cell(dataset)]
        line += [Cell("(default)" if key == DEFAULT else key), Cell(str(value))]
        if first["status"] == "inert":
            line += [Cell(f"not trained: {first['note']}")] + [Cell("")] * 7
        elif first["status"] == "missing":
            line += [Cell("no record")] + [Cell("")] * 7
        else:
            line += [Cell(_mean_std(by[m]["mean"], by[m]["std"])) for m in METRICS]
            line.append(Cell(str(int(first["n"]))))
            line += [_delta(by[m]) for m in METRICS]
            line.append(Cell(_collapsed(first)))
        lines.append(line)
    return lines


HEADER = [
    "Method",
    "Variant",
    "Dataset",
    "Key",
    "Value",
    "ACC",
    "NMI",
    "ECE",
    "n",
    "Δ ACC",
    "Δ NMI",
    "Δ ECE",
    "collapsed",
]
LEGEND = (
    "One factor at a time from the default setting (the configured section: the spec's "
    "defaults): each line changes one key to one value, on the same seeds as the default "
    "line above it. Mean ± std over seeds (n done); Δ = mean − the default's mean, bold when "
    f"|Δ| > {NOTABLE:g} points; ECE lower is better. collapsed = runs whose clustering "
    f"collapsed ({COLLAPSE_RULE}), over the runs done (their scores measure a "
    "collapse, not a reading). A key whose loss term a variant does not have is not trained "
    "(it cannot change the run). No label chooses anything here."
)


def render_study(study: pd.DataFrame, out_prefix: Path) -> None:
    """Write `<out_prefix>.{md,html,tex,csv}`: the study table."""
    lines = table_lines(study)
    md = ["# Resolution study: one factor at a time from the spec's defaults", "", LEGEND, ""]
    md += [markdown_table(HEADER, lines), ""]
    tex = f"% {LEGEND}\n\n" + latex_table("Resolution study", HEADER, lines) + "\n"
    out_prefix.parent.mkdir(parents=True, exist_ok=True)
    atomic.write_text(out_prefix.with_suffix(".md"), "\n".join(md))
    write_markdown_page(out_prefix.with_suffix(".html"), "\n".join(md), "Resolution study")
    atomic.write_text(out_prefix.with_suffix(".tex"), tex)
    with atomic.atomic_path(out_prefix.with_suffix(".csv")) as tmp:
        study.to_csv(tmp, index=False)


def read_study(path: str | Path) -> pd.DataFrame:
    """resolutions.csv, with a clear error naming the file."""
    from mmcbench.core.csv_input import STUDY, read_csv

    return read_csv(path, "resolution study CSV", COLUMNS, columns=STUDY)
