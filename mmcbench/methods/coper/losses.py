"""COPER's loss terms as plain functions of tensors (spec/COPER.md "Losses"): the CCA term,
its self-normalised weight, the pseudo-labels (vectorised), the agreement rule and the
within-cluster permuted batches."""

from __future__ import annotations

import numpy as np
import torch

CCA_R = 1e-3  # r, added to the covariances and to TᵀT (hard-coded in the code)
CCA_TOP = 10  # the canonical correlations summed (hard-coded; D ≥ 10)
EIG_FLOOR = 1e-8  # eigenvalues of Σ at or below it are dropped; those of TᵀT + rI clamped to it


def _inverse_sqrt(sigma: torch.Tensor) -> torch.Tensor:
    """Σ^{-1/2} by eigendecomposition, eigenvalues ≤ 1e-8 dropped (none, given r)."""
    values, vectors = torch.linalg.eigh(sigma)
    keep = values > EIG_FLOOR
    values, vectors = values[keep], vectors[:, keep]
    return (vectors * values.rsqrt()) @ vectors.T


def cca_correlation(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """corr(a, b) for two m × D batches: the sum of the square roots of the CCA_TOP largest
    eigenvalues of TᵀT + rI (clamped below at 1e-8), T = Σ_aa^{-1/2} Σ_ab Σ_bb^{-1/2}, the
    covariances of the centred columns over m − 1, Σ_aa and Σ_bb plus rI. The CCA term is
    C = −corr ≈ −Σ_{i≤10} √(ρ_i² + r). ValueError for batches of unequal length."""
    if a.shape[0] != b.shape[0]:
        raise ValueError(f"CCA of batches of unequal length {a.shape[0]} and {b.shape[0]}")
    m, d = a.shape
    eye = torch.eye(d, dtype=a.dtype, device=a.device)
    ac, bc = a - a.mean(dim=0), b - b.mean(dim=0)
    s_ab = ac.T @ bc / (m - 1)
    s_aa = ac.T @ ac / (m - 1) + CCA_R * eye
    s_bb = bc.T @ bc / (m - 1) + CCA_R * eye
    t = _inverse_sqrt(s_aa) @ s_ab @ _inverse_sqrt(s_bb)
    values = torch.linalg.eigvalsh(t.T @ t + CCA_R * eye).clamp(min=EIG_FLOOR)
    return values.topk(CCA_TOP).values.sqrt().sum()


def self_normalised(c: torch.Tensor, pairs: int) -> torch.Tensor:
    """C / (P · sg|C|): value −1/P for C < 0, gradient ∇C / (P |C|) = −∇log(corr) / P."""
    return c / (pairs * c.detach().abs())


def pseudo_labels(
    probs: torch.Tensor, hs: list[torch.Tensor], k: int, tau: float
) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """Per view (kept rows: B booleans, labels: B × K) from the head's soft assignments
    `probs` (B × K) and the views' raw embeddings `hs` (B × D each), without loops over rows:
    S_j = the k rows of largest probs[:, j] (shared by the views); per view c_j = the mean of
    h over S_j, s = cos(c_j, h_i) for every row, A_j = the k rows of largest s; if max s over
    A_j > τ the rows of A_j with s > τ claim j, else all of A_j do, with weight (1 + s)/2.
    A row claimed once gets that one-hot label, claimed several times w_i· / Σ_j w_ij;
    unclaimed rows are not kept (their label row is 0)."""
    b, n_clusters = probs.shape
    chosen = probs.topk(k, dim=0).indices  # k × K: S_j in column j
    kept, labels = [], []
    for h in hs:
        centroids = h[chosen].mean(dim=0)  # K × D
        s = (
            torch.nn.functional.normalize(h, dim=1)
            @ torch.nn.functional.normalize(centroids, dim=1).T
        )  # B × K cosines
        top, rows = s.topk(k, dim=0)  # A_j, sorted: top[0] is the largest
        over = top > tau
        claims = torch.where(over[0:1].expand_as(over), over, torch.ones_like(over))
        claimed = torch.zeros(b, n_clusters, dtype=torch.bool, device=h.device)
        claimed.scatter_(0, rows, claims)
        weights = torch.where(claimed, (1 + s) / 2, torch.zeros_like(s))
        count = claimed.sum(dim=1, keepdim=True)
        total = weights.sum(dim=1, keepdim=True)
        soft = torch.where(
            count == 1,
            claimed.to(s.dtype),
            weights / torch.where(total > 0, total, torch.ones_like(total)),
        )
        kept.append(count[:, 0] > 0)
        labels.append(torch.where(count > 0, soft, torch.zeros_like(soft)))
    return kept, labels


def agreement(kept: list[torch.Tensor], labels: list[torch.Tensor]) -> list[torch.Tensor]:
    """The kept rows after the agreement rule: for every row kept in all views (before any
    drop) and every view u ≥ 2, argmax label_u ≠ argmax label_1 drops the row from views u
    and 1. View 1 is the only reference; rows kept in some views only are not checked."""
    everywhere = torch.stack(kept).all(dim=0)
    first = labels[0].argmax(dim=1)
    out = [kept[0].clone()]
    dropped_first = torch.zeros_like(kept[0])
    for u in range(1, len(kept)):
        disagree = everywhere & (labels[u].argmax(dim=1) != first)
        out.append(kept[u] & ~disagree)
        dropped_first |= disagree
    out[0] = out[0] & ~dropped_first
    return out


def permuted_batches(
    rows: list[np.ndarray], classes: list[np.ndarray], k: int, rng: np.random.Generator
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """The within-cluster permuted batches (spec loss 6): per view the batch rows X̃_v and
    their labels, from each view's kept `rows` and their hard labels `classes`. For each class
    c present in view 1 (ascending), skipped when a view has no class-c row: m_c =
    min(k, max_v n_v); a view with n_v < m_c is padded to m_c with rows drawn without
    replacement from ⌊(m_c − n_v)/n_v⌋ + 1 copies of its rows (a larger view is not cut);
    then each view appends two independent permutations of its (padded) class-c rows.
    Draws, per class then per view: the padding, the first permutation, the second."""
    views = len(rows)
    out_rows: list[list[np.ndarray]] = [[] for _ in range(views)]
    out_labels: list[list[np.ndarray]] = [[] for _ in range(views)]
    for c in np.unique(classes[0]):
        members = [r[cl == c] for r, cl in zip(rows, classes, strict=True)]
        counts = [len(m) for m in members]
        if min(counts) == 0:
            continue
        m_c = min(k, max(counts))
        for v, mine in enumerate(members):
            n_v = len(mine)
            if n_v < m_c:
                pool = np.tile(mine, (m_c - n_v) // n_v + 1)
                mine = np.concatenate([mine, rng.choice(pool, m_c - n_v, replace=False)])
            for _ in range(2):
                out_rows[v].append(rng.permutation(mine))
                out_labels[v].append(np.full(len(mine), c, dtype=np.int64))
    empty = np.zeros(0, dtype=np.int64)
    return (
        [np.concatenate(r) if r else empty for r in out_rows],
        [np.concatenate(lab) if lab else empty for lab in out_labels],
    )
