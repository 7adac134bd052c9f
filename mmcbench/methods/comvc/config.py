"""CoMVC's settings and variants (torch-free): SiMVC's keys and the contrastive term's, every
resolved choice of spec/SiMVC-CoMVC.md with the spec's default (config keys `comvc.*`)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from mmcbench.core.settings import setting
from mmcbench.methods.simvc.config import MVCTerms, SiMVCConfig

ContrastiveSimilarity = Literal["cos", "gauss"]
Projector = Literal["none"]
NegSamplingEmpty = Literal["stop_run", "skip_term"]

VARIANTS: dict[str, MVCTerms] = {"CoMVC": MVCTerms(contrast=True)}

NT_XENT = -1  # negative_samples_ratio that turns sampling off (SimCLR NT-Xent, V = 2 only)


@dataclass(frozen=True)
class CoMVCConfig(SiMVCConfig):
    """SiMVC's keys (see `SiMVCConfig`, same defaults) and CoMVC's own (spec "CoMVC
    contrastive term"): L = DDC1 + DDC2 + DDC3 + delta · min_v w_v · L_con.

    - `delta` (0.1): δ, the contrastive term's weight (the global default; 20 is the CCV and
      COIL tuning).
    - `tau` (0.1): τ, the temperature: similarities s(p, q) / τ.
    - `negative_samples_ratio` (0.25): each of the V(V−1)B positive rows draws
      M = ⌊ratio · V · B⌋ negatives, uniformly with replacement among the VB stacked encoder
      outputs whose predicted cluster differs from the anchor's | −1: no sampling, SimCLR's
      NT-Xent (both directions summed, each averaged over B), for V = 2 only (the trainer
      refuses other V).
    - `contrastive_similarity` ("cos"): cosine similarity of the encoder outputs | "gauss":
      a Gaussian kernel of them over the VB stacked rows, σ² = rel_sigma · median of the
      squared distances (detached). Only with negative sampling: mvc's NT-Xent branch always
      uses cosine, so "gauss" with ratio −1 is refused.
    - `adaptive_contrastive_weight` (True): L_con is multiplied by min_v softmax(ω)_v,
      detached | False: by 1. Needs `fusion: weighted_mean` (it reads ω).
    - `projector` ("none"): the contrastive loss sees the encoder outputs z^(v) (every shipped
      config). The spec's alternative, "an MLP config", names no layers, so it is not offered.
    - `neg_sampling_empty` ("stop_run"): when every sample of a batch has the same predicted
      cluster no negative exists; mvc's multinomial draw then fails and its training loop
      ends the run, so the run stops (status `stopped`) | "skip_term": the contrastive term
      is 0 for that step (step statistic `contrast_skipped`).
    """

    delta: float = setting(
        0.1, "δ, the weight of the contrastive term (mvc's generic 0.1; CCV and COIL use 20)."
    )
    tau: float = setting(0.1, "τ of the cosine similarity (mvc 0.1).")
    negative_samples_ratio: float = setting(
        0.25,
        "Negatives per positive pair = ⌊ratio · V · B⌋, drawn with replacement from other "
        "predicted clusters (mvc 0.25) | -1 (SimCLR NT-Xent, two views only).",
    )
    contrastive_similarity: ContrastiveSimilarity = setting(
        "cos",
        "Similarity of the contrast: cos (mvc) | gauss (a Gaussian kernel with the DDC σ rule).",
    )
    adaptive_contrastive_weight: bool = setting(
        True, "Multiply the contrastive term by min_v softmax(ω)_v, detached (mvc true)."
    )
    projector: Projector = setting(
        "none", "Projector before the contrast: none (identity, every shipped mvc config)."
    )
    neg_sampling_empty: NegSamplingEmpty = setting(
        "stop_run",
        "When every sample of a batch is in one predicted cluster (no negatives exist): stop_run "
        "(mvc: the step raises, the run ends and is recorded as stopped with the reason) | "
        "skip_term (the contrastive term is 0 for that step).",
    )

    def check(self) -> None:
        super().check()
        if isinstance(self.tau, bool) or not (self.tau > 0 and math.isfinite(self.tau)):
            raise ValueError(f"tau = {self.tau!r}: a positive number")
        if isinstance(self.delta, bool) or not (self.delta >= 0 and math.isfinite(self.delta)):
            raise ValueError(f"delta = {self.delta!r}: a number, 0 or more")
        ratio = self.negative_samples_ratio
        if isinstance(ratio, bool) or not (
            ratio == NT_XENT or (ratio > 0 and math.isfinite(ratio))
        ):
            raise ValueError(
                f"negative_samples_ratio = {ratio!r}: a positive number, or -1 for NT-Xent "
                "without negative sampling"
            )
        if not isinstance(self.adaptive_contrastive_weight, bool):
            raise ValueError(
                f"adaptive_contrastive_weight = {self.adaptive_contrastive_weight!r}: true or false"
            )
        if self.adaptive_contrastive_weight and self.fusion != "weighted_mean":
            raise ValueError(
                f"fusion = {self.fusion!r} with adaptive_contrastive_weight = true: the adaptive "
                "weight min_v softmax(ω)_v reads the weighted-mean fusion's ω; use fusion: "
                "weighted_mean or adaptive_contrastive_weight: false"
            )
        if ratio == NT_XENT and self.contrastive_similarity != "cos":
            raise ValueError(
                f"contrastive_similarity = {self.contrastive_similarity!r} with "
                "negative_samples_ratio = -1: the NT-Xent branch (mvc's "
                "_loss_without_negative_sampling) always uses cosine similarity"
            )
