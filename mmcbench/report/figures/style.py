"""Shared look of every figure: paper-column sizes, a colour-blind-safe palette, PNG + PDF.

Figures are sized in inches for a two-column paper (one column ≈ 3.4 in, full width ≈ 7 in)
with 8-pt text, so that they stay readable when dropped into a paper at that width.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import seaborn as sns

from mmcbench.core import atomic

COLUMN_IN = 3.4  # one column of a two-column paper
FULL_IN = 7.0  # full text width
FORMATS = ("png", "pdf")
PNG_DPI = 200
SEQUENTIAL_CMAP = "viridis"  # perceptually uniform and colour-blind safe
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "<", ">", "p")

RC = {
    "font.size": 8,
    "axes.titlesize": 8,
    "axes.labelsize": 8,
    "xtick.labelsize": 7,
    "ytick.labelsize": 7,
    "legend.fontsize": 7,
    "figure.titlesize": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "savefig.bbox": "tight",
    "pdf.fonttype": 42,  # TrueType in PDFs: editable text, accepted by publishers
}


def apply() -> None:
    """Set the shared matplotlib/seaborn style (idempotent)."""
    sns.set_theme(context="paper", style="ticks", palette="colorblind", rc=RC)


def palette(n: int) -> list[tuple[float, float, float]]:
    """`n` colours of seaborn's colour-blind-safe palette (it has 10; they repeat beyond)."""
    base = sns.color_palette("colorblind", 10)
    return [base[i % len(base)] for i in range(n)]


def marker(i: int) -> str:
    """The marker of class/series `i`: a new shape every 10 (when colours start repeating)."""
    return MARKERS[(i // 10) % len(MARKERS)]


def save(fig: plt.Figure, out_prefix: Path, formats: Iterable[str] = FORMATS) -> list[Path]:
    """Write `<out_prefix>.<fmt>` for each format atomically, close the figure, return paths."""
    out_prefix = Path(out_prefix)
    out_prefix.parent.mkdir(parents=True, exist_ok=True)
    written = []
    for fmt in formats:
        path = out_prefix.parent / f"{out_prefix.name}.{fmt}"
        with atomic.atomic_path(path) as tmp:
            fig.savefig(tmp, format=fmt, dpi=PNG_DPI)
        written.append(path)
    plt.close(fig)
    return written
