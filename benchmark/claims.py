"""The papers' headline claims, reproduced: "Ours vs Best Compared".

GIB's Table 1 ends with the row "Ours vs Best Compared" (GIB minus the best compared method,
per dataset and metric) and CLIB's results table claims the best ACC/NMI and the lowest ECE.
Per paper table, dataset and metric this module computes, from a rendered table's long CSV
(`benchmark.tables.comparison`):

- the published difference: the paper's method minus the best other method the paper's table
  prints (all its compared methods, from published.csv);
- the reproduced difference: the paper's method minus the best reproduced compared method of
  the suite (the catalogue's `compared` methods: SiMVC, CoMVC, MFLVC, …), on mean over seeds;
- a verdict on the reproduced difference d with spread s = √(std_ours² + std_best²) (the
  std of a difference of two independent runs): `holds` when d − s > 0, `does not hold` when
  d + s < 0, `undecided` otherwise, and `undecided` with fewer than 2 seeds on either side.

Differences are signed so that positive favours the paper's method: for ECE (lower is better)
d = best compared ECE − ours. A collapsed run counts as it scored; the row says how many.
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from benchmark import atomic, catalogue
from benchmark.metrics import LOWER_IS_BETTER

# paper → (its method, the tables whose "Ours vs Best Compared" it claims)
CLAIMS = {"GIB": ("GIB", ("table1",)), "CLIB": ("CLIB", ("results",))}
COLUMNS = (
    "paper",
    "paper_table",
    "dataset",
    "metric",
    "ours",
    "ours_mean",
    "ours_std",
    "ours_n",
    "best_compared",
    "best_mean",
    "best_std",
    "best_n",
    "difference",
    "spread",
    "verdict",
    "published_best",
    "published_difference",
)
VERDICTS = ("holds", "does not hold", "undecided")


def _sign(metric: str) -> float:
    return -1.0 if metric in LOWER_IS_BETTER else 1.0


def verdict(difference: float, spread: float) -> str:
    """holds / does not hold / undecided for a difference of means and its spread."""
    if math.isnan(difference) or math.isnan(spread):
        return "undecided"
    if difference - spread > 0:
        return "holds"
    if difference + spread < 0:
        return "does not hold"
    return "undecided"


def _best(rows: pd.DataFrame, metric: str, column: str) -> pd.Series | None:
    rows = rows.dropna(subset=[column])
    if rows.empty:
        return None
    ordered = rows.sort_values(column, ascending=metric in LOWER_IS_BETTER, kind="stable")
    return ordered.iloc[0]


def published_best(
    published: pd.DataFrame, paper: str, table: str, dataset: str, metric: str, ours: str
) -> tuple[str, float] | None:
    """The best method other than `ours` the paper's table prints, and its value."""
    rows = published[
        (published["paper"] == paper)
        & (published["table"] == table)
        & (published["dataset"] == dataset)
        & (published["metric"] == metric)
        & (published["method"] != ours)
    ]
    best = _best(rows.rename(columns={"value": "v"}), metric, "v")
    return None if best is None else (str(best["method"]), float(best["v"]))


def _difference(metric: str, mine: pd.Series, best: pd.Series | None) -> tuple[float, float]:
    """Ours − best (signed so that positive favours ours) and its spread."""
    if best is None or pd.isna(mine["mean"]):
        return math.nan, math.nan
    diff = _sign(metric) * (float(mine["mean"]) - float(best["mean"]))
    stds = [float(mine["std"]), float(best["std"])]
    if not all(pd.notna(s) for s in stds):
        return diff, math.nan
    return diff, math.sqrt(sum(s * s for s in stds))


def _claim(
    key: tuple[str, str, str, str],
    ours: str,
    mine: pd.Series,
    best: pd.Series | None,
    published: tuple[str, float] | None,
) -> dict:
    """One claims cell: `key` = (paper, paper table, dataset, metric)."""
    paper, table, dataset, metric = key
    diff, spread = _difference(metric, mine, best)
    published_diff = math.nan
    if published and pd.notna(mine["published"]):
        published_diff = _sign(metric) * (float(mine["published"]) - published[1])
    return {
        "paper": paper,
        "paper_table": table,
        "dataset": dataset,
        "metric": metric,
        "ours": ours,
        "ours_mean": mine["mean"],
        "ours_std": mine["std"],
        "ours_n": mine["n"],
        "best_compared": None if best is None else best["method"],
        "best_mean": math.nan if best is None else best["mean"],
        "best_std": math.nan if best is None else best["std"],
        "best_n": math.nan if best is None else best["n"],
        "difference": diff,
        "spread": spread,
        "verdict": verdict(diff, spread),
        "published_best": published[0] if published else None,
        "published_difference": published_diff,
    }


