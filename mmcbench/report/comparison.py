"""`results/comparison.csv`: every cell of every paper table, published vs reproduced, in one
long table that aggregation writes and the tables, the claims and the overview figure read.

One row per (table, paper, dataset, row label, metric) as `mmcbench.report.tables.comparison`
draws it from summary.csv and the published numbers, with the (α, β) of the runs it shows
(`alpha`, `beta`; blank for a method without them), and a row per table row the summary cannot
fill on a dataset the table has (`absent` says why; no metric), of each table the summary draws
(`drawn_tables`). Each table shows, for each deep method with an (α, β), the one setting its
configured runs in the summary have: the setting comes from the rows, not from a config.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from mmcbench.core import atomic
from mmcbench.core.csv_input import TABLE, read_csv
from mmcbench.core.errors import MmcbenchError
from mmcbench.planning import catalogue
from mmcbench.report.tables import (
    TABLES,
    Setting,
    TableSpec,
    absent_cells,
    absent_notes,
    comparison,
    honest_rows,
    table_methods,
    table_points,
    without_study_points,
)

# comparison.csv's columns: a table CSV's (csv_input.TABLE) and the table, α, β and `absent`.
COMPARISON = replace(
    TABLE,
    # an absent row has no metric: blank, read as missing (the metric check skips it)
    text=("table", *(c for c in TABLE.text if c != "metric"), "absent"),
    numbers=(*TABLE.numbers, "alpha", "beta"),
    key=("table", *TABLE.key),
)
NEEDED = ("table", "paper", "paper_table", "dataset", "label", "method", "metric", "published")
NEEDED += ("mean", "std", "n", "alpha", "beta", "absent")


def settings_from_rows(summary: pd.DataFrame) -> Setting:
    """(α, β) per deep method with a setting, from the summary's rows of the configured setting
    (and the compression readings' points); a method whose rows have several is refused, as a
    table shows one setting per method."""
    rows = table_points(summary)
    if "p_alpha" not in rows:
        return {}
    settings: Setting = {}
    for method in catalogue.setting_methods():
        mine = rows.loc[rows["method"] == method, ["p_alpha", "p_beta"]].astype(float)
        pairs = sorted(set(mine.dropna().itertuples(index=False, name=None)))
        if len(pairs) > 1:
            shown = ", ".join(f"({a:g}, {b:g})" for a, b in pairs)
            raise MmcbenchError(
                f"the summary has {method} runs at several (α, β): {shown}; a table shows one "
                "setting per method. Aggregate the table runs only (results/summary.csv of "
                "the workflow), or render with --setting."
            )
        if pairs:
            settings[method] = pairs[0]
    return settings


def table_rows(summary: pd.DataFrame, published: pd.DataFrame, spec: TableSpec) -> pd.DataFrame:
    """One table's rows of comparison.csv: its cells and its absent rows."""
    settings = settings_from_rows(summary)
    long = comparison(summary, published, spec, settings=settings)
    absent = [
        {"paper": "", "paper_table": "", "dataset": d, "label": label, "metric": "", "absent": r}
        for label, r, d in absent_cells(without_study_points(summary), spec, settings)
    ]
    long = long.assign(absent="") if not long.empty else long
    return pd.concat([long, pd.DataFrame(absent)], ignore_index=True).assign(table=spec.name)


def drawn_tables(summary: pd.DataFrame) -> list[TableSpec]:
    """The tables the summary draws: Table 1 (the baselines' table) always, another table
    where the summary has runs of its paper's method (Table 2: GIB; the CLIB tables: CLIB)."""
    methods = set(summary["method"]) if "method" in summary else set()
    first = next(iter(TABLES.values()))
    return [s for s in TABLES.values() if s is first or s.sources[0].paper in methods]


def comparison_table(summary: pd.DataFrame, published: pd.DataFrame) -> pd.DataFrame:
    """comparison.csv of every paper table (`TABLES`), from summary.csv (every protocol row)
    and the published numbers."""
    summary = honest_rows(summary)
    parts = [table_rows(summary, published, spec) for spec in drawn_tables(summary)]
    table = pd.concat(parts, ignore_index=True)
    for column in NEEDED:
        if column not in table:
            table[column] = np.nan
    for column in ("paper", "paper_table", "reading", "absent"):
        table[column] = table[column].fillna("")
    first = ["table", "paper", "paper_table", "dataset", "label"]
    return table[first + [c for c in table.columns if c not in first]]


def write_comparison(table: pd.DataFrame, path: Path) -> None:
    """Write comparison.csv atomically."""
    with atomic.atomic_path(path) as tmp:
        table.to_csv(tmp, index=False)


def read_comparison(path: str | Path) -> pd.DataFrame:
    """comparison.csv, checked (`COMPARISON`), with one clear error naming the file."""
    what = "comparison table (results/comparison.csv of mmcbench aggregate)"
    table = read_csv(path, what, NEEDED, columns=COMPARISON)
    if unknown := sorted(set(table["table"]) - set(TABLES)):
        raise MmcbenchError(
            f"{path}: the {what} names tables {unknown}; the tables are {', '.join(TABLES)}"
        )
    for column in ("paper", "paper_table", "reading", "absent", "view_name", "metric"):
        if column in table:
            table[column] = table[column].fillna("")
    return table


def cells(table: pd.DataFrame, name: str) -> pd.DataFrame:
    """The shown cells of one table (its long comparison, as its rendered CSV holds it)."""
    part = table[(table["table"] == name) & (table["absent"] == "")]
    return part.drop(columns=["table", "absent"]).reset_index(drop=True)


def table_parts(table: pd.DataFrame) -> list[pd.DataFrame]:
    """The shown cells of each table comparison.csv has, one frame per table."""
    return [cells(table, name) for name in dict.fromkeys(table["table"])]


def shown_settings(part: pd.DataFrame, spec: TableSpec) -> Setting:
    """(α, β) of each deep method of a table, from its cells' rows."""
    settings: Setting = {}
    for method in table_methods(spec):
        rows = part.loc[part["method"] == method, ["alpha", "beta"]].astype(float).dropna()
        if not rows.empty:
            alpha, beta = rows.iloc[0]
            settings[method] = (float(alpha), float(beta))
    return settings


def render_from_comparison(
    table: pd.DataFrame, published: pd.DataFrame, spec: TableSpec, out_prefix: Path, level: float
) -> pd.DataFrame:
    """Write `<out_prefix>.{md,html,tex,csv}` of one paper table from comparison.csv's rows."""
    from mmcbench.report.tables import write_table

    if not (table["table"] == spec.name).any():
        raise MmcbenchError(
            f"the comparison table has no rows of {spec.name}; it has "
            f"{', '.join(dict.fromkeys(table['table'])) or 'none'}"
        )
    long = cells(table, spec.name)
    mine = table[table["table"] == spec.name]
    gaps = mine[mine["absent"] != ""]
    notes = absent_notes(list(gaps[["label", "absent", "dataset"]].itertuples(False, None)))
    ran = {d for d in table["dataset"] if isinstance(d, str) and d}
    write_table(long, published, spec, out_prefix, shown_settings(long, spec), notes, ran, level)
    return long
