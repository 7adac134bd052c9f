"""The papers' headline claims, reproduced: "Ours vs Best Compared".

GIB's Table 1 ends with the printed row "Ours vs Best Compared" (its ACC and NMI cells are its
claims) and CLIB's results table claims the best ACC, NMI and ECE (a cell is claimed where the
published CLIB is the best of its column). Per paper table, dataset and metric this module
computes, from a rendered table's long CSV (`mmcbench.report.tables.comparison`), one row per
protocol (`final`: the honest last-epoch values; `paper`: each method's own paper's selection):

- like for like: the best compared is the best of the methods the suite runs that compete
  (`catalogue.competing_methods()`: the baselines KM, Ncuts, AmKM, AmNcuts and the deep
  methods of role `compared`, a user's method folder included when it declares that role);
- the reproduced margin d (ours − best, signed so that positive favours the paper's method:
  for ECE, NLL and Brier, lower is better, d = best − ours) and a one-sided Welch t-test of
  it at `level` (default 0.05): `holds` when p(ours better) < level, `does not hold` when the
  opposite one-sided test is significant at the same level, `undecided` otherwise, with the
  t statistic, Welch–Satterthwaite df, p and the 95 % interval of d; a side with fewer than 2
  values is `undecided (n = 1)`. Under `paper` a selected run stands for a method: the test
  then takes each side's spread and n from its honest seeds (the `test` column says so);
- the published margins: over the best of the same competing methods in the paper's table
  (`published_like_for_like`, `published_margin`: the number the reproduced margin is compared
  with), over the paper's best overall (`published_best`, `published_margin_overall`), and
  GIB's printed row (`printed_margin`, with `printed_disagrees` where it is not the margin its
  own table gives);
- the runs on each side: done (n), all (`_runs`), failed (diverged or error, never in n),
  collapsed at the reported epoch (`mmcbench.runs.health`). A side all of whose runs collapsed is
  never the best compared, and a claim whose own method collapsed in every run is undecided. A
  calibration metric (ECE, NLL, Brier) compares the runs that did not collapse only (uniform
  soft assignments score an ECE near 0) and says how many it left out (`_left_out`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import pandas as pd

from mmcbench.core import atomic
from mmcbench.core.settings import COMPRESSION_WORDS, reading_words
from mmcbench.planning import catalogue
from mmcbench.report.table_format import metric_text
from mmcbench.runs.metrics import LOWER_IS_BETTER

# paper → (its method, the tables whose "Ours vs Best Compared" it claims)
CLAIMS = {"GIB": ("GIB", ("table1",)), "CLIB": ("CLIB", ("results",))}
# paper → the metrics it claims (GIB: its printed row's; CLIB: where it is the column's best)
CLAIMED_METRICS = {"GIB": ("ACC", "NMI"), "CLIB": ("ACC", "NMI", "ECE")}
CALIBRATION = frozenset({"ECE", "NLL", "Brier"})
LEVEL = 0.05  # the tests' default level (config `claims.level`)
AGREE = 0.05  # a printed margin agrees with its table within rounding
COLUMNS = (
    "paper",
    "paper_table",
    "dataset",
    "metric",
    "protocol",
    "reading",
    "claimed",
    "ours",
    "ours_mean",
    "ours_std",
    "ours_n",
    "ours_runs",
    "ours_failed",
    "ours_collapsed",
    "ours_left_out",
    "best_compared",
    "best_mean",
    "best_std",
    "best_n",
    "best_runs",
    "best_failed",
    "best_collapsed",
    "best_left_out",
    "difference",
    "ci_low",
    "ci_high",
    "lower_bound",
    "t",
    "df",
    "p_value",
    "level",
    "test",
    "verdict",
    "published_ours",
    "published_like_for_like",
    "published_margin",
    "published_best",
    "published_margin_overall",
    "printed_margin",
    "printed_disagrees",
    "honest_stand_ins",
)
VERDICTS = ("holds", "does not hold", "undecided")
# protocol → the table CSV's (value, n) columns it reads; the spread is the honest std's
PROTOCOL_VALUES = {"final": ("mean", "n"), "paper": ("protocol_mean", "protocol_n")}
STAND_IN = "_stand_in"  # a row whose paper's-protocol value is its honest mean (no history)
PROTOCOL_WORDS = {"final": "honest", "paper": "paper's protocol"}
TESTS = {
    "final": "one-sided Welch t-test on the per-seed values at the last epoch",
    "paper": "one-sided Welch t-test on each side's paper's-protocol value, with the spread "
    "and n of its honest seeds (a selected run has no spread of its own)",
}


def _sign(metric: str) -> float:
    return -1.0 if metric in LOWER_IS_BETTER else 1.0


@dataclass(frozen=True)
class Test:
    """A one-sided Welch test of a margin d (positive favours ours)."""

    verdict: str
    t: float = math.nan
    df: float = math.nan
    p_value: float = math.nan
    ci_low: float = math.nan
    ci_high: float = math.nan
    lower_bound: float = math.nan  # the one-sided (1 − level) bound the verdict is dual to


def welch(
    difference: float, std1: float, n1: float, std2: float, n2: float, level: float = LEVEL
) -> Test:
    """The verdict on a difference of means d = mean₁ − mean₂ (positive favours side 1):
    Welch's t = d / √(s₁²/n₁ + s₂²/n₂) with Welch–Satterthwaite df; `holds` when the one-sided
    p = P(T ≥ t) < level, `does not hold` when P(T ≤ t) < level, `undecided` otherwise; the
    two-sided 95 % interval of d beside, and the one-sided (1 − level) lower bound the verdict
    is dual to (holds exactly when it is above 0). Fewer than 2 values on a side:
    `undecided (n = …)`."""
    from scipy import stats

    sizes = [n for n in (n1, n2) if pd.notna(n)]
    if len(sizes) < 2 or min(sizes) < 2:
        least = int(min(sizes)) if sizes else 0
        return Test(f"undecided (n = {least})")
    if any(pd.isna(v) for v in (difference, std1, std2)):
        return Test("undecided")
    v1, v2 = std1 * std1 / n1, std2 * std2 / n2
    se = math.sqrt(v1 + v2)
    if se == 0.0:  # both sides constant: the sign decides, with no doubt left
        if difference == 0:
            return Test("undecided", math.nan, math.nan, 0.5, 0.0, 0.0, 0.0)
        p = 0.0 if difference > 0 else 1.0
        return Test(
            "holds" if difference > 0 else "does not hold",
            math.copysign(math.inf, difference),
            math.nan,
            p,
            difference,
            difference,
            difference,
        )
    df = (v1 + v2) ** 2 / (v1 * v1 / (n1 - 1) + v2 * v2 / (n2 - 1))
    t = difference / se
    p = float(stats.t.sf(t, df))
    half = float(stats.t.ppf(0.975, df)) * se
    if p < level:
        word = "holds"
    elif float(stats.t.cdf(t, df)) < level:
        word = "does not hold"
    else:
        word = "undecided"
    bound = difference - float(stats.t.ppf(1 - level, df)) * se
    return Test(word, t, df, p, difference - half, difference + half, bound)


def all_collapsed(row: pd.Series) -> bool:
    """Every run of a table row's cell collapsed (its scores are those of a degenerate
    clustering)."""
    n, collapsed = row.get("n"), row.get("n_collapsed")
    return bool(pd.notna(n) and pd.notna(collapsed) and n > 0 and collapsed >= n)


@dataclass(frozen=True)
class Side:
    """One side of a claim under a protocol: the value compared, its spread and n, and the
    runs behind it."""

    method: str
    mean: float
    std: float
    n: float
    runs: float
    failed: float
    collapsed: float
    left_out: float  # collapsed runs a calibration metric leaves out
    stand_in: bool  # a paper's-protocol value replaced by the honest mean
    all_collapsed: bool = False  # every run of the side collapsed


def _number(row: pd.Series, column: str) -> float:
    value = row.get(column, math.nan)
    return math.nan if value is None or pd.isna(value) else float(value)


def side(row: pd.Series, metric: str, protocol: str) -> Side:
    """What a table row brings to a claim (`mmcbench.report.claims` docstring)."""
    value_column = PROTOCOL_VALUES[protocol][0]
    mean, std, n = _number(row, value_column), _number(row, "std"), _number(row, "n")
    collapsed = _number(row, "n_collapsed" if protocol == "final" else "protocol_n_collapsed")
    if protocol == "paper" and math.isnan(collapsed):
        collapsed = _number(row, "n_collapsed")  # a stand-in: its honest runs
    left_out = math.nan
    if metric in CALIBRATION:
        healthy_n = _number(row, "n_healthy")
        if protocol == "final" and not math.isnan(healthy_n):
            mean, std = _number(row, "mean_healthy"), _number(row, "std_healthy")
            left_out, n = n - healthy_n, healthy_n
        elif protocol == "paper":
            chosen_collapsed = _number(row, "protocol_n_collapsed")
            if not math.isnan(chosen_collapsed) and chosen_collapsed > 0:
                mean = _number(row, "protocol_mean_healthy")
                left_out = chosen_collapsed
            if not math.isnan(healthy_n):  # the spread of its non-collapsed honest seeds
                std, n = _number(row, "std_healthy"), healthy_n
    return Side(
        method=str(row["method"]),
        mean=mean,
        std=std,
        n=n,
        runs=_number(row, "n_runs"),
        failed=_number(row, "n_failed"),
        collapsed=collapsed,
        left_out=left_out,
        stand_in=bool(row.get(STAND_IN, False)),
        all_collapsed=all_collapsed(row)
        if protocol == "final"
        else bool(collapsed > 0 and collapsed >= _number(row, PROTOCOL_VALUES[protocol][1])),
    )


def _best(sides: list[Side], metric: str) -> Side | None:
    """The best side by its value (ties: the first), never one all of whose runs collapsed."""
    usable = [s for s in sides if not math.isnan(s.mean) and not s.all_collapsed]
    if not usable:
        return None
    return max(usable, key=lambda s: _sign(metric) * s.mean)


@dataclass(frozen=True)
class Published:
    """The published side of one claims cell (paper cells only)."""

    ours: float = math.nan
    like_for_like: str | None = None
    margin: float = math.nan
    best: str | None = None
    margin_overall: float = math.nan
    printed: float = math.nan

    @property
    def printed_disagrees(self) -> bool | None:
        if math.isnan(self.printed) or math.isnan(self.margin_overall):
            return None
        return bool(abs(self.printed - self.margin_overall) > AGREE)


def load_printed(path: str | Path | None = None) -> pd.DataFrame:
    """GIB's printed "Ours vs Best Compared" row (paper, table, dataset, metric, value)."""
    from mmcbench.core.csv_input import PRINTED, read_csv

    columns = PRINTED
    names = ("paper", "table", "dataset", "metric", "value")
    what = "printed-margins CSV"
    if path is None:
        data = resources.files("mmcbench").joinpath("data/published_printed.csv")
        with resources.as_file(data) as p:
            return read_csv(p, what, names, columns=columns)
    return read_csv(path, what, names, columns=columns)


