"""What the figures call things: loss terms by their papers' names, views by their datasets'
names, and the stages of a method trained in stages (the history's `stage` column).

Paper names follow the specs (spec/GIB.md "Losses", spec/CLIB.md, spec/MFLVC.md,
spec/SiMVC-CoMVC.md, spec/DIVIDE.md, spec/DealMVC.md, spec/COPER.md); a term a method's paper
does not name keeps its history column's name.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

# History column → the paper's name of the term (matplotlib mathtext), per method.
_DDC = {
    "ddc1": r"$\mathrm{DDC}_1$",
    "ddc2": r"$\mathrm{DDC}_2$",
    "ddc3": r"$\mathrm{DDC}_3$",
}
_IB_GIB = {
    "vib": r"$\Sigma_i\, I(X^i; H^i)$",
    "mi_yy": r"$\Sigma_{i<j}\, I(Y^i; Y^j)$",
    "mi_ys": r"$\Sigma_i\, I(Y^i; Y^s)$",
    "mi_cc": r"$\Sigma_{i<j}\, I(C^i; C^j)$",
    "mi_cs": r"$\Sigma_i\, I(C^i; C^s)$",
    "L_DDC": r"$L_{DDC}$ (Eq. 7)",
    "L_Samples": r"$L_{Samples}$ (Eq. 6)",
    "L_Balls": r"$L_{Balls}$ (Eq. 5)",
    "total": r"$L_{total}$",
    "clustering": r"$L_{total} - \Sigma_i\, I(X^i; H^i)$",
}
PAPER_TERMS: dict[str, dict[str, str]] = {
    "GIB": {**_DDC, **_IB_GIB},
    "CLIB": {
        "vib": r"$\Sigma_m\, I(X^m; H^m)$",
        "mi_hh": r"$\Sigma_{i<j}\, I(H^i; H^j)$",
        "mi_hf": r"$\Sigma_m\, I(H^m; H^f)$",
        "L_IB": r"$L_{IB}$",
        "L_caliH": r"$L_{caliH}$",
        "L_re": r"$L_{re}$",
        "L_cluH": r"$L_{cluH}$",
        "L_con": r"$L_{con}$",
        "L_Cal": r"$L_{Cal}$",
        "total": r"$L_{IB} + \alpha L_{Cal}$",
        "clustering": r"$L_{total} - \Sigma_m\, I(X^m; H^m)$",
    },
    "MFLVC": {
        "recon": r"$L_Z$ (reconstruction)",
        "feature": r"$\Sigma_{v<w}\, \ell_F$ (feature contrast)",
        "label": r"$\Sigma_{v<w}\, \ell_L$ (label contrast)",
        "entropy": r"entropy terms $E$",
        "pseudo": r"$L_P$ (pseudo-labels)",
        "total": "the stage's objective",
    },
    "DealMVC": {
        "recon": r"$\Sigma_v\, L_Z^v$ (reconstruction)",
        "local": r"$\Sigma_{v<w}\, L_{loc}$ (local calibration)",
        "global": r"$L_{glob}$ (global calibration)",
        "align": r"$L_{al}$ (alignment)",
        "pseudo": r"$L_P$ (pseudo-labels)",
        "total": "the stage's objective",
    },
    "DIVIDE": {
        "inter": r"$L_{inter}$ (cross-view)",
        "intra": r"$L_{intra}$ (within view)",
        "total": r"$L_{inter} + L_{intra}$",
    },
    "SiMVC": {**_DDC, "total": r"$L$ = $\mathrm{DDC}_{1+2+3}$"},
    "CoMVC": {**_DDC, "contrast": r"$\delta\,\min_v w_v\,L_{con}$", "total": r"$L$"},
}

# The `stage` column's values → the stage's name, per method (unknown: "stage <n>").
STAGES: dict[str, dict[int, str]] = {
    "MFLVC": {1: "pre-training", 2: "contrastive", 3: "fine-tuning"},
    "CLIB": {1: "warm-up", 2: "calibration"},
    "DealMVC": {1: "pre-training", 2: "calibration", 3: "fine-tuning"},
    "DIVIDE": {1: "identity targets", 2: "random-walk targets"},
}


def term_name(method: str | None, term: str) -> str:
    """A loss term's paper name with its history column in brackets where they differ (the
    column alone for a term the method's paper does not name)."""
    paper = PAPER_TERMS.get(method or "", {}).get(term)
    return f"{paper} [{term}]" if paper else term


def view_names(
    record: dict[str, Any] | None, histories: pd.DataFrame, dataset: str | None = None
) -> list[str] | None:
    """The views' names in view order: the run record's `data.view_names`, else the history's
    fusion-weight columns (`w_<name>`, written in view order), else the dataset registry's;
    None when none of them says."""
    data = (record or {}).get("data")
    names = data.get("view_names") if isinstance(data, dict) else None
    if isinstance(names, list) and names and all(isinstance(n, str) for n in names):
        return names
    weights = [c.removeprefix("w_") for c in histories.columns if c.startswith("w_")]
    if weights:
        return weights
    if dataset:
        from mmcbench.data.registry import dataset_names, get_dataset

        if dataset in dataset_names():
            return [view.name for view in get_dataset(dataset).views]
    return None


def view_label(index: int, names: Sequence[str] | None) -> str:
    """View `index`'s name (`v<index>` when the names are unknown or too few)."""
    return names[index] if names and index < len(names) else f"v{index}"


def stage_spans(histories: pd.DataFrame) -> list[tuple[int, int, int]]:
    """(stage, first epoch, last epoch) of each stretch of the history's `stage` column, in
    epoch order; empty without the column or with one stage only."""
    if "stage" not in histories:
        return []
    per_epoch = histories.dropna(subset=["stage"]).groupby("epoch")["stage"].first().sort_index()
    spans: list[tuple[int, int, int]] = []
    for epoch, stage in per_epoch.items():
        if spans and spans[-1][0] == int(stage):
            spans[-1] = (spans[-1][0], spans[-1][1], int(epoch))
        else:
            spans.append((int(stage), int(epoch), int(epoch)))
    return spans if len(spans) > 1 else []


def stage_text(method: str | None, spans: Sequence[tuple[int, int, int]]) -> str:
    """ "stages (dotted lines): pre-training 1–8, contrastive 9–10, …" ("" without stages)."""
    if not spans:
        return ""
    names = STAGES.get(method or "", {})
    parts = [
        f"{names.get(stage, f'stage {stage}')} {first}–{last}"
        if last > first
        else f"{names.get(stage, f'stage {stage}')} {first}"
        for stage, first, last in spans
    ]
    return "stages (dotted lines at their ends): " + ", ".join(parts)


def mark_stages(ax, spans: Sequence[tuple[int, int, int]]) -> None:
    """A dotted vertical line at the last epoch of every stage but the last, where it falls
    within the epochs the panel's curves span (a term of one stage gets none). Call it after
    drawing the curves."""
    low, high = ax.dataLim.intervalx
    for _, _, last in spans[:-1]:
        if low <= last < high:
            ax.axvline(last, color="grey", linestyle=":", linewidth=1)
