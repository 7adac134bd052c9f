"""What the published numbers disagree on (`mmcbench published-audit`).

Three checks on the bundled published data, each row one finding:

- `printed row`: a cell of GIB's printed "Ours vs Best Compared" row that is not the margin its
  own Table 1 gives (GIB minus the best other method of the column);
- `shared cell`: a method's value on a dataset and metric that GIB's Table 1 and CLIB's results
  table both print, printed differently (the baselines and compared methods both papers ran);
- `same rows, other views`: a dataset whose shared cells are all identical in both papers
  although the papers state different numbers of views for it (the spec's dataset lists);
- `best compared`: each claimed cell of "Ours vs Best Compared" (`claims.is_claimed`) with the
  method its paper prints as the best compared, and whether the suite runs that method
  (`catalogue.competing_methods()`): a claim is only as strong as the best compared method
  the suite can run.
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from mmcbench.core import atomic
from mmcbench.planning import catalogue
from mmcbench.report.claims import AGREE, CLAIMS, is_claimed, published_side
from mmcbench.runs.metrics import LOWER_IS_BETTER

# (paper, dataset) → the views the paper states (spec/GIB.md "Datasets (Table 3)",
# spec/CLIB.md "Datasets (slide Datasets)")
PAPER_VIEWS = {
    ("GIB", "Caltech-2V"): 2,
    ("GIB", "Caltech-3V"): 3,
    ("GIB", "WVU"): 4,
    ("GIB", "IAPR"): 2,
    ("GIB", "MIRFlickr"): 4,
    ("CLIB", "Caltech-2V"): 2,
    ("CLIB", "Caltech-3V"): 3,
    ("CLIB", "ESP-Game"): 2,
    ("CLIB", "IAPR"): 2,
    ("CLIB", "MIRFlickr"): 2,
}
SHARED = (("GIB", "table1"), ("CLIB", "results"))  # the two tables both papers' rows share
COLUMNS = ("check", "dataset", "method", "metric", "first", "second", "difference", "note")


def printed_rows(published: pd.DataFrame, printed: pd.DataFrame) -> list[dict]:
    """The printed margins that are not their table's."""
    out = []
    for _, row in printed.iterrows():
        key = (row["paper"], row["table"], row["dataset"], row["metric"])
        side = published_side(published, printed, key, row["paper"])
        if side.printed_disagrees:
            out.append(
                {
                    "check": "printed row",
                    "dataset": row["dataset"],
                    "method": row["paper"],
                    "metric": row["metric"],
                    "first": side.printed,
                    "second": side.margin_overall,
                    "difference": side.printed - side.margin_overall,
                    "note": (
                        f"{row['paper']} {row['table']} prints {side.printed:+.1f}; its table "
                        f"gives {side.margin_overall:+.1f} (vs {side.best}); like for like "
                        f"{side.margin:+.1f} (vs {side.like_for_like})"
                    ),
                }
            )
    return out


def shared_cells(published: pd.DataFrame) -> pd.DataFrame:
    """Every (dataset, method, metric) both shared tables print a value of, side by side."""
    tables = []
    for paper, table in SHARED:
        part = published[(published["paper"] == paper) & (published["table"] == table)]
        part = part.dropna(subset=["value"])
        part = part[["dataset", "method", "metric", "value"]]
        tables.append(part.rename(columns={"value": paper}))
    first, second = (paper for paper, _ in SHARED)
    both = tables[0].merge(tables[1], on=["dataset", "method", "metric"])
    return both[~both["method"].isin([first, second])].reset_index(drop=True)


def best_compared_rows(published: pd.DataFrame, printed: pd.DataFrame) -> list[dict]:
    """Each claimed cell's published best compared method, and whether the suite runs it."""
    competing = set(catalogue.competing_methods())
    out = []
    for paper, (ours, tables) in CLAIMS.items():
        mine = published[(published["paper"] == paper) & published["table"].isin(tables)]
        keys = mine[["table", "dataset", "metric"]].drop_duplicates()
        for table, dataset, metric in keys.itertuples(index=False, name=None):
            side = published_side(published, printed, (paper, table, dataset, metric), ours)
            if not is_claimed(paper, metric, side) or side.best is None:
                continue
            runs = side.best in competing
            out.append(
                {
                    "check": "best compared",
                    "dataset": dataset,
                    "method": side.best,
                    "metric": metric,
                    "first": side.ours,
                    "second": side.ours
                    - side.margin_overall * (-1 if metric in LOWER_IS_BETTER else 1),
                    "difference": side.margin_overall,
                    "note": f"{paper} {table}: best compared {side.best}, "
                    + ("runs in the suite" if runs else "not in the suite"),
                }
            )
    return out