def _published_best(rows: pd.DataFrame, metric: str) -> tuple[str, float] | None:
    rows = rows.dropna(subset=["value"])
    if rows.empty:
        return None
    ordered = rows.assign(_key=-_sign(metric) * rows["value"]).sort_values("_key", kind="stable")
    return str(ordered.iloc[0]["method"]), float(ordered.iloc[0]["value"])


def published_side(
    published: pd.DataFrame,
    printed: pd.DataFrame,
    key: tuple[str, str, str, str],
    ours: str,
) -> Published:
    """The published margins of one cell: `key` = (paper, table, dataset, metric)."""
    paper, table, dataset, metric = key
    cell = published[
        (published["paper"] == paper)
        & (published["table"] == table)
        & (published["dataset"] == dataset)
        & (published["metric"] == metric)
    ]
    mine = cell.loc[cell["method"] == ours, "value"].dropna()
    if mine.empty:
        return Published()
    value = float(mine.iloc[0])
    others = cell[cell["method"] != ours]
    overall = _published_best(others, metric)
    runs = _published_best(others[others["method"].isin(catalogue.competing_methods())], metric)
    hit = printed[
        (printed["paper"] == paper)
        & (printed["table"] == table)
        & (printed["dataset"] == dataset)
        & (printed["metric"] == metric)
    ]["value"]
    return Published(
        ours=value,
        like_for_like=runs[0] if runs else None,
        margin=_sign(metric) * (value - runs[1]) if runs else math.nan,
        best=overall[0] if overall else None,
        margin_overall=_sign(metric) * (value - overall[1]) if overall else math.nan,
        printed=float(hit.iloc[0]) if len(hit) else math.nan,
    )


