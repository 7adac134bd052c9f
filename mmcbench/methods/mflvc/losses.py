"""MFLVC's loss terms as plain functions of tensors (spec/MFLVC.md "Losses")."""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

COSINE_EPS = 1e-8  # nn.CosineSimilarity's default, as the code's label contrast uses it


def reconstruction(
    views: list[torch.Tensor], recons: list[torch.Tensor], reduction: str = "mean"
) -> torch.Tensor:
    """L_Z = Σ_v of the view's reconstruction error: `mean` nn.MSELoss (over the batch and the
    d_v features, the code), `sum_features` ‖x − x̂‖² per sample averaged over the batch (the
    paper; d_v times `mean`)."""
    if reduction not in ("mean", "sum_features"):
        raise ValueError(f"recon_reduction must be 'mean' or 'sum_features', got {reduction!r}")
    total = views[0].new_zeros(())
    for x, xr in zip(views, recons, strict=True):
        if reduction == "mean":
            total = total + F.mse_loss(xr, x)
        else:
            total = total + (x - xr).pow(2).sum(dim=1).mean()
    return total


def nt_xent(sim: torch.Tensor) -> torch.Tensor:
    """NT-Xent over the 2m rows of a 2m × 2m similarity matrix (already divided by τ) whose
    row a and row a ± m are positives: each row is an anchor, its negatives are the other
    2m − 2 rows, itself masked; the sum of −log(e^{S+} / (e^{S+} + Σ_neg e^{S_neg})) over the
    anchors divided by 2m (the code's CrossEntropyLoss(reduction="sum") / N)."""
    n2 = sim.shape[0]
    if n2 % 2 or sim.shape[1] != n2:
        raise ValueError(f"expected a square matrix of even size, got {tuple(sim.shape)}")
    m = n2 // 2
    self_mask = torch.eye(n2, dtype=torch.bool, device=sim.device)
    logits = sim.masked_fill(self_mask, float("-inf"))
    idx = torch.arange(n2, device=sim.device)
    positives = (idx + m) % n2
    return F.cross_entropy(logits, positives)


def feature_contrast(h_v: torch.Tensor, h_w: torch.Tensor, temperature: float) -> torch.Tensor:
    """ℓ_F(v, w): NT-Xent of the 2B stacked rows of h^v and h^w (unit rows, so H Hᵀ / τ_F is
    cosine / τ_F); the positive of a sample is the same sample in the other view."""
    h = torch.cat([h_v, h_w], dim=0)
    return nt_xent(h @ h.T / temperature)


def label_contrast(q_v: torch.Tensor, q_w: torch.Tensor, temperature: float) -> torch.Tensor:
    """ℓ_L(v, w) without the entropy terms: NT-Xent of the 2k cluster columns of q^v and q^w
    (vectors of B values) under cosine similarity (eps 1e-8) / τ_L; the positive of cluster j
    is cluster j of the other view."""
    cols = torch.cat([q_v.T, q_w.T], dim=0)
    sim = F.cosine_similarity(cols.unsqueeze(1), cols.unsqueeze(0), dim=2, eps=COSINE_EPS)
    return nt_xent(sim / temperature)


def cluster_sizes(q: torch.Tensor) -> torch.Tensor:
    """s_j = Σ_i q_ij / Σ_ij q_ij."""
    s = q.sum(dim=0)
    return s / s.sum()


def entropy_gap(q: torch.Tensor) -> torch.Tensor:
    """E = log k + Σ_j s_j log s_j = log k − H(s) ≥ 0 (the code's `ne_i`)."""
    s = cluster_sizes(q)
    return math.log(q.shape[1]) + torch.xlogy(s, s).sum()


def entropy_term(qs: list[torch.Tensor], per_pair: bool = True) -> torch.Tensor:
    """The entropy part of the label loss: `per_pair` Σ_{v<w} [E(v) + E(w)] (the code, each
    view's E counted V − 1 times), else Σ_v Σ_j s^v_j log s^v_j once per view (the paper)."""
    if per_pair:
        gaps = [entropy_gap(q) for q in qs]
        total = qs[0].new_zeros(())
        for v in range(len(qs)):
            for w in range(v + 1, len(qs)):
                total = total + gaps[v] + gaps[w]
        return total
    return sum((torch.xlogy(s, s).sum() for s in map(cluster_sizes, qs)), qs[0].new_zeros(()))


def contrastive_terms(
    hs: list[torch.Tensor],
    qs: list[torch.Tensor],
    temperature_f: float,
    temperature_l: float,
    entropy_per_pair: bool = True,
) -> dict[str, torch.Tensor]:
    """Stage 2's contrastive parts: feature = Σ_{v<w} ℓ_F(v, w), label = Σ_{v<w} ℓ_L(v, w),
    entropy = `entropy_term`."""
    feature = hs[0].new_zeros(())
    label = hs[0].new_zeros(())
    for v in range(len(hs)):
        for w in range(v + 1, len(hs)):
            feature = feature + feature_contrast(hs[v], hs[w], temperature_f)
            label = label + label_contrast(qs[v], qs[w], temperature_l)
    return {"feature": feature, "label": label, "entropy": entropy_term(qs, entropy_per_pair)}


def match_pseudo_labels(pseudo: torch.Tensor, predicted: torch.Tensor, k: int) -> torch.Tensor:
    """P̂: the pseudo-labels `pseudo` relabelled into the cluster indices of `predicted`
    (argmax q), by the Hungarian algorithm on the contingency matrix w[ŷ, p], minimising
    max(w) − w as the code's `match` does. Returns a tensor on `pseudo`'s device."""
    from scipy.optimize import linear_sum_assignment

    p = pseudo.detach().cpu().numpy().astype(np.int64)
    y = predicted.detach().cpu().numpy().astype(np.int64)
    w = np.zeros((k, k), dtype=np.int64)
    np.add.at(w, (y, p), 1)
    rows, cols = linear_sum_assignment(w.max() - w)
    rename = np.empty(k, dtype=np.int64)
    rename[cols] = rows
    return torch.from_numpy(rename[p]).to(pseudo.device)


def pseudo_label_ce(
    logits: torch.Tensor, targets: torch.Tensor, mode: str = "probs_as_logits"
) -> torch.Tensor:
    """CE(Q, P̂) of one view, averaged over the samples. `probs_as_logits`: torch
    cross_entropy with q = softmax(logits) in the place of logits, −q_{i,p} + log Σ_j e^{q_ij}
    (the code); `log_probs`: −log q_{i,p} (the paper), computed as log_softmax(logits)."""
    if mode == "probs_as_logits":
        return F.cross_entropy(torch.softmax(logits, dim=1), targets)
    if mode == "log_probs":
        return F.nll_loss(F.log_softmax(logits, dim=1), targets)
    raise ValueError(f"finetune_ce must be 'probs_as_logits' or 'log_probs', got {mode!r}")
