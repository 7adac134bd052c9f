"""SiMVC's loss terms as plain functions of tensors (spec/SiMVC-CoMVC.md "Losses").

The DDC terms are `mmcbench.losses.ddc.ddc_terms`, which follows mvc's kernel rules: squared
distances (negatives set to 0), σ² = rel_sigma · torch.median over all B² entries (the zero
diagonal included; the lower middle value for an even count), detached and clamped ≥ 1e-9;
d_cs with N_ab clamped ≥ 1e-9 and N_aa N_bb (from the unclamped diagonal) ≥ 1e-18.
"""

from __future__ import annotations

import torch

from mmcbench.losses.ddc import Ddc2Mode, ddc_terms

DDC_TERMS = ("ddc1", "ddc2", "ddc3")


def simvc_terms(
    assignments: torch.Tensor,
    hidden: torch.Tensor,
    rel_sigma: float = 0.15,
    ddc2: Ddc2Mode = "samples",
) -> dict[str, torch.Tensor]:
    """ddc1 = d_cs(A, K), ddc2 (`samples`: 2/(B(B−1)) Σ_{i<j} (AAᵀ)_ij; `clusters`:
    2/(k(k−1)) Σ_{a<b} (AᵀA)_ab), ddc3 = d_cs(M, K) with M_ia = exp(−‖α_i − e_a‖²), K the
    Gaussian kernel of the DDC head's `hidden`; and total = their sum (all weights 1)."""
    terms = ddc_terms(assignments, hidden, rel_sigma, ddc2)
    terms["total"] = terms["ddc1"] + terms["ddc2"] + terms["ddc3"]
    return terms