def is_claimed(paper: str, metric: str, published: Published) -> bool:
    """The paper claims the cell: GIB every cell of its printed row; CLIB its ACC, NMI and ECE
    cells where its published value is the best of the column."""
    if metric not in CLAIMED_METRICS[paper] or math.isnan(published.ours):
        return False
    if not math.isnan(published.printed):
        return True
    return not math.isnan(published.margin_overall) and published.margin_overall > 0


def _claim(
    key: tuple[str, str, str, str, str, str],
    mine: Side,
    best: Side | None,
    published: Published,
    level: float,
) -> dict:
    """One claims row: `key` = (paper, paper table, dataset, metric, protocol, reading)."""
    paper, table, dataset, metric, protocol, reading = key
    difference = math.nan
    if best is not None and not math.isnan(mine.mean):
        difference = _sign(metric) * (mine.mean - best.mean)
    if mine.all_collapsed:
        test = Test("undecided (ours collapsed in every run)")
    elif best is None:
        test = Test("undecided (no compared method has a value)")
    else:
        test = welch(difference, mine.std, mine.n, best.std, best.n, level)
    words = TESTS[protocol] + ("; collapsed runs left out" if metric in CALIBRATION else "")
    none = Side("", math.nan, math.nan, math.nan, math.nan, math.nan, math.nan, math.nan, False)
    other = best or none
    return {
        "paper": paper,
        "paper_table": table,
        "dataset": dataset,
        "metric": metric,
        "protocol": protocol,
        "reading": reading,
        "claimed": bool(table) and is_claimed(paper, metric, published),
        **{f"ours_{k}": v for k, v in _side_columns(mine).items()},
        "ours": mine.method,
        "best_compared": best.method if best else None,
        **{f"best_{k}": v for k, v in _side_columns(other).items()},
        "difference": difference,
        "ci_low": test.ci_low,
        "ci_high": test.ci_high,
        "lower_bound": test.lower_bound,
        "t": test.t,
        "df": test.df,
        "p_value": test.p_value,
        "level": level,
        "test": words,
        "verdict": test.verdict,
        "published_ours": published.ours,
        "published_like_for_like": published.like_for_like,
        "published_margin": published.margin,
        "published_best": published.best,
        "published_margin_overall": published.margin_overall,
        "printed_margin": published.printed,
        "printed_disagrees": published.printed_disagrees,
        "honest_stand_ins": " ".join(
            s.method for s in (mine, best) if s is not None and s.stand_in
        ),
    }


