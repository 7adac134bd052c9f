"""Paper-vs-reproduced tables (Markdown, LaTeX, CSV) rendered from summary.csv only.

A cell shows the published value, the reproduced mean ± std (n) over seeds (honest: no label
used to choose anything), the signed difference Δ = reproduced − published, and ✓ when
|Δ| ≤ 2 points (protocol.md's verdict). The label-selected best seed (the papers' protocol)
is shown beside it and marked †. Datasets the papers do not have get reproduced values only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import pandas as pd

from benchmark import atomic

VERDICT_POINTS = 2.0
BASELINES = ("KM", "Ncuts", "AmKM", "AmNcuts")
SINGLE_VIEW = ("KM", "Ncuts")


@dataclass(frozen=True)
class PaperTable:
    paper: str
    table: str
    title: str


TABLE1_SOURCES = (
    PaperTable("GIB", "table1", "GIB paper, Table 1"),
    PaperTable("CLIB", "results", "CLIB paper, results table"),
)


def load_published(path: str | Path | None = None) -> pd.DataFrame:
    """The papers' numbers (paper, table, dataset, method, metric, value; blank = N/A)."""
    if path is None:
        with resources.files("benchmark").joinpath("data/published.csv").open() as fh:
            return pd.read_csv(fh)
    return pd.read_csv(path)


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


def baseline_cells(summary: pd.DataFrame) -> pd.DataFrame:
    """Summary rows of the baselines as the tables show them (KM / Ncuts: best view)."""
    chosen = []
    for dataset in summary["dataset"].drop_duplicates():
        for method in BASELINES:
            variant = best_single_view(summary, method, dataset) if method in SINGLE_VIEW else "all"
            if variant is None:
                continue
            rows = summary[
                (summary["method"] == method)
                & (summary["dataset"] == dataset)
                & (summary["variant"] == variant)
            ]
            chosen.append(rows)
    return pd.concat(chosen, ignore_index=True) if chosen else summary.iloc[0:0]


def comparison(
    summary: pd.DataFrame,
    published: pd.DataFrame,
    sources: tuple[PaperTable, ...] = TABLE1_SOURCES,
    metrics: tuple[str, ...] = ("ACC", "NMI", "ARI"),
) -> pd.DataFrame:
    """Long table: one row per (paper, dataset, method, metric) with published and reproduced."""
    cells = baseline_cells(summary)
    cells = cells[cells["metric"].isin(metrics)]
    rows = []
    for _, cell in cells.iterrows():
        hits: list[tuple[PaperTable | None, float]] = []
        for source in sources:
            table = published[
                (published["paper"] == source.paper)
                & (published["table"] == source.table)
                & (published["dataset"] == cell["dataset"])
            ]
            if table.empty:
                continue  # this paper table does not have the dataset
            match = table[(table["method"] == cell["method"]) & (table["metric"] == cell["metric"])]
            hits.append((source, match["value"].iloc[0] if not match.empty else math.nan))
        if not hits:
            hits = [(None, math.nan)]
        for source, value in hits:
            delta = cell["mean"] - value if pd.notna(value) and pd.notna(cell["mean"]) else math.nan
            rows.append(
                {
                    "paper": source.paper if source else "",
                    "paper_table": source.table if source else "",
                    "dataset": cell["dataset"],
                    "method": cell["method"],
                    "variant": cell["variant"],
                    "view_name": cell["view_name"] if isinstance(cell["view_name"], str) else "",
                    "metric": cell["metric"],
                    "published": value,
                    "mean": cell["mean"],
                    "std": cell["std"],
                    "n": cell["n"],
                    "n_runs": cell["n_runs"],
                    "n_error": cell["n_error"],
                    "delta": delta,
                    "reproduced": bool(abs(delta) <= VERDICT_POINTS) if pd.notna(delta) else None,
                    "label_selected": cell["label_selected"],
                    "label_selected_seed": cell["label_selected_seed"],
                    "loss_selected": cell["loss_selected"],
                }
            )
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------------- formatting
def _num(value: float, signed: bool = False) -> str:
    if value is None or pd.isna(value):
        return "–"
    return f"{value:+.1f}" if signed else f"{value:.1f}"


def _mean_std(row: pd.Series, pm: str = " ± ") -> str:
    if pd.isna(row["mean"]):
        return f"not run (0/{int(row['n_runs'])} done)" if row["n_runs"] else "not run"
    std = "" if pd.isna(row["std"]) else f"{pm}{row['std']:.1f}"
    errors = f", {int(row['n_error'])} failed" if row["n_error"] else ""
    return f"{row['mean']:.1f}{std} ({int(row['n'])}{errors})"


def _delta(row: pd.Series) -> str:
    if pd.isna(row["delta"]):
        return "–"
    return _num(row["delta"], signed=True) + (" ✓" if row["reproduced"] else "")


def _method_label(row: pd.Series) -> str:
    return f"{row['method']} ({row['view_name']})" if row["view_name"] else row["method"]


