"""CLIB: Calibrated Information Bottleneck (spec/CLIB.md), its losses and its ablations.

L_total = L_IB + α L_Cal, with
- L_IB  = Σ_m I(X^m; H^m) − Σ_{i<j} I(H^i; H^j) − β Σ_m I(H^m; H^f)   (read literally)
- L_Cal = L_caliH + L_re + L_cluH + L_con on entropy-screened pseudo-labels.
The first `warmup_epochs` train L_IB only; then the heads are initialised from k-means
(Hungarian-aligned across modalities, see `benchmark.models.head_init`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import combinations

import torch
from torch import nn

from benchmark import catalogue
from benchmark.losses import feature_distribution, gaussian_kl, mutual_information
from benchmark.models.layers import ClusteringHead, FusedEncoders
from benchmark.models.settings import CLIBConfig
from benchmark.variants import CLIB_VARIANTS, CLIBTerms

Terms = CLIBTerms
VARIANTS = CLIB_VARIANTS
CAL_TERMS = ("L_caliH", "L_re", "L_cluH", "L_con")


def variant_terms(variant: str) -> Terms:
    return catalogue.variant_terms("CLIB", variant)


@dataclass
class CLIBOutput:
    h: list[torch.Tensor]  # per modality H^m (sampled in training, μ in eval)
    mu: list[torch.Tensor]
    logvar: list[torch.Tensor | None]
    hf: torch.Tensor  # fused H^f
    p_cal: list[torch.Tensor]  # per-modality calibration heads
    p_clu: torch.Tensor  # cluster head on H^f: the clustering and its confidence


class CLIB(FusedEncoders):
    """Variational encoders, self-weighted fusion, calibration heads and the cluster head."""

    def __init__(self, input_dims: list[int], n_clusters: int, config: CLIBConfig) -> None:
        super().__init__(input_dims, n_clusters, config)
        self.cali_heads = nn.ModuleList(
            ClusteringHead(config.latent_dim, n_clusters, config.head_hidden) for _ in input_dims
        )
        self.cluster_head = ClusteringHead(config.latent_dim, n_clusters, config.head_hidden)
        self.initialise()

    def forward(self, views: list[torch.Tensor], heads: bool = True) -> CLIBOutput:
        h, mu, logvar, hf = self.encode(views)
        p_cal: list[torch.Tensor] = []
        p_clu = hf.new_zeros((hf.shape[0], self.n_clusters))
        if heads:
            # Default: calibration heads see H^m.detach(), so L_caliH (and L_re, L_con through
            # p^cal) send no gradient to the encoders; ablation calihead-backprop lifts this.
            cal_in = [hm.detach() for hm in h] if self.config.detach_cali else h
            p_cal = [head(x)[0] for head, x in zip(self.cali_heads, cal_in, strict=True)]
            p_clu = self.cluster_head(hf)[0]
        return CLIBOutput(h=h, mu=mu, logvar=logvar, hf=hf, p_cal=p_cal, p_clu=p_clu)


# ----------------------------------------------------------------------------- screening
def quality(p: torch.Tensor) -> torch.Tensor:
    """S(P) = 1 − H(P) / (2 H_max), H_max = log k: 1 for one-hot rows, 0.5 for uniform ones."""
    k = p.shape[1]
    entropy = -(p * p.clamp_min(1e-30).log()).sum(dim=1)
    return 1.0 - entropy / (2.0 * math.log(k))


def per_cluster_quota(batch_size: int, n_clusters: int, screen_frac: float) -> int:
    """K = ceil(screen_frac · B / k) samples per cluster per modality."""
    return math.ceil(screen_frac * batch_size / n_clusters)


def screen(p: torch.Tensor, quota: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Q_{c,m} for one modality: (sample indices, their cluster c), at most `quota` per cluster.

    Each sample belongs to the cluster of its argmax only, so it is picked at most once.
    """
    score = quality(p.detach())
    cluster = p.detach().argmax(dim=1)
    # Order by cluster, then by descending score; rank within each cluster's run.
    order = torch.argsort(score, descending=True, stable=True)
    order = order[torch.argsort(cluster[order], stable=True)]
    sorted_clusters = cluster[order]
    counts = torch.bincount(sorted_clusters, minlength=p.shape[1])
    starts = torch.cumsum(counts, 0) - counts
    rank = torch.arange(order.numel(), device=p.device) - starts[sorted_clusters]
    keep = rank < quota
    return order[keep], sorted_clusters[keep]


