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

Each cell is computed under two protocols (`protocol` column): `final`, the honest means, and
`paper`, each method's value under its own paper's selection protocol (the table CSV's
`protocol_mean`: GIB's best-ACC epoch and run, SiMVC/CoMVC's lowest evaluation loss, MFLVC's
fixed seed). A paper's protocol picks one run, which has no spread of its own: its verdict
takes the spread of the honest seeds (the run-to-run noise any one chosen run carries), and a
side with fewer than 2 honest seeds leaves it undecided.

Differences are signed so that positive favours the paper's method: for ECE (lower is better)
d = best compared ECE − ours. A collapsed run (at most k/2 clusters used, or NMI < 5) counts as
it scored and the row says how many on each side (`ours_collapsed`, `best_collapsed`); but a
side all of whose runs collapsed is never read as a score: such a compared method cannot be the
best compared (uniform assignments score an ECE near 0), and a claim whose own method collapsed
in every run is `undecided`.
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
    "protocol",
    "ours",
    "ours_mean",
    "ours_std",
    "ours_n",
    "ours_collapsed",
    "best_compared",
    "best_mean",
    "best_std",
    "best_n",
    "best_collapsed",
    "difference",
    "spread",
    "verdict",
    "published_best",
    "published_difference",
    "honest_stand_ins",
)
VERDICTS = ("holds", "does not hold", "undecided")
# protocol → the table CSV's (value, n) columns it reads; the spread is the honest std's
PROTOCOL_VALUES = {"final": ("mean", "n"), "paper": ("protocol_mean", "protocol_n")}
STAND_IN = "_stand_in"  # a row whose paper's-protocol value is its honest mean (no history)
PROTOCOL_WORDS = {"final": "honest", "paper": "paper's protocol"}


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


def all_collapsed(row: pd.Series) -> bool:
    """Every run of a table row's cell collapsed (its scores are those of a degenerate
    clustering)."""
    n, collapsed = row.get("n"), row.get("n_collapsed")
    return bool(pd.notna(n) and pd.notna(collapsed) and n > 0 and collapsed >= n)


def _best(rows: pd.DataFrame, metric: str, column: str) -> pd.Series | None:
    rows = rows.dropna(subset=[column])
    if "n_collapsed" in rows:
        rows = rows[~rows.apply(all_collapsed, axis=1)]
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


def _difference(
    metric: str, mine: pd.Series, best: pd.Series | None, column: str
) -> tuple[float, float]:
    """Ours − best on `column` (signed so that positive favours ours) and its spread (from the
    honest std of each side)."""
    if best is None or pd.isna(mine[column]) or pd.isna(best[column]):
        return math.nan, math.nan
    diff = _sign(metric) * (float(mine[column]) - float(best[column]))
    stds = [float(mine["std"]), float(best["std"])]
    if not all(pd.notna(s) for s in stds):
        return diff, math.nan
    return diff, math.sqrt(sum(s * s for s in stds))


def _claim(
    key: tuple[str, str, str, str, str],
    ours: str,
    mine: pd.Series,
    best: pd.Series | None,
    published: tuple[str, float] | None,
) -> dict:
    """One claims cell: `key` = (paper, paper table, dataset, metric, protocol)."""
    paper, table, dataset, metric, protocol = key
    value, n = PROTOCOL_VALUES[protocol]
    diff, spread = _difference(metric, mine, best, value)
    published_diff = math.nan
    if published and pd.notna(mine["published"]):
        published_diff = _sign(metric) * (float(mine["published"]) - published[1])
    return {
        "paper": paper,
        "paper_table": table,
        "dataset": dataset,
        "metric": metric,
        "protocol": protocol,
        "ours": ours,
        "ours_mean": mine[value],
        "ours_std": mine["std"],
        "ours_n": mine[n],
        "ours_collapsed": mine.get("n_collapsed", math.nan),
        "best_compared": None if best is None else best["method"],
        "best_mean": math.nan if best is None else best[value],
        "best_std": math.nan if best is None else best["std"],
        "best_n": math.nan if best is None else best[n],
        "best_collapsed": math.nan if best is None else best.get("n_collapsed", math.nan),
        "difference": diff,
        "spread": spread,
        "verdict": "undecided" if all_collapsed(mine) else verdict(diff, spread),
        "published_best": published[0] if published else None,
        "published_difference": published_diff,
        "honest_stand_ins": " ".join(
            str(r["method"]) for r in (mine, best) if r is not None and r.get(STAND_IN, False)
        ),
    }