def _paper_rows(part: pd.DataFrame, metrics: tuple[str, ...]) -> list[list[str]]:
    out = []
    keys = part[["dataset", "method"]].drop_duplicates().itertuples(index=False)
    for dataset, method in keys:
        cell = part[(part["dataset"] == dataset) & (part["method"] == method)]
        first = cell.iloc[0]
        line = [dataset, _method_label(first)]
        for metric in metrics:
            hit = cell[cell["metric"] == metric]
            if hit.empty:
                line += ["–"] * 3
                continue
            r = hit.iloc[0]
            line += [_num(r["published"]), _mean_std(r), _delta(r)]
            if metric == "ACC":
                line.append(_num(r["label_selected"]))
        out.append(line)
    return out


def _markdown_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def _latex_escape(text: str) -> str:
    for a, b in (
        ("\\", r"\textbackslash{}"),
        ("&", r"\&"),
        ("%", r"\%"),
        ("_", r"\_"),
        ("#", r"\#"),
    ):
        text = text.replace(a, b)
    return (
        text.replace(" ± ", r" $\pm$ ")
        .replace("✓", r"\checkmark")
        .replace("–", "--")
        .replace("†", r"$^\dagger$")
    )


def _latex_table(caption: str, header: list[str], rows: list[list[str]]) -> str:
    spec = "ll" + "r" * (len(header) - 2)
    lines = [
        r"\begin{table}[t]",
        r"\centering\small",
        rf"\caption{{{_latex_escape(caption)}}}",
        rf"\begin{{tabular}}{{{spec}}}",
        r"\toprule",
        " & ".join(_latex_escape(h) for h in header) + r" \\",
        r"\midrule",
    ]
    lines += [" & ".join(_latex_escape(c) for c in r) + r" \\" for r in rows]
    lines += [r"\bottomrule", r"\end{tabular}", r"\end{table}"]
    return "\n".join(lines)


PAPER_HEADER = [
    "Dataset",
    "Method",
    "ACC paper",
    "ACC reproduced",
    "Δ ACC",
    "ACC best seed†",
    "NMI paper",
    "NMI reproduced",
    "Δ NMI",
]
EXTENDED_HEADER = ["Dataset", "Method", "ACC", "ACC best seed†", "NMI", "ARI"]

LEGEND = (
    "Reproduced = mean ± std over seeds (n done; honest, no label used to choose anything). "
    "Δ = reproduced mean − published value; ✓ = within 2 points (protocol.md). "
    "† = best seed by final ACC: the papers' protocol, which uses the labels. "
    "KM and Ncuts use the best single view by mean ACC (named in brackets); the CSV keeps "
    "every view. Baselines give hard assignments, so they have no ECE (N/A, as the CLIB paper)."
)


def render_table1(summary: pd.DataFrame, published: pd.DataFrame, out_prefix: Path) -> pd.DataFrame:
    """Write `<out_prefix>.{md,tex,csv}` for the baselines of both papers' Table 1."""
    long = comparison(summary, published)
    md = ["# Table 1: classical baselines, published vs reproduced", "", LEGEND, ""]
    tex = [f"% {LEGEND}"]
    for source in TABLE1_SOURCES:
        part = long[long["paper"] == source.paper]
        paper_sets = sorted(
            published[(published["paper"] == source.paper) & (published["table"] == source.table)][
                "dataset"
            ].unique()
        )
        missing = [d for d in paper_sets if d not in set(part["dataset"])]
        md += [f"## {source.title}", ""]
        if part.empty:
            md += ["No dataset of this table was reproduced in this run.", ""]
        else:
            rows = _paper_rows(part, ("ACC", "NMI"))
            md += [_markdown_table(PAPER_HEADER, rows), ""]
            tex += [_latex_table(f"{source.title}: published vs reproduced", PAPER_HEADER, rows)]
        if missing:
            md += [f"Not in this run: {', '.join(missing)} (see `mmcbench datasets`).", ""]
    extended = long[long["paper"] == ""]
    if not extended.empty:
        rows = []
        for (dataset, _method), cell in extended.groupby(["dataset", "method"], sort=False):
            by = {r["metric"]: r for _, r in cell.iterrows()}
            first = cell.iloc[0]
            rows.append(
                [
                    dataset,
                    _method_label(first),
                    _mean_std(by["ACC"]),
                    _num(by["ACC"]["label_selected"]),
                    _mean_std(by["NMI"]),
                    _mean_std(by["ARI"]),
                ]
            )
        md += [
            "## Datasets not in the papers (reproduced only)",
            "",
            _markdown_table(EXTENDED_HEADER, rows),
            "",
        ]
        tex += [_latex_table("Datasets not in the papers (reproduced only)", EXTENDED_HEADER, rows)]
    out_prefix.parent.mkdir(parents=True, exist_ok=True)
    atomic.write_text(out_prefix.with_suffix(".md"), "\n".join(md))
    atomic.write_text(out_prefix.with_suffix(".tex"), "\n\n".join(tex) + "\n")
    with atomic.atomic_path(out_prefix.with_suffix(".csv")) as tmp:
        long.to_csv(tmp, index=False)
    return long
