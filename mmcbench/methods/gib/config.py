"""GIB's settings and variants (torch-free): every resolved choice of spec/GIB.md, with the
spec's default (config keys `gib.*`), and the loss terms each ablation of Table 2 keeps."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from mmcbench.core.settings import (
    BallSettings,
    Epochs,
    IBSettings,
    TrainingSettings,
    setting,
    variant_entry,
)


@dataclass(frozen=True)
class GIBTerms:
    """GIB's loss terms besides L_DDC (always on)."""

    balls: bool  # L_Balls: feature-level MI of the granular balls
    samples: bool  # L_Samples: VIB KL and MI of the assignments


VARIANTS: dict[str, GIBTerms] = {
    "DDC": GIBTerms(balls=False, samples=False),
    "DDC+Balls": GIBTerms(balls=True, samples=False),
    "DDC+Samples": GIBTerms(balls=False, samples=True),
    "GIB": GIBTerms(balls=True, samples=True),
}


@dataclass(frozen=True)
class GIBConfig(IBSettings, Epochs, TrainingSettings):
    """Every resolved choice of spec/GIB.md, with the spec's default. Left to the code by the
    paper, so the authors' code lineage (DanielTrosten/mvc) gives the default: `init` (He
    normal) and `grad_clip` (gradient norm 5)."""

    ddc_input: Literal["balls", "samples"] = setting(
        "balls",
        "What the DDC module clusters in training. balls (spec default, revised: the paper's "
        "text) - each sample's ball centre, Y^i = DDC(C^i), Y^s = DDC(C^s), balls generated in "
        "every variant; samples (the first reading) - Y^i = DDC(H^i), Y^s = DDC(H^s).",
    )
    eval_input: Literal["samples", "balls"] = setting(
        "samples",
        "What the evaluation clusters. samples (spec default) - argmax DDC(H^s) with H = μ; "
        "balls - one partition of the whole evaluated set's H^s into granular balls, each "
        "sample taking its ball centre's assignment.",
    )
    ddc2: Literal["clusters", "samples"] = setting(
        "clusters",
        "DDC2 orthogonality - clusters (the paper's AᵀA, spec default) or samples (Trosten's AAᵀ).",
    )
    rel_sigma: float = setting(
        0.15,
        "DDC kernel bandwidth, σ² = rel_sigma · median squared distance.",
        exclusiveMinimum=0,
    )
    balls: BallSettings = setting(help="Granular-ball generation (§2.4.1).", factory=BallSettings)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> GIBConfig:
        values = dict(values)
        balls = values.pop("balls", {})
        balls = balls if isinstance(balls, BallSettings) else BallSettings(**balls)
        return super().from_dict({**values, "balls": balls})

    @classmethod
    def inert_reason(cls, variant: str, key: str) -> str | None:
        """Why study key `key` cannot change a run of `variant` (its loss term is off), or
        None: the KL reduction and the compression reading act on L_Samples' VIB term, the
        feature-level MI input on L_Balls."""
        terms = VARIANTS.get(variant)
        if terms is None:
            return None
        if key == "kl_reduction" and not terms.samples:
            return f"{variant} has no L_Samples, whose VIB KL this key reduces"
        if key == "compression" and not terms.samples:
            return f"{variant} has no L_Samples, whose I(X; H) term this key reads"
        if key == "feature_mi_input" and not terms.balls:
            return f"{variant} has no L_Balls, whose feature-level MI this key feeds"
        return None


def variant_terms(variant: str) -> GIBTerms:
    """The terms `variant` keeps; ValueError naming the known variants otherwise."""
    return variant_entry("GIB", variant, VARIANTS)