def _side_columns(s: Side) -> dict:
    return {
        "mean": s.mean,
        "std": s.std,
        "n": s.n,
        "runs": s.runs,
        "failed": s.failed,
        "collapsed": s.collapsed,
        "left_out": s.left_out,
    }


def _protocols(long: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """The protocols a table CSV has values of (`paper` only where some cell has one), each
    with the rows it compares: under `paper`, a row whose protocol has no value (a baseline,
    which selects nothing; a deep row whose histories lack what the protocol reads) stands in
    with its honest mean and n, flagged (`honest_stand_ins` of the claim), never dropped."""
    out = {"final": long}
    value, n = PROTOCOL_VALUES["paper"]
    if value in long and long[value].notna().any():
        missing = long[value].isna() & long["mean"].notna()
        paper = long.copy()
        paper.loc[missing, value] = long.loc[missing, "mean"]
        paper.loc[missing, n] = long.loc[missing, "n"]
        out["paper"] = paper.assign(**{STAND_IN: missing})
    return out


def readings(rows: pd.DataFrame) -> pd.Series:
    """Each table row's reading of the compression term ("" = the configured one)."""
    if "reading" not in rows:
        return pd.Series("", index=rows.index)
    return rows["reading"].fillna("").astype(str)


def _cell_rows(
    key: tuple[str, str, str, str],
    ours: str,
    cell: dict[str, pd.DataFrame],
    published: Published,
    level: float,
) -> list[dict]:
    """A cell's claims rows, one per protocol and reading of ours' compression term (`cell`:
    its rows under each protocol); the competitors are the same for every reading."""
    competing = set(catalogue.competing_methods())
    metric = key[3]
    out = []
    for protocol, rows in cell.items():
        reading = readings(rows)
        others = [
            side(r, metric, protocol)
            for i, r in rows.iterrows()
            if r["method"] in competing and reading[i] == ""
        ]
        best = _best(others, metric)
        mine_rows = rows[rows["method"] == ours]
        for r in dict.fromkeys(reading[mine_rows.index]):
            mine = side(mine_rows[reading[mine_rows.index] == r].iloc[0], metric, protocol)
            out.append(_claim((*key, protocol, r), mine, best, published, level))
    return out


def claim_rows(
    long: pd.DataFrame,
    published: pd.DataFrame,
    printed: pd.DataFrame | None = None,
    level: float = LEVEL,
) -> pd.DataFrame:
    """The claims rows of one rendered table (its long CSV) on the papers' datasets."""
    if long.empty:
        return pd.DataFrame(columns=COLUMNS)
    printed = load_printed() if printed is None else printed
    variants = _protocols(long)
    out = []
    for paper, (ours, tables) in CLAIMS.items():
        for table in tables:
            part = long[(long["paper"] == paper) & (long["paper_table"] == table)]
            for (dataset, metric), cell in part.groupby(["dataset", "metric"], sort=False):
                if not (cell["method"] == ours).any():
                    continue
                key = (paper, table, dataset, metric)
                pub = published_side(published, printed, key, ours)
                rows = {p: v.loc[cell.index] for p, v in variants.items()}
                out += _cell_rows(key, ours, rows, pub, level)
    return pd.DataFrame(out, columns=COLUMNS)


def extended_claim_rows(long: pd.DataFrame, level: float = LEVEL) -> pd.DataFrame:
    """The same cells on datasets the papers do not have (reproduced only, never claimed)."""
    if long.empty:
        return pd.DataFrame(columns=COLUMNS)
    variants = _protocols(long)
    competing = set(catalogue.competing_methods())
    part = long[long["paper"].fillna("") == ""]
    out = []
    for paper, (ours, _tables) in CLAIMS.items():
        for (dataset, metric), cell in part.groupby(["dataset", "metric"], sort=False):
            mine = cell[(cell["method"] == ours) & (readings(cell) == "")]
            others = cell[cell["method"].isin(competing)]
            if mine.empty or pd.isna(mine.iloc[0]["mean"]) or others["mean"].isna().all():
                continue  # no compared method has a value here: nothing to claim against
            rows = {p: v.loc[cell.index] for p, v in variants.items()}
            out += _cell_rows((paper, "", dataset, metric), ours, rows, Published(), level)
    return pd.DataFrame(out, columns=COLUMNS)


def claims(
    tables: list[pd.DataFrame],
    published: pd.DataFrame,
    printed: pd.DataFrame | None = None,
    level: float = LEVEL,
) -> pd.DataFrame:
    """Every claims cell of the rendered tables (their long CSVs), each once per protocol."""
    printed = load_printed() if printed is None else printed
    parts = [claim_rows(t, published, printed, level) for t in tables]
    parts += [extended_claim_rows(t, level) for t in tables]
    parts = [p for p in parts if not p.empty]
    if not parts:
        return pd.DataFrame(columns=COLUMNS)
    keys = ["paper", "paper_table", "dataset", "metric", "protocol", "reading"]
    return pd.concat(parts, ignore_index=True).drop_duplicates(subset=keys, keep="first")


def verdict_counts(table: pd.DataFrame) -> pd.DataFrame:
    """Claimed cells per paper, reading and protocol, by verdict (every `undecided (…)` as
    undecided)."""
    claimed = table[table["claimed"] == True]  # noqa: E712 (read back from CSV: bool or str)
    if claimed.empty:
        return pd.DataFrame(columns=["paper", "reading", "protocol", *VERDICTS, "cells"])
    words = claimed["verdict"].str.replace(r" \(.*\)$", "", regex=True)
    counts = (
        claimed.assign(word=words, reading=readings(claimed))
        .groupby(["paper", "reading", "protocol", "word"], sort=False)
        .size()
        .unstack(fill_value=0)
        .reindex(columns=list(VERDICTS), fill_value=0)
    )
    counts["cells"] = counts.sum(axis=1)
    return counts.reset_index()


def write_claims(table: pd.DataFrame, out: Path) -> None:
    """results/claims.csv, and beside it claims.html (the same cells as a page the Snakemake
    report shows inline), both atomically."""
    from mmcbench.report.html_page import write_markdown_page

    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic.atomic_path(out) as tmp:
        table.to_csv(tmp, index=False)
    write_markdown_page(out.with_suffix(".html"), claims_markdown(table), "Ours vs Best Compared")


def claims_markdown(table: pd.DataFrame) -> str:
    """The claimed cells' verdict counts, then every claims row as one Markdown table: the two
    sides with n and their runs, the margin with its 95 % interval, p and the verdict, and the
    published margins."""
    lines = ["# Ours vs Best Compared", "", CLAIMS_LEGEND, "", "## Claimed cells", ""]
    counts = verdict_counts(table)
    if counts.empty:
        lines.append("No claimed cell in this run (the papers' datasets were not run).")
    else:
        lines += [
            "| Paper | Reading of I(X;H) | Protocol | " + " | ".join(VERDICTS) + " | cells |",
            "|---" * 8 + "|",
        ]
        for _, row in counts.iterrows():
            cells = [row["paper"], reading_words(row["reading"])]
            cells += [PROTOCOL_WORDS.get(row["protocol"], row["protocol"])]
            cells += [str(int(row[v])) for v in (*VERDICTS, "cells")]
            lines.append("| " + " | ".join(cells) + " |")
    lines += [
        "",
        "## Every cell",
        "",
        "| Paper | Table | Dataset | Metric | Claimed | Protocol | Reading of I(X;H) | Ours "
        "| Best compared | Margin [95 % CI] | p | Verdict | Published margin, like for like "
        "| Published, overall | Printed |",
        "|---" * 15 + "|",
    ]
    for _, row in table.iterrows():
        metric = row["metric"]
        ours = _side_text(row, "ours", row["ours"])
        best = (
            _side_text(row, "best", row["best_compared"])
            if isinstance(row["best_compared"], str)
            else "–"
        )
        cells = [row["paper"], _text(row["paper_table"]) or "–", row["dataset"], metric]
        cells += ["yes" if _true(row["claimed"]) else "no"]
        cells += [PROTOCOL_WORDS.get(row["protocol"], row["protocol"])]
        cells += [reading_words(_text(row.get("reading"))), ours, best]
        cells += [_margin_text(row), _p_text(row["p_value"]), row["verdict"]]
        cells += [
            _vs(row["published_margin"], row["published_like_for_like"], metric),
            _vs(row["published_margin_overall"], row["published_best"], metric),
            _printed_text(row),
        ]
        lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    if table.empty:
        lines.append("| – " * 11 + "| no cells | – | – | – |")
    return "\n".join(lines) + "\n"


CLAIMS_LEGEND = (
    "Margin = the paper's method minus the best compared, positive favours the paper's method "
    "(for ECE, NLL and Brier, lower is better, the sign is turned). Best compared = the best of "
    "the methods the suite runs that compete (the baselines KM, Ncuts, AmKM, AmNcuts and the "
    "compared deep methods: "
    + ", ".join(catalogue.compared_methods())
    + "), like for like with the published margin over the best of the same methods in the "
    "paper's table (the paper's best overall and GIB's printed row beside it; ≠ where the "
    "printed row is not the margin its own table gives). Verdict: a one-sided Welch t-test of "
    "the margin at the level in the row (config claims.level): holds = the paper's method "
    "better, does not hold = worse (the opposite one-sided test), undecided = neither, or "
    "fewer than 2 seeds on a side (n = …). [a, b] is the two-sided 95 % interval of the "
    "margin: a one-sided test at 0.05 can hold while it touches 0 (claims.csv's lower_bound is "
    "the one-sided bound the verdict is dual to). n = done runs (of all, failed = diverged "
    "or error, never in n); collapsed = runs whose clustering collapsed at the reported epoch; a "
    "calibration metric (ECE, NLL, Brier) compares the runs that did not collapse and says how "
    "many it left out. A row naming a reading of I(X;H) tests the paper's method under that "
    "reading of Theorem 2's compression term against the same best compared, with its own "
    "verdict (configured = the config's reading, the spec's default the analytic KL). "
    "Under the paper's protocol each side is its selected value with the "
    "spread and n of its honest seeds. Claimed = a cell the paper claims (GIB: Table 1's ACC "
    "and NMI; CLIB: ACC, NMI and ECE where its published value is the best of the column); "
    "the others are extra rows."
)


def _text(value: object) -> str:
    """A text cell as read back from a CSV (blank: NaN) or made here (blank: "")."""
    return value if isinstance(value, str) else ""


def _true(value: object) -> bool:
    return value is True or value == "True" or value == 1


def _side_text(row: pd.Series, prefix: str, method: str) -> str:
    """`GIB 91.2 ± 1.3 (n 5 of 6, 1 failed, 1 collapsed, 1 left out)`."""
    metric = row["metric"]
    std = row[f"{prefix}_std"]
    spread = "" if pd.isna(std) else f" ± {metric_text(std, metric=metric)}"
    n, runs = row[f"{prefix}_n"], row[f"{prefix}_runs"]
    count = "?" if pd.isna(n) else f"{int(n)}"
    if pd.notna(runs):
        count += f" of {int(runs)}"
    for column, word in (
        ("failed", "failed"),
        ("collapsed", "collapsed"),
        ("left_out", "left out"),
    ):
        value = row[f"{prefix}_{column}"]
        if pd.notna(value) and value:
            count += f", {int(value)} {word}"
    return f"{method} {metric_text(row[f'{prefix}_mean'], metric=metric)}{spread} (n {count})"


def _margin_text(row: pd.Series) -> str:
    metric = row["metric"]
    text = metric_text(row["difference"], True, metric)
    if pd.notna(row["ci_low"]):
        low, high = (metric_text(row[c], True, metric) for c in ("ci_low", "ci_high"))
        text += f" [{low}, {high}]"
    return text


def _p_text(p: float) -> str:
    if p is None or pd.isna(p):
        return "–"
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def _vs(margin: float, method: object, metric: str) -> str:
    if margin is None or pd.isna(margin):
        return "–"
    return f"{metric_text(margin, True, metric)} (vs {method})"


def _printed_text(row: pd.Series) -> str:
    if pd.isna(row["printed_margin"]):
        return "–"
    flag = " ≠ its table" if _true(row["printed_disagrees"]) else ""
    return f"{metric_text(row['printed_margin'], True)}{flag}"


def claims_lines(table: pd.DataFrame, paper: str, paper_table: str, metrics: tuple[str, ...]):
    """Markdown lines of the "Ours vs Best Compared" rows of one paper table: per dataset the
    published margins (like for like, overall, printed), then per protocol the reproduced one
    with its interval and verdict, per metric (a cell the paper does not claim is marked)."""
    part = table[(table["paper"] == paper) & (table["paper_table"] == paper_table)]
    if part.empty:
        return []
    ours = part["ours"].iloc[0]
    header = ["Dataset", "Row"] + [m for m in metrics]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    for dataset, cells in part.groupby("dataset", sort=False):
        first = cells[cells["protocol"] == cells["protocol"].iloc[0]]
        by = {r["metric"]: r for _, r in first.iterrows()}
        published = [
            (
                f"{ours} vs best compared, published (like for like)",
                lambda r: _vs(r["published_margin"], r["published_like_for_like"], r["metric"]),
            ),
            (
                f"{ours} vs best compared, published (overall)",
                lambda r: _vs(r["published_margin_overall"], r["published_best"], r["metric"]),
            ),
            (f"{ours} vs best compared, printed", _printed_text),
        ]
        for label, text in published:
            row = [label] + [text(by[m]) if m in by else "–" for m in metrics]
            if any(cell != "–" for cell in row[1:]):  # a dataset of the paper's table
                lines.append("| " + " | ".join([dataset, *row]) + " |")
        groups = cells.assign(_reading=readings(cells)).groupby(
            ["_reading", "protocol"], sort=False
        )
        for (reading, protocol), rows in groups:
            by = {r["metric"]: r for _, r in rows.iterrows()}
            who = f"{ours} ({COMPRESSION_WORDS[reading]})" if reading else ours
            reproduced = [f"{who} vs best compared, {PROTOCOL_WORDS[protocol]}"] + [
                _reproduced_cell(by.get(m)) for m in metrics
            ]
            lines.append("| " + " | ".join([dataset, *reproduced]) + " |")
    return lines


def _reproduced_cell(row: pd.Series | None) -> str:
    if row is None or pd.isna(row["difference"]):
        return "–" if row is None else row["verdict"]
    against = f"vs {row['best_compared']}, n {_count(row['ours_n'])}/{_count(row['best_n'])}"
    if isinstance(row.get("honest_stand_ins"), str) and row["honest_stand_ins"]:
        against += f"; honest value of {row['honest_stand_ins']}"
    unclaimed = "" if _true(row["claimed"]) or not _text(row["paper_table"]) else "; not claimed"
    return f"{_margin_text(row)} ({against}): {row['verdict']}{unclaimed}"


def _count(n: float) -> str:
    return "?" if n is None or pd.isna(n) else str(int(n))
