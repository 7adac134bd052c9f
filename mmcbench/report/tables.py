"""Paper-vs-reproduced tables (Markdown, LaTeX, CSV): what each table shows (`TABLES`), its long
comparison drawn from summary.csv (`comparison`), and its rendering (`write_table`), from a table's
rows of results/comparison.csv (`mmcbench.report.comparison`: what the workflow renders, at the
(α, β) of the runs) or from a summary.csv at a chosen (α, β) (`render`).

A cell shows the published value; the honest reproduced mean ± std (n) over seeds at the last epoch
(no label used to choose anything); the value under the method's own paper's selection protocol
(`mmcbench.summaries.protocols`: GIB's and CLIB's best-ACC epoch and run, SiMVC/CoMVC's lowest
evaluation loss, MFLVC's fixed seed) with the selection gain (that − honest) in brackets; and Δ =
paper's-protocol value − published with ✓ when |Δ| ≤ 2 points (protocol.md's verdict; the baselines,
which select nothing, take Δ from the honest mean). ACC also shows the label-free protocol (‡: per
run the epoch of lowest evaluation loss). A cell some of whose runs collapsed
(`mmcbench.runs.health`: from the cluster sizes, at the epoch the column reports) says how many, so
a collapse is never read as a low score. Only runs of the configured setting are shown
(resolution-study points have a table of their own). Datasets the papers do not have get reproduced
values only.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from mmcbench.core import atomic
from mmcbench.core.errors import MmcbenchError
from mmcbench.core.settings import COMPRESSION_READINGS, COMPRESSION_WORDS, READING_KEY, IBSettings
from mmcbench.planning import catalogue
from mmcbench.report.html_page import write_markdown_page
from mmcbench.report.table_format import Cell, latex_table, markdown_table, metric_text
from mmcbench.runs.metrics import LOWER_IS_BETTER

VERDICT_POINTS = 2.0
COLLAPSE_WORDS = "below max(1.5, k/4) at the epoch the column reports"
log = logging.getLogger("mmcbench")


@dataclass(frozen=True)
class PaperTable:
    paper: str
    table: str
    title: str


@dataclass(frozen=True)
class RowSpec:
    """One table row: the label the paper prints, and which runs it shows.

    variant None = the best single view by mean ACC (KM, Ncuts). `reading`: a reading of the
    compression term (`compression` key, `COMPRESSION_READINGS`) whose runs (study path part
    `compression=<reading>`) the row shows; "" = the configured setting. A reading row is
    compared with the paper's row of its `label` and shown only where it was run. `optional`:
    a compared method's alternative variant (`DeepMethod.table_variants`), shown under its
    variant's name where it was run and compared with the paper's row of its `label`.
    """

    label: str
    method: str
    variant: str | None
    reading: str = ""
    optional: bool = False

    @property
    def overrides(self) -> str:
        return f"{READING_KEY}={self.reading}" if self.reading else ""

    @property
    def shown_label(self) -> str:
        if self.optional:
            return f"{self.label} ({self.variant})"
        if not self.reading:
            return self.label
        return f"{self.label} ({COMPRESSION_WORDS[self.reading]})"


@dataclass(frozen=True)
class TableSpec:
    name: str
    heading: str
    sources: tuple[PaperTable, ...]
    rows: tuple[RowSpec, ...]
    metrics: tuple[str, ...] = ("ACC", "NMI")  # shown beside the paper's (ARI added after)


BASELINE_ROWS = (
    RowSpec("KM", "KM", None),
    RowSpec("Ncuts", "Ncuts", None),
    RowSpec("AmKM", "AmKM", "all"),
    RowSpec("AmNcuts", "AmNcuts", "all"),
)
# The compared deep methods (SiMVC, CoMVC, MFLVC, …: the catalogue's `compared` ones), their
# full model, in the papers' order, each followed by the alternative variants its folder names
# for the tables (COPER's CCA-float64), shown where they were run.
COMPARED_ROWS = tuple(
    row
    for m in catalogue.compared_methods()
    for row in (
        RowSpec(m, m, m),
        *(RowSpec(m, m, v, optional=True) for v in catalogue.get(m).table_variants),
    )
)


def reading_rows(method: str) -> tuple[RowSpec, ...]:
    """The full model of `method` under each reading of the compression term, as a study
    point (shown where the config ran it: `readings` of its section; the configured reading's
    own row is the method's plain row)."""
    return tuple(RowSpec(method, method, method, r) for r in COMPRESSION_READINGS)


TABLE1 = TableSpec(
    "table1",
    "Table 1: baselines and GIB, published vs reproduced",
    (
        PaperTable("GIB", "table1", "GIB paper, Table 1"),
        PaperTable("CLIB", "results", "CLIB paper, results table"),
    ),
    (*BASELINE_ROWS, *COMPARED_ROWS, RowSpec("GIB", "GIB", "GIB"), *reading_rows("GIB")),
)
TABLE2 = TableSpec(
    "table2",
    "Table 2: GIB ablations, published vs reproduced",
    (PaperTable("GIB", "table2", "GIB paper, Table 2 (ablations)"),),
    tuple(RowSpec(v, "GIB", v) for v in ("DDC", "DDC+Balls", "DDC+Samples", "GIB")),
)
CLIB_RESULTS = TableSpec(
    "clib_results",
    "CLIB results: baselines, GIB and CLIB with ECE, published vs reproduced",
    (PaperTable("CLIB", "results", "CLIB paper, results table"),),
    (
        *BASELINE_ROWS,
        *COMPARED_ROWS,
        RowSpec("GIB", "GIB", "GIB"),
        RowSpec("CLIB", "CLIB", "CLIB"),
        *reading_rows("CLIB"),
    ),
    ("ACC", "NMI", "ECE", "NLL", "Brier"),
)
CLIB_ABLATION = TableSpec(
    "clib_ablation",
    "CLIB ablations, published vs reproduced",
    (PaperTable("CLIB", "ablation", "CLIB paper, ablation table"),),
    tuple(
        RowSpec(v, "CLIB", v)
        for v in (
            "IB+cluH",
            "IB+cluH+re",
            "IB+cluH+caliH",
            "IB+cluH+con",
            "no-warmup",
            "calihead-backprop",
            "CLIB",
        )
    ),
    ("ACC", "NMI", "ECE", "NLL", "Brier"),
)
TABLES = {
    "table1": TABLE1,
    "table2": TABLE2,
    "clib_results": CLIB_RESULTS,
    "clib_ablation": CLIB_ABLATION,
}
Setting = dict[str, tuple[float, float]]  # deep method → (α, β) its table rows show


# Columns of summary.csv (mmcbench.summaries.aggregate) a table is drawn from; p_alpha, p_beta and
# overrides are read where present.
SUMMARY_COLUMNS = (
    "method",
    "variant",
    "dataset",
    "metric",
    "view_name",
    "n",
    "n_runs",
    "n_diverged",
    "n_error",
    "n_collapsed",
    "mean",
    "std",
    "label_selected",
    "label_selected_seed",
    "loss_selected",
    "loss_selected_seed",
)
PUBLISHED_COLUMNS = ("paper", "table", "dataset", "method", "metric", "value")


def read_summary(path: str | Path) -> pd.DataFrame:
    """summary.csv's honest rows, each with its paper's-protocol and label-free values beside
    (`honest_rows`), with one clear error naming the file if it is missing or malformed."""
    from mmcbench.core.csv_input import SUMMARY, read_csv

    what = "run summary (summary.csv of mmcbench aggregate)"
    return honest_rows(read_csv(path, what, SUMMARY_COLUMNS, columns=SUMMARY))


# summary.csv's other protocols (mmcbench.summaries.protocols) → their columns' prefix in a table
PROTOCOL_COLUMNS = {
    "paper": "paper_protocol_",
    "paper_bound": "paper_bound_",
    "label_free": "label_free_",
}
PROTOCOL_VALUES = (
    "rule",
    "mean",
    "std",
    "n",
    "seeds",
    "epochs",
    "protocol_note",
    "n_collapsed",
    "n_healthy",
    "mean_healthy",
    "std_healthy",
)


def honest_rows(summary: pd.DataFrame) -> pd.DataFrame:
    """The honest rows (protocol `final`) of a summary with one row per protocol; beside each,
    its cell's `paper` row as `paper_protocol_<rule, mean, std, n, seeds, epochs, note>` and its
    `label_free` row as `label_free_<…>` (blank where the cell has none: the baselines). A
    summary without protocols (before issue 23, or `summarise` alone) is returned as it is."""
    if "protocol" not in summary:
        return summary
    protocol = summary["protocol"].fillna("").replace("", "final")
    honest = summary[protocol == "final"].drop(columns="protocol")
    keys = [c for c in summary.columns if c in ("method", "variant", "dataset", "metric")]
    keys += [c for c in summary.columns if c.startswith("p_") or c == "overrides"]
    values = [c for c in PROTOCOL_VALUES if c in summary.columns]
    for name, prefix in PROTOCOL_COLUMNS.items():
        rows = summary.loc[protocol == name, keys + values].drop_duplicates(subset=keys)
        names = {c: prefix + c.removeprefix("protocol_") for c in values}
        honest = honest.merge(rows.rename(columns=names), on=keys, how="left")
    return honest.reset_index(drop=True)


def load_published(path: str | Path | None = None) -> pd.DataFrame:
    """The papers' numbers (paper, table, dataset, method, metric, value; blank = N/A)."""
    from mmcbench.core.csv_input import PUBLISHED, read_csv

    if path is None:
        with resources.as_file(resources.files("mmcbench").joinpath("data/published.csv")) as p:
            return read_csv(p, "published-numbers CSV", PUBLISHED_COLUMNS, columns=PUBLISHED)
    return read_csv(path, "published-numbers CSV", PUBLISHED_COLUMNS, columns=PUBLISHED)


def check_setting(method: str, alpha: float, beta: float, origin: str) -> None:
    """Refuse a method that is not deep, or an α/β that is not finite or outside the config
    schema's range for it; `origin` names the option in the message."""
    deep = catalogue.setting_methods()
    if method not in deep:
        what = (
            "has no α/β setting" if method in catalogue.deep_methods() else "is not a deep method"
        )
        raise MmcbenchError(f"{origin}: {method!r} {what}; α/β settings are of {', '.join(deep)}")
    from mmcbench.planning.config import config_schema, rule_error

    section = catalogue.get(method).section
    rules = config_schema().get("properties", {}).get(section, {}).get("properties", {})
    for key, value in (("alpha", alpha), ("beta", beta)):
        if not math.isfinite(value):
            raise MmcbenchError(f"{origin}: {key} = {value} is not a finite number")
        if error := rule_error(rules.get(key, {}), value):
            raise MmcbenchError(
                f"{origin}: {key} = {value:g}: {error} (the range of {section}.{key} in the "
                "config schema); no run can have it"
            )


def _number(text: str, what: str, origin: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise MmcbenchError(f"{origin}: {what} {text!r} is not a number") from None


def settings_from_options(
    alpha: float, beta: float, setting: Sequence[Sequence[str]] | None
) -> Setting:
    """`--setting METHOD ALPHA BETA` options (as given) as (α, β) per method, every value and
    --alpha/--beta checked; a method set twice to different values is refused."""
    for method in catalogue.setting_methods():
        check_setting(method, alpha, beta, f"--alpha {alpha:g} --beta {beta:g}")
    settings: Setting = {}
    for method, alpha_text, beta_text in setting or []:
        origin = f"--setting {method} {alpha_text} {beta_text}"
        pair = (_number(alpha_text, "ALPHA", origin), _number(beta_text, "BETA", origin))
        check_setting(method, *pair, origin)
        if method in settings and settings[method] != pair:
            a, b = settings[method]
            raise MmcbenchError(
                f"{origin}: {method} is already set to α = {a:g}, β = {b:g} by another "
                "--setting; give one setting per method"
            )
        settings[method] = pair
    return settings


def table_methods(spec: TableSpec) -> list[str]:
    """The deep methods with an (α, β) setting that have rows in a table, in catalogue order
    (a compared method's rows show its one default setting)."""
    shown = {row.method for row in spec.rows}
    return [m for m in catalogue.setting_methods() if m in shown]


def _settings(alpha: float, beta: float, settings: Setting | None) -> Setting:
    """(α, β) per deep method: `settings` where given, else (alpha, beta)."""
    return {m: (settings or {}).get(m, (alpha, beta)) for m in catalogue.setting_methods()}


def _variants(summary: pd.DataFrame, row: RowSpec) -> pd.Series:
    """Rows of `summary` that are runs of a table row's method and variant (any view for a
    best-single-view row)."""
    rows = summary["method"] == row.method
    if row.variant is None:
        return rows & summary["variant"].astype(str).str.startswith("view")
    return rows & (summary["variant"] == row.variant)


def missing_rows(summary: pd.DataFrame, spec: TableSpec, settings: Setting) -> list[str]:
    """Why table rows are absent on datasets the summary has: not run, not at the table's
    (α, β) (naming the settings it has), or no view with an ACC to pick the best by."""
    return absent_notes(absent_cells(summary, spec, settings))


def absent_notes(cells: Sequence[tuple[str, str, str]]) -> list[str]:
    """`absent_cells` as the notes under a table: one per row label and reason, its datasets
    joined."""
    reasons: dict[tuple[str, str], list[str]] = {}
    for label, reason, dataset in cells:
        reasons.setdefault((label, reason), []).append(dataset)
    return [f"{label}: {r} on {', '.join(d)}" for (label, r), d in reasons.items()]


def absent_cells(
    summary: pd.DataFrame, spec: TableSpec, settings: Setting
) -> list[tuple[str, str, str]]:
    """(row label, reason, dataset) of each table row absent on a dataset the table's other
    rows have: not run, not at the table's (α, β), or no view with an ACC to pick the best by."""
    summary = without_study_points(summary)
    shown = table_cells(summary, spec, settings=settings)
    at = _at_setting(summary, settings)
    ran = pd.Series(False, index=summary.index)
    for row in spec.rows:
        ran |= _variants(summary, row)
    datasets = list(summary.loc[ran, "dataset"].drop_duplicates())  # the table's datasets
    cells = []
    for row in spec.rows:
        if row.reading or row.optional:
            continue  # a reading or alternative row is shown where its runs exist, never missed
        for dataset in datasets:
            if ((shown["label"] == row.shown_label) & (shown["dataset"] == dataset)).any():
                continue
            anywhere = summary[_variants(summary, row) & (summary["dataset"] == dataset)]
            here = at[_variants(at, row) & (at["dataset"] == dataset)]
            if anywhere.empty:
                reason = "not run"
            elif here.empty and row.method in settings and "p_alpha" in anywhere:
                alpha, beta = settings[row.method]
                pairs = anywhere[["p_alpha", "p_beta"]].astype(float).drop_duplicates()
                others = ", ".join(f"({a:g}, {b:g})" for a, b in sorted(pairs.itertuples(False)))
                reason = (
                    f"no runs at α = {alpha:g}, β = {beta:g} (the summary has (α, β) = {others})"
                )
            else:
                reason = "no view with a mean ACC to pick the best by (every run failed)"
            cells.append((row.label, reason, dataset))
    return cells


def _overrides(summary: pd.DataFrame) -> pd.Series:
    """Each row's study overrides as text ("" for the configured setting)."""
    if "overrides" not in summary:
        return pd.Series("", index=summary.index)
    return summary["overrides"].fillna("").astype(str)


def without_study_points(summary: pd.DataFrame) -> pd.DataFrame:
    """Rows of the configured setting: no study overrides (blank or missing)."""
    return summary[_overrides(summary) == ""]


def table_points(summary: pd.DataFrame) -> pd.DataFrame:
    """Rows a table may show: the configured setting and the compression readings' points."""
    overrides = _overrides(summary)
    readings = {f"{READING_KEY}={r}" for r in COMPRESSION_READINGS}
    return summary[(overrides == "") | overrides.isin(readings)]


def _at_setting(summary: pd.DataFrame, settings: Setting) -> pd.DataFrame:
    """Rows of the configured setting and of the compression readings (no other study
    overrides); deep-method rows at their method's (α, β)."""
    summary = table_points(summary)
    if "p_alpha" not in summary:
        return summary
    keep = ~summary["method"].isin(catalogue.setting_methods())
    for method, (alpha, beta) in settings.items():
        keep |= (
            (summary["method"] == method)
            & np.isclose(summary["p_alpha"].astype(float), alpha)
            & np.isclose(summary["p_beta"].astype(float), beta)
        )
    return summary[keep]


def best_single_view(summary: pd.DataFrame, method: str, dataset: str) -> str | None:
    """Variant (`view<i>`) of `method` with the highest mean ACC on `dataset`."""
    acc = summary[
        (summary["method"] == method)
        & (summary["dataset"] == dataset)
        & (summary["metric"] == "ACC")
        & summary["variant"].str.startswith("view")
    ]
    acc = acc.dropna(subset=["mean"])
    if acc.empty:
        return None
    return str(acc.sort_values(["mean", "variant"], ascending=[False, True]).iloc[0]["variant"])


def table_cells(
    summary: pd.DataFrame,
    spec: TableSpec,
    alpha: float = IBSettings.alpha,
    beta: float = IBSettings.beta,
    settings: Setting | None = None,
) -> pd.DataFrame:
    """The summary rows a table shows, with a `label` column (the paper's row name)."""
    summary = _at_setting(summary, _settings(alpha, beta, settings))
    overrides = _overrides(summary)
    configured = summary[overrides == ""]
    chosen = []
    for dataset in summary["dataset"].drop_duplicates():
        for row in spec.rows:
            variant = row.variant or best_single_view(configured, row.method, dataset)
            rows = summary[
                (summary["method"] == row.method)
                & (summary["dataset"] == dataset)
                & (summary["variant"] == variant)
                & (overrides == row.overrides)
            ]
            if variant is not None and not rows.empty:
                chosen.append(
                    rows.assign(label=row.shown_label, paper_label=row.label, reading=row.reading)
                )
    if not chosen:
        return summary.iloc[0:0].assign(label="", paper_label="", reading="")
    return pd.concat(chosen, ignore_index=True)


def comparison(
    summary: pd.DataFrame,
    published: pd.DataFrame,
    spec: TableSpec,
    alpha: float = IBSettings.alpha,
    beta: float = IBSettings.beta,
    metrics: tuple[str, ...] = ("ACC", "NMI", "ARI", "ECE", "NLL", "Brier"),
    settings: Setting | None = None,
) -> pd.DataFrame:
    """Long table: one row per (paper, dataset, row label, metric), published and reproduced
    (honest, and under the method's paper's protocol)."""
    summary = honest_rows(summary)
    cells = table_cells(summary, spec, alpha, beta, settings)
    cells = cells[cells["metric"].isin(metrics)]
    rows = []
    for _, cell in cells.iterrows():
        hits: list[tuple[PaperTable | None, float]] = []
        for source in spec.sources:
            table = published[
                (published["paper"] == source.paper)
                & (published["table"] == source.table)
                & (published["dataset"] == cell["dataset"])
            ]
            if table.empty:
                continue  # this paper table does not have the dataset
            match = table[
                (table["method"] == cell["paper_label"]) & (table["metric"] == cell["metric"])
            ]
            hits.append((source, match["value"].iloc[0] if not match.empty else math.nan))
        if not hits:
            hits = [(None, math.nan)]
        selected = _selected(cell)
        for source, value in hits:
            delta = selected["verdict_value"] - value if pd.notna(value) else math.nan
            honest_delta = cell["mean"] - value if pd.notna(value) else math.nan
            rows.append(
                {
                    "paper": source.paper if source else "",
                    "paper_table": source.table if source else "",
                    "dataset": cell["dataset"],
                    "label": cell["label"],
                    "reading": cell["reading"],
                    "method": cell["method"],
                    "variant": cell["variant"],
                    "view_name": cell["view_name"] if isinstance(cell["view_name"], str) else "",
                    "metric": cell["metric"],
                    "alpha": _cell_number(cell.get("p_alpha")),
                    "beta": _cell_number(cell.get("p_beta")),
                    "published": value,
                    "mean": cell["mean"],
                    "std": cell["std"],
                    "n": cell["n"],
                    "n_runs": cell["n_runs"],
                    "n_failed": cell["n_error"] + cell["n_diverged"],
                    "n_stopped": cell.get("n_stopped", 0),
                    "n_collapsed": cell.get("n_collapsed", 0),
                    "n_healthy": cell.get("n_healthy", math.nan),
                    "mean_healthy": cell.get("mean_healthy", math.nan),
                    "std_healthy": cell.get("std_healthy", math.nan),
                    "clusters_used_mean": cell.get("clusters_used_mean", math.nan),
                    **selected,
                    "delta": delta,
                    "reproduced": bool(abs(delta) <= VERDICT_POINTS) if pd.notna(delta) else None,
                    "delta_honest": honest_delta,
                    "reproduced_honest": bool(abs(honest_delta) <= VERDICT_POINTS)
                    if pd.notna(honest_delta)
                    else None,
                    "label_selected": cell["label_selected"],
                    "label_selected_seed": cell["label_selected_seed"],
                    "loss_selected": cell["loss_selected"],
                    "loss_selected_seed": cell["loss_selected_seed"],
                }
            )
    return _with_ranks(pd.DataFrame(rows))


def _selected(cell: pd.Series) -> dict:
    """A cell's paper's-protocol value (its method's own paper's selection,
    mmcbench.summaries.protocols), the selection gain over the honest mean, the label-free value,
    and the value the verdict is taken against: the paper's-protocol value where the cell has one,
    else the honest mean (the baselines, which select nothing; a deep cell whose histories lack what
    its protocol reads)."""
    value = cell.get("paper_protocol_mean", math.nan)
    value = math.nan if value is None or pd.isna(value) else float(value)
    honest = cell["mean"]
    return {
        "protocol_rule": _text(cell.get("paper_protocol_rule")),
        "protocol_mean": value,
        "protocol_std": cell.get("paper_protocol_std", math.nan),
        "protocol_n": cell.get("paper_protocol_n", math.nan),
        "protocol_seeds": _text(cell.get("paper_protocol_seeds")),
        "protocol_epochs": _text(cell.get("paper_protocol_epochs")),
        "protocol_note": _text(cell.get("paper_protocol_note")),
        "protocol_n_collapsed": cell.get("paper_protocol_n_collapsed", math.nan),
        "protocol_n_healthy": cell.get("paper_protocol_n_healthy", math.nan),
        "protocol_mean_healthy": cell.get("paper_protocol_mean_healthy", math.nan),
        "selection_gain": value - honest if pd.notna(honest) else math.nan,
        "bound_rule": _text(cell.get("paper_bound_rule")),
        "bound_mean": _cell_number(cell.get("paper_bound_mean")),
        "bound_std": _cell_number(cell.get("paper_bound_std")),
        "bound_gain": _cell_number(cell.get("paper_bound_mean")) - honest
        if pd.notna(honest)
        else math.nan,
        "label_free_mean": cell.get("label_free_mean", math.nan),
        "label_free_std": cell.get("label_free_std", math.nan),
        "label_free_epochs": _text(cell.get("label_free_epochs")),
        "verdict_on": "paper protocol" if pd.notna(value) else "honest",
        "verdict_value": value if pd.notna(value) else honest,
    }


def _cell_number(value: object) -> float:
    """A summary.csv number cell: NaN where missing."""
    return math.nan if value is None or pd.isna(value) else float(value)


def _text(value: object) -> str:
    """A summary.csv text cell: blank for a missing value, an int-valued float without `.0`."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _with_ranks(long: pd.DataFrame) -> pd.DataFrame:
    """Add `rank` (reproduced mean) and `published_rank` within (paper, dataset, metric).

    1 = best: highest, or lowest for ECE; ties share the better rank. The papers print the best
    bold and the second underlined, and so do the Markdown and LaTeX tables.
    """
    if long.empty:
        return long.assign(rank=pd.Series(dtype=float), published_rank=pd.Series(dtype=float))
    long = long.copy()
    keys = ["paper", "dataset", "metric"]
    sign = np.where(long["metric"].isin(LOWER_IS_BETTER), -1.0, 1.0)  # rank −ECE, +others
    for value, rank in (("mean", "rank"), ("published", "published_rank")):
        signed = long[value].astype(float) * sign
        long[rank] = signed.groupby([long[k] for k in keys]).rank(method="min", ascending=False)
    return long


# ----------------------------------------------------------------------------- formatting
def _mean_std(row: pd.Series) -> str:
    if pd.isna(row["mean"]):
        if row["n_runs"] and row["n_runs"] > row["n_failed"]:
            return "N/A"  # runs finished without this metric (ECE of hard assignments)
        if not row["n_runs"]:
            return "not run"
        failed = int(row["n_failed"]) if pd.notna(row["n_failed"]) else 0
        return f"every run failed (0/{int(row['n_runs'])} done, {failed} failed)"
    std = "" if pd.isna(row["std"]) else f" ± {metric_text(row['std'], metric=row['metric'])}"
    failed = f", {int(row['n_failed'])} failed" if row["n_failed"] else ""
    stopped = row.get("n_stopped", 0)
    failed += f", {int(stopped)} stopped" if pd.notna(stopped) and stopped else ""
    collapsed = row.get("n_collapsed", 0)
    collapsed = f", {int(collapsed)} collapsed" if pd.notna(collapsed) and collapsed else ""
    mean = metric_text(row["mean"], metric=row["metric"])
    return f"{mean}{std} ({int(row['n'])}{failed}{collapsed})"


def _delta(row: pd.Series) -> str:
    if pd.isna(row["delta"]):
        return "–"
    text = metric_text(row["delta"], signed=True) + (" ✓" if row["reproduced"] else "")
    if row.get("verdict_on") == "honest" and _has_protocol(row["method"]):
        text += " (honest)"  # a deep cell whose histories lack what its protocol reads
    return text


def _has_protocol(method: str) -> bool:
    return method in catalogue.deep_methods()


def _selected_text(row: pd.Series) -> str:
    """The paper's-protocol value with its selection gain in brackets: `77.1 [+31.0]`."""
    value = row.get("protocol_mean", math.nan)
    if value is None or pd.isna(value):
        return "–"
    std = row.get("protocol_std", math.nan)
    metric = row["metric"]
    spread = "" if std is None or pd.isna(std) else f" ± {metric_text(std, metric=metric)}"
    gain = metric_text(row.get("selection_gain"), signed=True, metric=metric)
    collapsed = row.get("protocol_n_collapsed", math.nan)
    fallen = f" ({int(collapsed)} collapsed)" if pd.notna(collapsed) and collapsed else ""
    return f"{metric_text(value, metric=metric)}{spread} [{gain}]{fallen}"


def _bound_text(row: pd.Series) -> str:
    """The second reading of the paper's protocol (an upper bound) with its gain in brackets."""
    value = row.get("bound_mean", math.nan)
    if value is None or pd.isna(value):
        return "–"
    metric = row["metric"]
    gain = metric_text(row.get("bound_gain"), signed=True, metric=metric)
    return f"{metric_text(value, metric=metric)} [{gain}]"


def _row_label(row: pd.Series) -> str:
    if not row["view_name"]:
        return row["label"]
    if catalogue.get(row["method"]).single_view:
        return f"{row['label']} ({row['view_name']}, view chosen with labels)"
    return f"{row['label']} ({row['view_name']})"


def _rank(row: pd.Series | None, column: str) -> float | None:
    if row is None or column not in row or pd.isna(row[column]):
        return None
    return float(row[column])


def _lines(part: pd.DataFrame, with_paper: bool, metrics: tuple[str, ...]) -> list[list[Cell]]:
    out = []
    for (dataset, _label), cell in part.groupby(["dataset", "label"], sort=False):
        by = {r["metric"]: r for _, r in cell.iterrows()}
        line = [Cell(dataset), Cell(_row_label(cell.iloc[0]))]
        for metric in metrics:
            r = by.get(metric)
            if r is None:
                line += [Cell("–")] * ((4 if with_paper else 2) + 2 * (metric == "ACC"))
                continue
            reproduced = [Cell(_mean_std(r), _rank(r, "rank")), Cell(_selected_text(r))]
            if with_paper:
                line += [Cell(metric_text(r["published"]), _rank(r, "published_rank")), *reproduced]
                line.append(Cell(_delta(r)))
            else:
                line += reproduced
            if metric == "ACC":
                line.append(Cell(_bound_text(r)))
                line.append(Cell(metric_text(r.get("label_free_mean"))))
        if not with_paper:
            line.append(
                Cell(_mean_std(by["ARI"]), _rank(by["ARI"], "rank")) if "ARI" in by else Cell("–")
            )
        out.append(line)
    return out


def paper_header(metrics: tuple[str, ...]) -> list[str]:
    header = ["Dataset", "Method"]
    for metric in metrics:
        header += [f"{metric} paper", f"{metric} honest", f"{metric} paper's protocol [gain]"]
        header.append(f"Δ {metric}")
        if metric == "ACC":
            header += ["ACC best epoch, best run [gain]", "ACC label-free‡"]
    return header


def extended_header(metrics: tuple[str, ...]) -> list[str]:
    header = ["Dataset", "Method"]
    for metric in metrics:
        header += [f"{metric} honest", f"{metric} paper's protocol [gain]"]
        if metric == "ACC":
            header += ["ACC best epoch, best run [gain]", "ACC label-free‡"]
    return [*header, "ARI"]


def protocol_legend(methods: Sequence[str]) -> str:
    """Which selection each method's paper's-protocol column shows
    (mmcbench.summaries.protocols)."""
    from mmcbench.summaries.protocols import RULE_WORDS

    by_rule: dict[str, list[str]] = {}
    bounds: dict[str, list[str]] = {}
    for method in methods:
        if method in catalogue.deep_methods():
            entry = catalogue.get(method)
            name = f"{method} (assumed: its paper names none)" if entry.paper_assumed else method
            by_rule.setdefault(entry.paper_protocol, []).append(name)
            if entry.paper_bound:
                bounds.setdefault(entry.paper_bound, []).append(method)
    text = " ".join(
        f"{', '.join(names)}: {rule}, {RULE_WORDS[rule]}." for rule, names in by_rule.items()
    )
    for rule, names in bounds.items():
        text += (
            f" ACC best epoch, best run = the other reading of {', '.join(names)}'s protocol, "
            f"{rule}: {RULE_WORDS[rule]}; [gain] over the honest mean."
        )
    return text


def legend(settings: Setting, methods: Sequence[str] = ()) -> str:
    """The legend under a table's heading; `methods`: the table's rows' methods."""
    return (
        "Honest = mean ± std over seeds at the last epoch (n done; no label used to choose "
        "anything, except the view of the KM and Ncuts rows: see below; failed = diverged or "
        "error runs, not in the mean; collapsed = runs whose effective number of clusters "
        f"(exp of the cluster sizes' entropy) is {COLLAPSE_WORDS}, in the mean but not a "
        "clustering score: such a cell measures a collapse, not a method; a calibration claim "
        "leaves them out). Paper's protocol = the value "
        "chosen as the method's own paper chose its number, from the runs' per-epoch histories; "
        "[gain] = that value − the honest mean (the selection gain). "
        + protocol_legend(methods)
        + " For ECE (lower is better) a negative gain is an improvement. Δ = the paper's-protocol "
        "value − the published value (the honest mean for the baselines, which select nothing, "
        "and where a cell has no protocol value, its histories lacking what the protocol reads "
        "or the summary having no protocol rows: marked (honest)); ✓ = within 2 points "
        "(protocol.md); the CSV has the honest Δ too (delta_honest). ‡ = label-free: per run the "
        "epoch of lowest evaluation loss of the method's clustering terms (GIB, CLIB: without "
        "the compression term; SiMVC, CoMVC: DDC1, as their code monitors), after any warm-up "
        "or stage change, mean over seeds. A row naming a reading of I(X;H) shows the method "
        "under that reading of Theorem 2's compression term (the paper does not force one; "
        "the plain row is the configured reading, the spec's default the analytic KL), "
        "compared with the paper's row of the method. KM and Ncuts show the single view "
        "of the highest mean ACC, chosen with the labels (named in brackets; the CSV keeps "
        "every view), as the literature reports them. The deep methods' defaults where the "
        "spec revised a first reading (GIB.md, CLIB.md: lines marked Revised) were settled "
        "after measurements on the suite's local datasets, labels included. The compared methods "
        "see the views as their authors' code does (their `preprocess` key: SiMVC and CoMVC as "
        "stored, MFLVC min-max per feature); the others as preprocessing.scaling says. ECE "
        "(lower is better) is N/A for hard assignments. Best honest value per dataset and "
        "column in bold, second underlined (the paper column ranks the published values)."
        + "".join(f" {m} runs at α = {a:g}, β = {b:g};" for m, (a, b) in settings.items())
    ).removesuffix(";") + ("." if settings else "")


def render(
    summary: pd.DataFrame,
    published: pd.DataFrame,
    spec: TableSpec,
    out_prefix: Path,
    alpha: float = IBSettings.alpha,
    beta: float = IBSettings.beta,
    settings: Setting | None = None,
    level: float = 0.05,
) -> pd.DataFrame:
    """Write `<out_prefix>.{md,html,tex,csv}` for one paper table; rows the summary cannot fill
    (not run, not at the table's α/β) are listed under the legend; its "Ours vs Best Compared"
    rows test at `level` (`mmcbench.report.claims`)."""
    for method, (a, b) in (settings or {}).items():
        check_setting(method, a, b, f"the setting of {method}")
    for method in table_methods(spec):
        check_setting(method, alpha, beta, "the default setting")
    settings = _settings(alpha, beta, settings)
    summary = honest_rows(summary)
    long = comparison(summary, published, spec, alpha, beta, settings=settings)
    ran = set(without_study_points(summary)["dataset"])
    notes = missing_rows(summary, spec, settings)
    shown = {m: settings[m] for m in table_methods(spec)}
    write_table(long, published, spec, out_prefix, shown, notes, ran, level)
    return long


def write_table(
    long: pd.DataFrame,
    published: pd.DataFrame,
    spec: TableSpec,
    out_prefix: Path,
    settings: Setting,
    notes: Sequence[str],
    ran: set[str],
    level: float = 0.05,
) -> None:
    """Write `<out_prefix>.{md,html,tex,csv}` of one paper table from its long comparison:
    `settings` the (α, β) its deep rows show (in the legend), `notes` the rows it lacks and
    why, `ran` the datasets that have runs at all."""
    text = legend(settings, list(dict.fromkeys(row.method for row in spec.rows)))
    md = [f"# {spec.heading}", "", text, ""]
    tex = [f"% {text}"]
    from mmcbench.report.claims import CLAIMS_LEGEND, claim_rows, claims_lines, extended_claim_rows

    claimed = claim_rows(long, published, level=level)
    if notes:
        log.warning("%s: rows not in the table: %s", spec.name, "; ".join(notes))
        md += ["Rows not in the table (summary.csv has nothing to show):", ""]
        md += [f"- {note}" for note in notes] + [""]
        tex += ["% Rows not in the table: " + "; ".join(notes) + "."]
    for source in spec.sources:
        part = long[long["paper"] == source.paper] if not long.empty else long
        paper_sets = sorted(
            published[(published["paper"] == source.paper) & (published["table"] == source.table)][
                "dataset"
            ].unique()
        )
        present = set(part["dataset"]) if not part.empty else set()
        missing = [d for d in paper_sets if d not in present and d not in ran]
        empty = [d for d in paper_sets if d not in present and d in ran]
        md += [f"## {source.title}", ""]
        if part.empty:
            md += ["No dataset of this table was reproduced in this run.", ""]
        else:
            rows = _lines(part, with_paper=True, metrics=spec.metrics)
            header = paper_header(spec.metrics)
            md += [markdown_table(header, rows), ""]
            tex += [latex_table(f"{source.title}: published vs reproduced", header, rows)]
            if ours := claims_lines(claimed, source.paper, source.table, spec.metrics):
                md += [f"### Ours vs Best Compared ({source.title})", "", CLAIMS_LEGEND, ""]
                md += [*ours, ""]
        if empty:
            md += [f"Run, but no row to show: {', '.join(empty)} (see the rows listed above).", ""]
        if missing:
            md += [f"Not in this run: {', '.join(missing)} (see `mmcbench datasets`).", ""]
    extended = long[long["paper"] == ""] if not long.empty else long
    if not extended.empty:
        rows = _lines(extended, with_paper=False, metrics=spec.metrics)
        header = extended_header(spec.metrics)
        md += [
            "## Datasets not in the papers (reproduced only)",
            "",
            markdown_table(header, rows),
            "",
        ]
        tex += [latex_table("Datasets not in the papers (reproduced only)", header, rows)]
        extra = extended_claim_rows(long, level)
        extra = extra[extra["ours"].isin([r.method for r in spec.rows])]
        for paper in extra["paper"].drop_duplicates():
            md += [f"### {paper} vs Best Compared (reproduced only)", "", CLAIMS_LEGEND, ""]
            md += [*claims_lines(extra, paper, "", spec.metrics), ""]
    out_prefix.parent.mkdir(parents=True, exist_ok=True)
    atomic.write_text(out_prefix.with_suffix(".md"), "\n".join(md))
    write_markdown_page(out_prefix.with_suffix(".html"), "\n".join(md), spec.heading)
    atomic.write_text(out_prefix.with_suffix(".tex"), "\n\n".join(tex) + "\n")
    with atomic.atomic_path(out_prefix.with_suffix(".csv")) as tmp:  # comparison.csv has α, β
        long.drop(columns=["alpha", "beta"], errors="ignore").to_csv(tmp, index=False)