def claim_rows(long: pd.DataFrame, published: pd.DataFrame) -> pd.DataFrame:
    """The claims cells of one rendered table (its long CSV) on the papers' datasets."""
    compared = set(catalogue.compared_methods())
    out = []
    if long.empty:
        return pd.DataFrame(columns=COLUMNS)
    for paper, (ours, tables) in CLAIMS.items():
        for table in tables:
            part = long[(long["paper"] == paper) & (long["paper_table"] == table)]
            for (dataset, metric), cell in part.groupby(["dataset", "metric"], sort=False):
                mine = cell[cell["method"] == ours]
                if mine.empty:
                    continue
                best = _best(cell[cell["method"].isin(compared)], metric, "mean")
                pub = published_best(published, paper, table, dataset, metric, ours)
                out.append(_claim((paper, table, dataset, metric), ours, mine.iloc[0], best, pub))
    return pd.DataFrame(out, columns=COLUMNS)


def extended_claim_rows(long: pd.DataFrame) -> pd.DataFrame:
    """The same cells on datasets the papers do not have (reproduced only): GIB's and
    CLIB's, from the rows without a paper."""
    compared = set(catalogue.compared_methods())
    part = long[long["paper"].fillna("") == ""] if not long.empty else long
    out = []
    for paper, (ours, _tables) in CLAIMS.items():
        for (dataset, metric), cell in part.groupby(["dataset", "metric"], sort=False):
            mine = cell[cell["method"] == ours]
            best = _best(cell[cell["method"].isin(compared)], metric, "mean")
            if mine.empty or best is None or pd.isna(mine.iloc[0]["mean"]):
                continue
            out.append(_claim((paper, "", dataset, metric), ours, mine.iloc[0], best, None))
    return pd.DataFrame(out, columns=COLUMNS)


def claims(tables: list[pd.DataFrame], published: pd.DataFrame) -> pd.DataFrame:
    """Every claims cell of the rendered tables (their long CSVs), each once."""
    parts = [claim_rows(t, published) for t in tables] + [extended_claim_rows(t) for t in tables]
    parts = [p for p in parts if not p.empty]
    if not parts:
        return pd.DataFrame(columns=COLUMNS)
    keys = ["paper", "paper_table", "dataset", "metric"]
    return pd.concat(parts, ignore_index=True).drop_duplicates(subset=keys, keep="first")


def write_claims(table: pd.DataFrame, out: Path) -> None:
    """results/claims.csv, atomically."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic.atomic_path(out) as tmp:
        table.to_csv(tmp, index=False)


def _fmt(value: float, signed: bool = False) -> str:
    if value is None or pd.isna(value):
        return "–"
    return f"{value:+.1f}" if signed else f"{value:.1f}"


def claims_lines(table: pd.DataFrame, paper: str, paper_table: str, metrics: tuple[str, ...]):
    """Markdown lines of the "Ours vs Best Compared" rows of one paper table: per dataset the
    published difference, the reproduced one ± spread and the verdict, per metric."""
    part = table[(table["paper"] == paper) & (table["paper_table"] == paper_table)]
    if part.empty:
        return []
    ours = part["ours"].iloc[0]
    header = ["Dataset", "Row"] + [m for m in metrics]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    for dataset, cells in part.groupby("dataset", sort=False):
        by = {r["metric"]: r for _, r in cells.iterrows()}
        published = [f"{ours} vs best compared, published"] + [
            _published_cell(by.get(m)) for m in metrics
        ]
        reproduced = [f"{ours} vs best compared, reproduced"] + [
            _reproduced_cell(by.get(m)) for m in metrics
        ]
        if any(cell != "–" for cell in published[1:]):  # a dataset of the paper's table
            lines.append("| " + " | ".join([dataset, *published]) + " |")
        lines.append("| " + " | ".join([dataset, *reproduced]) + " |")
    return lines


def _published_cell(row: pd.Series | None) -> str:
    if row is None or pd.isna(row["published_difference"]):
        return "–"
    return f"{_fmt(row['published_difference'], True)} (vs {row['published_best']})"


def _reproduced_cell(row: pd.Series | None) -> str:
    if row is None or pd.isna(row["difference"]):
        return "–"
    spread = "" if pd.isna(row["spread"]) else f" ± {row['spread']:.1f}"
    return f"{_fmt(row['difference'], True)}{spread} (vs {row['best_compared']}): {row['verdict']}"
