"""Formatting shared by the suite's rendered tables (paper tables, resolution study): cells
with a rank mark, Markdown and LaTeX tables, and a metric value as the tables print it."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from mmcbench.runs.metrics import decimals


@dataclass(frozen=True)
class Cell:
    """A table cell's text and its rank among the dataset's rows (1 = best, 2 = second)."""

    text: str
    rank: float | None = None


def metric_text(value: float | None, signed: bool = False, metric: str = "") -> str:
    """A value of `metric` as the tables show it (`–` when missing, `+` when signed)."""
    if value is None or pd.isna(value):
        return "–"
    return f"{value:{'+' if signed else ''}.{decimals(metric)}f}"


def _md_cell(cell: Cell) -> str:
    if cell.rank == 1:
        return f"**{cell.text}**"
    if cell.rank == 2:
        return f"<u>{cell.text}</u>"
    return cell.text


def _tex_cell(cell: Cell) -> str:
    text = latex_escape(cell.text)
    if cell.rank == 1:
        return rf"\textbf{{{text}}}"
    if cell.rank == 2:
        return rf"\underline{{{text}}}"
    return text


def markdown_table(header: list[str], rows: list[list[Cell]]) -> str:
    """A Markdown table; rank 1 in bold, rank 2 underlined."""
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(_md_cell(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def latex_escape(text: str) -> str:
    """`text` for LaTeX: special characters escaped, ±, ✓, –, †, ‡ and Δ as LaTeX."""
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
        .replace("‡", r"$^\ddagger$")
        .replace("Δ", r"$\Delta$")
    )


def latex_table(caption: str, header: list[str], rows: list[list[Cell]]) -> str:
    """A booktabs LaTeX table; rank 1 in bold, rank 2 underlined."""
    spec = "ll" + "r" * (len(header) - 2)
    lines = [
        r"\begin{table}[t]",
        r"\centering\small",
        rf"\caption{{{latex_escape(caption)}}}",
        rf"\begin{{tabular}}{{{spec}}}",
        r"\toprule",
        " & ".join(latex_escape(h) for h in header) + r" \\",
        r"\midrule",
    ]
    lines += [" & ".join(_tex_cell(c) for c in r) + r" \\" for r in rows]
    lines += [r"\bottomrule", r"\end{tabular}", r"\end{table}"]
    return "\n".join(lines)
