"""Which loss terms each ablation variant keeps (GIB Table 2, CLIB's ablation slide).

Torch-free, so that the workflow (which must not import torch) can read it too: the resolution
study uses it to know which keys cannot change a variant.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class GIBTerms:
    """GIB's loss terms besides L_DDC (always on)."""

    balls: bool  # L_Balls: feature-level MI of the granular balls
    samples: bool  # L_Samples: VIB KL and MI of the assignments


GIB_VARIANTS: dict[str, GIBTerms] = {
    "DDC": GIBTerms(balls=False, samples=False),
    "DDC+Balls": GIBTerms(balls=True, samples=False),
    "DDC+Samples": GIBTerms(balls=False, samples=True),
    "GIB": GIBTerms(balls=True, samples=True),
}


@dataclass(frozen=True)
class CLIBTerms:
    """Which parts of the full CLIB model a variant keeps (L_IB is always on)."""

    cluH: bool = True
    re: bool = True
    caliH: bool = True
    con: bool = True
    warmup: bool = True
    cali_backprop: bool = False


CLIB_VARIANTS: dict[str, CLIBTerms] = {
    "CLIB": CLIBTerms(),
    "IB+cluH": CLIBTerms(re=False, caliH=False, con=False),
    "IB+cluH+re": CLIBTerms(caliH=False, con=False),
    "IB+cluH+caliH": CLIBTerms(re=False, con=False),
    "IB+cluH+con": CLIBTerms(re=False, caliH=False),
    "no-warmup": CLIBTerms(warmup=False),
    "calihead-backprop": CLIBTerms(cali_backprop=True),
}


def inert_reason(method: str, variant: str, key: str) -> str | None:
    """Why `key` cannot change a run of `variant` (its loss term is off), or None.

    Only GIB's ablations switch off terms that a key acts on: the KL reduction acts on
    L_Samples' VIB term, the feature-level MI input on L_Balls. CLIB's L_IB (KL and feature MI)
    is on in every variant.
    """
    if method != "GIB" or variant not in GIB_VARIANTS:
        return None
    terms = GIB_VARIANTS[variant]
    if key == "kl_reduction" and not terms.samples:
        return f"{variant} has no L_Samples, whose VIB KL this key reduces"
    if key == "feature_mi_input" and not terms.balls:
        return f"{variant} has no L_Balls, whose feature-level MI this key feeds"
    return None