def _protocols(long: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """The protocols a table CSV has values of (`paper` only where some cell has one), each
    with the rows it compares: under `paper`, a deep row whose protocol has no value (its
    histories lack what the protocol reads) stands in with its honest mean and n, flagged
    (`honest_stand_ins` of the claim), never dropped from the comparison."""
    out = {"final": long}
    value, n = PROTOCOL_VALUES["paper"]
    if value in long and long[value].notna().any():
        missing = long[value].isna() & long["mean"].notna()
        paper = long.copy()
        paper.loc[missing, value] = long.loc[missing, "mean"]
        paper.loc[missing, n] = long.loc[missing, "n"]
        out["paper"] = paper.assign(**{STAND_IN: missing})
    return out


def claim_rows(long: pd.DataFrame, published: pd.DataFrame) -> pd.DataFrame:
    """The claims cells of one rendered table (its long CSV) on the papers' datasets, per
    protocol."""
    if long.empty:
        return pd.DataFrame(columns=COLUMNS)
    variants = _protocols(long)
    out = []
    for paper, (ours, tables) in CLAIMS.items():
        for table in tables:
            part = long[(long["paper"] == paper) & (long["paper_table"] == table)]
            for (dataset, metric), cell in part.groupby(["dataset", "metric"], sort=False):
                if not (cell["method"] == ours).any():
                    continue
                pub = published_best(published, paper, table, dataset, metric, ours)
                for protocol, rows in variants.items():
                    key = (paper, table, dataset, metric, protocol)
                    out.append(_cell_claim(key, ours, rows.loc[cell.index], pub))
    return pd.DataFrame(out, columns=COLUMNS)


def _cell_claim(
    key: tuple[str, str, str, str, str],
    ours: str,
    cell: pd.DataFrame,
    published: tuple[str, float] | None,
) -> dict:
    """The claim of one table cell's rows (ours and the compared methods) under a protocol."""
    metric, protocol = key[3], key[4]
    compared = cell[cell["method"].isin(catalogue.compared_methods())]
    best = _best(compared, metric, PROTOCOL_VALUES[protocol][0])
    return _claim(key, ours, cell[cell["method"] == ours].iloc[0], best, published)


def extended_claim_rows(long: pd.DataFrame) -> pd.DataFrame:
    """The same cells on datasets the papers do not have (reproduced only): GIB's and
    CLIB's, from the rows without a paper, per protocol."""
    if long.empty:
        return pd.DataFrame(columns=COLUMNS)
    variants = _protocols(long)
    compared = set(catalogue.compared_methods())
    part = long[long["paper"].fillna("") == ""]
    out = []
    for paper, (ours, _tables) in CLAIMS.items():
        for (dataset, metric), cell in part.groupby(["dataset", "metric"], sort=False):
            mine = cell[cell["method"] == ours]
            honest_best = _best(cell[cell["method"].isin(compared)], metric, "mean")
            if mine.empty or pd.isna(mine.iloc[0]["mean"]) or honest_best is None:
                continue  # no compared method has a value here: nothing to claim against
            for protocol, rows in variants.items():
                key = (paper, "", dataset, metric, protocol)
                out.append(_cell_claim(key, ours, rows.loc[cell.index], None))
    return pd.DataFrame(out, columns=COLUMNS)


def claims(tables: list[pd.DataFrame], published: pd.DataFrame) -> pd.DataFrame:
    """Every claims cell of the rendered tables (their long CSVs), each once per protocol."""
    parts = [claim_rows(t, published) for t in tables] + [extended_claim_rows(t) for t in tables]
    parts = [p for p in parts if not p.empty]
    if not parts:
        return pd.DataFrame(columns=COLUMNS)
    keys = ["paper", "paper_table", "dataset", "metric", "protocol"]
    return pd.concat(parts, ignore_index=True).drop_duplicates(subset=keys, keep="first")


def write_claims(table: pd.DataFrame, out: Path) -> None:
    """results/claims.csv, and beside it claims.html (the same cells as a page the Snakemake
    report shows inline), both atomically."""
    from benchmark.html_page import write_markdown_page

    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic.atomic_path(out) as tmp:
        table.to_csv(tmp, index=False)
    write_markdown_page(out.with_suffix(".html"), claims_markdown(table), "Ours vs Best Compared")


def claims_markdown(table: pd.DataFrame) -> str:
    """Every claims cell as one Markdown table: the two sides' values with n and collapsed
    runs, the difference ± spread and its verdict, and the published difference."""
    lines = [
        "# Ours vs Best Compared",
        "",
        "| Paper | Table | Dataset | Metric | Protocol | Ours | Best compared | Difference "
        "| Verdict | Published |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for _, row in table.iterrows():
        ours = _side(
            row["ours"], row["ours_mean"], row["ours_std"], row["ours_n"], row["ours_collapsed"]
        )
        best = (
            _side(
                row["best_compared"],
                row["best_mean"],
                row["best_std"],
                row["best_n"],
                row["best_collapsed"],
            )
            if isinstance(row["best_compared"], str)
            else "–"
        )
        difference = _fmt(row["difference"], True) + (
            "" if pd.isna(row["spread"]) else f" ± {row['spread']:.1f}"
        )
        published = _published_cell(row)
        cells = [row["paper"], row["paper_table"] or "–", row["dataset"], row["metric"]]
        cells += [PROTOCOL_WORDS.get(row["protocol"], row["protocol"]), ours, best, difference]
        cells += [row["verdict"], published]
        lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    if table.empty:
        lines.append("| – | – | – | – | – | – | – | – | no cells | – |")
    return "\n".join(lines) + "\n"


def _side(method: str, mean: float, std: float, n: float, collapsed: float) -> str:
    """`GIB 91.2 ± 1.3 (n 5, 1 collapsed)`."""
    spread = "" if pd.isna(std) else f" ± {std:.1f}"
    count = "?" if pd.isna(n) else f"{int(n)}"
    fallen = f", {int(collapsed)} collapsed" if pd.notna(collapsed) and collapsed else ""
    return f"{method} {_fmt(mean)}{spread} (n {count}{fallen})"


def _fmt(value: float, signed: bool = False) -> str:
    if value is None or pd.isna(value):
        return "–"
    return f"{value:+.1f}" if signed else f"{value:.1f}"


def claims_lines(table: pd.DataFrame, paper: str, paper_table: str, metrics: tuple[str, ...]):
    """Markdown lines of the "Ours vs Best Compared" rows of one paper table: per dataset the
    published difference, then per protocol the reproduced one ± spread and the verdict, per
    metric."""
    part = table[(table["paper"] == paper) & (table["paper_table"] == paper_table)]
    if part.empty:
        return []
    ours = part["ours"].iloc[0]
    header = ["Dataset", "Row"] + [m for m in metrics]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    for dataset, cells in part.groupby("dataset", sort=False):
        first = cells[cells["protocol"] == cells["protocol"].iloc[0]]
        by = {r["metric"]: r for _, r in first.iterrows()}
        published = [f"{ours} vs best compared, published"] + [
            _published_cell(by.get(m)) for m in metrics
        ]
        if any(cell != "–" for cell in published[1:]):  # a dataset of the paper's table
            lines.append("| " + " | ".join([dataset, *published]) + " |")
        for protocol, rows in cells.groupby("protocol", sort=False):
            by = {r["metric"]: r for _, r in rows.iterrows()}
            reproduced = [f"{ours} vs best compared, {PROTOCOL_WORDS[protocol]}"] + [
                _reproduced_cell(by.get(m)) for m in metrics
            ]
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
    against = f"vs {row['best_compared']}"
    if isinstance(row.get("honest_stand_ins"), str) and row["honest_stand_ins"]:
        against += f"; honest value of {row['honest_stand_ins']}"
    return f"{_fmt(row['difference'], True)}{spread} ({against}): {row['verdict']}"
