"""CLIB: Calibrated Information Bottleneck (spec/CLIB.md), its losses and its ablations.

L_total = L_IB + α L_Cal, with
- L_IB  = Σ_m I(X^m; H^m) − Σ_{i<j} I(H^i; H^j) − β Σ_m I(H^m; H^f)   (read literally);
  I(X^m; H^m) is read by `compression` (spec/GIB.md): the analytic VIB KL (default), its
  estimate at the draw (`sampled`), the balance of the calibration heads' assignments of H^m
  (`cluster_balance`, `view_assignments`) or nothing (`none`)
- L_Cal = L_caliH + L_re + L_cluH + L_con on entropy-screened pseudo-labels.
The first `warmup_epochs` train L_IB only; then the heads are initialised from k-means
(Hungarian-aligned across modalities, see `mmcbench.methods.clib.head_init`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import combinations

import torch
from torch import nn

from mmcbench.core.settings import COMPRESSION_READINGS
from mmcbench.losses import (
    cluster_balance,
    feature_distribution,
    mutual_information,
    variational_kl,
)
from mmcbench.methods.clib.config import CLIBConfig, CLIBTerms, variant_terms
from mmcbench.models.layers import (
    ClusteringHead,
    Encoding,
    FusedEncoders,
    running_stats_frozen,
)

Terms = CLIBTerms
CAL_TERMS = ("L_caliH", "L_re", "L_cluH", "L_con")


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

    def forward(
        self,
        views: list[torch.Tensor],
        heads: bool = True,
        noise: list[torch.Tensor] | None = None,
        encoded: Encoding | None = None,
    ) -> CLIBOutput:
        """Encoders (or `encoded`, their output for `views` when already known: an evaluation
        reuses `encode_all`'s rows), then the heads when `heads`."""
        h, mu, logvar, hf = self.encode(views, noise) if encoded is None else encoded
        if heads:
            p_cal, p_clu = self.head_outputs(h, hf)
        else:
            p_cal, p_clu = [], hf.new_zeros((hf.shape[0], self.n_clusters))
        return CLIBOutput(h=h, mu=mu, logvar=logvar, hf=hf, p_cal=p_cal, p_clu=p_clu)

    def head_outputs(
        self, h: list[torch.Tensor], hf: torch.Tensor
    ) -> tuple[list[torch.Tensor], torch.Tensor]:
        """The calibration heads' P^cal per modality and the cluster head's P^clu."""
        # Default: calibration heads see H^m.detach(), so L_caliH (and L_re, L_con through
        # p^cal) send no gradient to the encoders; ablation calihead-backprop lifts this.
        cal_in = [hm.detach() for hm in h] if self.config.detach_cali else h
        p_cal = [head(x)[0] for head, x in zip(self.cali_heads, cal_in, strict=True)]
        return p_cal, self.cluster_head(hf)[0]

    def view_assignments(self, h: list[torch.Tensor]) -> list[torch.Tensor]:
        """Per-modality soft assignments for `compression: cluster_balance`.

        CLIB has no per-view cluster assignment in L_IB; the nearest per-view soft assignment
        it computes is p^cal, so this is each calibration head on its H^m (same values as
        p^cal), in warm-up too. Its gradient reaches the encoder (the term stands for
        I(X^m; H^m), as the KL does, whatever `detach_cali`), not the heads: their parameters
        enter detached, so L_IB still trains no head, and their BatchNorm running statistics
        stay as they are. torch.func.functional_call, so that a pack's vmap can run it."""
        from torch.func import functional_call

        result = []
        for head, hm in zip(self.cali_heads, h, strict=True):
            state = {name: t.detach() for name, t in head.state_dict(keep_vars=True).items()}
            with running_stats_frozen(head):
                result.append(functional_call(head, state, (hm,))[0])
        return result


# ----------------------------------------------------------------------------- screening
def quality(p: torch.Tensor) -> torch.Tensor:
    """S(P) = 1 − H(P) / (2 H_max), H_max = log k: 1 for one-hot rows, 0.5 for uniform ones."""
    k = p.shape[-1]
    entropy = -(p * p.clamp_min(1e-30).log()).sum(dim=-1)
    return 1.0 - entropy / (2.0 * math.log(k))


def per_cluster_quota(batch_size: int, n_clusters: int, screen_frac: float) -> int:
    """K = ceil(screen_frac · B / k) samples per cluster per modality."""
    return math.ceil(screen_frac * batch_size / n_clusters)


def screen_mask(p: torch.Tensor, quota: int) -> torch.Tensor:
    """Q_{c,m} for one modality as a mask over (sample, cluster) pairs, same shape as `p`
    (B × k, or K × B × k for K runs of a pack): at most `quota` samples per cluster, those of
    highest S(P). Each sample belongs to the cluster of its argmax only, so it is picked at
    most once."""
    p = p.detach()
    runs = p if p.dim() == 3 else p.unsqueeze(0)
    k = runs.shape[2]
    score, cluster = quality(runs), runs.argmax(dim=2)
    # Per run: order by cluster, then by descending score; rank within each cluster's run.
    order = torch.argsort(score, dim=1, descending=True, stable=True)
    order = order.gather(1, torch.argsort(cluster.gather(1, order), dim=1, stable=True))
    sorted_clusters = cluster.gather(1, order)
    counts = nn.functional.one_hot(sorted_clusters, k).sum(dim=1)
    starts = torch.cumsum(counts, dim=1) - counts
    rank = torch.arange(order.shape[1], device=p.device) - starts.gather(1, sorted_clusters)
    keep = rank < quota
    mask = torch.zeros_like(runs, dtype=torch.bool)
    run_index = torch.arange(runs.shape[0], device=p.device).unsqueeze(1).expand_as(order)
    mask[run_index[keep], order[keep], sorted_clusters[keep]] = True
    return mask if p.dim() == 3 else mask[0]


def screen(p: torch.Tensor, quota: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Q_{c,m} for one modality (B × k): (sample indices, their cluster c)."""
    samples, clusters = screen_mask(p, quota).nonzero(as_tuple=True)
    return samples, clusters


@dataclass
class Screened:
    """The pseudo-label set S as masks over (sample, cluster) pairs: per modality Q_m, and
    their union (B × k each, or K × B × k for a pack)."""

    per_modality: list[torch.Tensor]
    union: torch.Tensor

    @property
    def samples(self) -> torch.Tensor:
        return self.union.nonzero(as_tuple=True)[0]

    @property
    def clusters(self) -> torch.Tensor:
        return self.union.nonzero(as_tuple=True)[1]


def screen_all(p_cal: list[torch.Tensor], quota: int) -> Screened:
    per_modality = [screen_mask(p, quota) for p in p_cal]
    union = torch.stack(per_modality).any(dim=0)
    return Screened(per_modality, union)


# ----------------------------------------------------------------------------- losses
def information_bottleneck(
    out: CLIBOutput,
    beta: float,
    eps: float,
    kl_reduction: str,
    feature_mi_input: str,
    assignments: list[torch.Tensor] | None = None,
    compression: str = "gaussian_kl",
) -> dict[str, torch.Tensor]:
    """L_IB and its parts; the MI terms are feature-level (D = latent_dim), on the rows that
    `feature_mi_input` makes of H (spec/GIB.md, Proposition 1). Σ_m I(X^m; H^m) (term `vib`
    under every reading) is read by `compression`: the analytic VIB KL of each variational
    modality (`gaussian_kl`), its estimate at this step's draw (`sampled`), the KL of each of
    the per-modality `assignments`' batch mean against the uniform distribution over k
    (`cluster_balance`, one draw of H^m per step), or no term (`none`: L_IB without it, and no
    `vib` in the history)."""
    zero = out.hf.new_zeros(())
    rows = [feature_distribution(hm, feature_mi_input) for hm in out.h]
    rows_f = feature_distribution(out.hf, feature_mi_input)
    kl: torch.Tensor | None
    if compression == "cluster_balance":
        if assignments is None:
            raise ValueError("compression 'cluster_balance' needs the per-modality assignments")
        kl = sum((cluster_balance(p) for p in assignments), zero)
    elif compression in ("gaussian_kl", "sampled"):
        kl = variational_kl(compression, out.h, out.mu, out.logvar, kl_reduction, zero)
    elif compression == "none":
        kl = None
    else:
        raise ValueError(f"compression must be one of {COMPRESSION_READINGS}, got {compression!r}")
    mi_hh = sum(
        (mutual_information(rows[i], rows[j], eps) for i, j in combinations(range(len(rows)), 2)),
        zero,
    )
    mi_hf = sum((mutual_information(r, rows_f, eps) for r in rows), zero)
    if kl is None:
        return {"mi_hh": mi_hh, "mi_hf": mi_hf, "L_IB": -mi_hh - beta * mi_hf}
    return {"vib": kl, "mi_hh": mi_hh, "mi_hf": mi_hf, "L_IB": kl - mi_hh - beta * mi_hf}


def calibration_terms(out: CLIBOutput, screened: Screened, terms: Terms) -> dict[str, torch.Tensor]:
    """The active terms of L_Cal (spec/CLIB.md "Losses")."""
    batch = out.p_clu.shape[0]
    result: dict[str, torch.Tensor] = {}
    if terms.caliH:
        nll = out.p_clu.new_zeros(())
        for p, mask in zip(out.p_cal, screened.per_modality, strict=True):
            nll = nll - (mask.to(p.dtype) * p.clamp_min(1e-30).log()).sum()
        result["L_caliH"] = nll / batch
    if terms.re:
        marginals = [p.mean(dim=0) for p in out.p_cal]
        result["L_re"] = sum((m * m.clamp_min(1e-30).log()).sum() for m in marginals) / len(
            marginals
        )
    if terms.cluH:
        union = screened.union.to(out.p_clu.dtype)
        picked = (union * out.p_clu.clamp_min(1e-30).log()).sum()
        result["L_cluH"] = -picked / union.sum()
    if terms.con:
        log_clu = out.p_clu.clamp_min(1e-30).log()
        result["L_con"] = sum(
            (p * (p.clamp_min(1e-30).log() - log_clu)).sum(dim=1).mean() for p in out.p_cal
        )
    return result


def screening_quota(model: CLIB, batch_size: int) -> int:
    return per_cluster_quota(batch_size, model.n_clusters, model.config.screen_frac)


@dataclass
class CLIBStep:
    terms: dict[str, torch.Tensor]
    screened: Screened | None


def clib_loss(
    model: CLIB,
    out: CLIBOutput,
    variant: str,
    warming_up: bool,
    screened: Screened | None = None,
    alpha: float | torch.Tensor | None = None,
    beta: float | torch.Tensor | None = None,
) -> CLIBStep:
    """All loss terms of one step: L_IB only while warming up, L_IB + α L_Cal after.

    `screened` is computed here unless given, α and β are the config's unless given (a pack
    screens its K runs at once and passes each run's own α and β)."""
    cfg = model.config
    alpha = cfg.alpha if alpha is None else alpha
    beta = cfg.beta if beta is None else beta
    assignments = model.view_assignments(out.h) if cfg.compression == "cluster_balance" else None
    terms = information_bottleneck(
        out,
        beta,
        cfg.mi_eps,
        cfg.kl_reduction,
        cfg.feature_mi_input,
        assignments,
        cfg.compression,
    )
    total = terms["L_IB"]
    if warming_up:
        screened = None
    else:
        if screened is None:
            screened = screen_all(out.p_cal, screening_quota(model, out.hf.shape[0]))
        cal = calibration_terms(out, screened, variant_terms(variant))
        terms.update(cal)
        terms["L_Cal"] = sum(cal.values(), out.hf.new_zeros(()))
        total = total + alpha * terms["L_Cal"]
    terms["total"] = total
    # The clustering terms alone (what the label-free rule reads, `protocols`): the total
    # without the compression term.
    terms["clustering"] = total - terms["vib"] if "vib" in terms else total
    return CLIBStep(terms=terms, screened=screened)