def audit(published: pd.DataFrame, printed: pd.DataFrame) -> pd.DataFrame:
    """Every finding of the four checks (module docstring), one row each."""
    rows = printed_rows(published, printed)
    shared = shared_cells(published)
    first, second = (paper for paper, _ in SHARED)
    for _, cell in shared[(shared[first] - shared[second]).abs() > AGREE].iterrows():
        rows.append(
            {
                "check": "shared cell",
                "dataset": cell["dataset"],
                "method": cell["method"],
                "metric": cell["metric"],
                "first": cell[first],
                "second": cell[second],
                "difference": cell[first] - cell[second],
                "note": f"{first} prints {cell[first]:.1f}, {second} {cell[second]:.1f}",
            }
        )
    for dataset, cells in shared.groupby("dataset", sort=True):
        views = (PAPER_VIEWS.get((first, dataset)), PAPER_VIEWS.get((second, dataset)))
        same = bool(((cells[first] - cells[second]).abs() <= AGREE).all())
        if same and None not in views and views[0] != views[1]:
            rows.append(
                {
                    "check": "same rows, other views",
                    "dataset": dataset,
                    "method": "",
                    "metric": "",
                    "first": math.nan,
                    "second": math.nan,
                    "difference": math.nan,
                    "note": (
                        f"all {len(cells)} shared cells identical, although {first} states "
                        f"{views[0]} views and {second} {views[1]}"
                    ),
                }
            )
    rows += best_compared_rows(published, printed)
    return pd.DataFrame(rows, columns=COLUMNS)


def audit_markdown(findings: pd.DataFrame, published: pd.DataFrame) -> str:
    """The audit as a report section: the counts, then every finding."""
    shared = shared_cells(published)
    first, second = (paper for paper, _ in SHARED)
    count = findings["check"].value_counts()
    best = findings[findings["check"] == "best compared"]
    in_suite = int(best["note"].str.endswith("runs in the suite").sum())
    lines = [
        "# The published numbers, audited",
        "",
        f'- GIB\'s printed "Ours vs Best Compared" row: {count.get("printed row", 0)} cell(s) '
        "are not the margin GIB's own Table 1 gives.",
        f"- {len(shared)} cells (dataset, method, metric) are printed in both {first}'s Table 1 "
        f"and {second}'s results table; {count.get('shared cell', 0)} of them disagree (by more "
        f"than {AGREE} points).",
        f"- {count.get('same rows, other views', 0)} dataset(s) have identical shared rows "
        "although the papers state different views.",
        f"- {in_suite} of {count.get('best compared', 0)} claimed cells have their published "
        "best compared method in the suite.",
        "",
        f"| Check | Dataset | Method | Metric | {first} / printed | {second} / table | Note |",
        "|---|---|---|---|---|---|---|",
    ]
    for _, row in findings.iterrows():
        values = ["" if pd.isna(row[c]) else f"{row[c]:.1f}" for c in ("first", "second")]
        cells = [row["check"], row["dataset"], row["method"], row["metric"], *values, row["note"]]
        lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    return "\n".join(lines) + "\n"


def write_audit(findings: pd.DataFrame, published: pd.DataFrame, out: Path) -> None:
    """`out` (CSV) and beside it the report section (.html, and .md), atomically."""
    from mmcbench.report.html_page import write_markdown_page

    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic.atomic_path(out) as tmp:
        findings.to_csv(tmp, index=False)
    text = audit_markdown(findings, published)
    atomic.write_text(out.with_suffix(".md"), text)
    write_markdown_page(out.with_suffix(".html"), text, "The published numbers, audited")