@dataclass
class Screened:
    """The pseudo-label set S: per modality Q_m, and their union as (sample, cluster) pairs."""

    per_modality: list[tuple[torch.Tensor, torch.Tensor]]
    samples: torch.Tensor
    clusters: torch.Tensor


def screen_all(p_cal: list[torch.Tensor], quota: int) -> Screened:
    per_modality = [screen(p, quota) for p in p_cal]
    k = p_cal[0].shape[1]
    pairs = torch.cat([idx * k + c for idx, c in per_modality]).unique()
    return Screened(per_modality, pairs // k, pairs % k)


# ----------------------------------------------------------------------------- losses
def information_bottleneck(
    out: CLIBOutput, beta: float, eps: float, kl_reduction: str, feature_mi_input: str
) -> dict[str, torch.Tensor]:
    """L_IB and its parts; the MI terms are feature-level (D = latent_dim), on the rows that
    `feature_mi_input` makes of H (spec/GIB.md, Proposition 1)."""
    zero = out.hf.new_zeros(())
    rows = [feature_distribution(hm, feature_mi_input) for hm in out.h]
    rows_f = feature_distribution(out.hf, feature_mi_input)
    kl = sum(
        (
            gaussian_kl(m, lv, kl_reduction)
            for m, lv in zip(out.mu, out.logvar, strict=True)
            if lv is not None
        ),
        zero,
    )
    mi_hh = sum(
        (mutual_information(rows[i], rows[j], eps) for i, j in combinations(range(len(rows)), 2)),
        zero,
    )
    mi_hf = sum((mutual_information(r, rows_f, eps) for r in rows), zero)
    return {"vib": kl, "mi_hh": mi_hh, "mi_hf": mi_hf, "L_IB": kl - mi_hh - beta * mi_hf}


def calibration_terms(out: CLIBOutput, screened: Screened, terms: Terms) -> dict[str, torch.Tensor]:
    """The active terms of L_Cal (spec/CLIB.md "Losses")."""
    batch = out.p_clu.shape[0]
    result: dict[str, torch.Tensor] = {}
    if terms.caliH:
        nll = out.p_clu.new_zeros(())
        for p, (idx, c) in zip(out.p_cal, screened.per_modality, strict=True):
            nll = nll - p[idx, c].clamp_min(1e-30).log().sum()
        result["L_caliH"] = nll / batch
    if terms.re:
        marginals = [p.mean(dim=0) for p in out.p_cal]
        result["L_re"] = sum((m * m.clamp_min(1e-30).log()).sum() for m in marginals) / len(
            marginals
        )
    if terms.cluH:
        picked = out.p_clu[screened.samples, screened.clusters]
        result["L_cluH"] = -picked.clamp_min(1e-30).log().mean()
    if terms.con:
        log_clu = out.p_clu.clamp_min(1e-30).log()
        result["L_con"] = sum(
            (p * (p.clamp_min(1e-30).log() - log_clu)).sum(dim=1).mean() for p in out.p_cal
        )
    return result


@dataclass
class CLIBStep:
    terms: dict[str, torch.Tensor]
    screened: Screened | None


def clib_loss(model: CLIB, out: CLIBOutput, variant: str, warming_up: bool) -> CLIBStep:
    """All loss terms of one step: L_IB only while warming up, L_IB + α L_Cal after."""
    cfg = model.config
    terms = information_bottleneck(
        out, cfg.beta, cfg.mi_eps, cfg.kl_reduction, cfg.feature_mi_input
    )
    total = terms["L_IB"]
    screened = None
    if not warming_up:
        quota = per_cluster_quota(out.hf.shape[0], model.n_clusters, cfg.screen_frac)
        screened = screen_all(out.p_cal, quota)
        cal = calibration_terms(out, screened, variant_terms(variant))
        terms.update(cal)
        terms["L_Cal"] = sum(cal.values(), out.hf.new_zeros(()))
        total = total + cfg.alpha * terms["L_Cal"]
    terms["total"] = total
    return CLIBStep(terms=terms, screened=screened)
