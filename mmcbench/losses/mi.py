"""Mutual information between two batched distributions (GIB Proposition 1, Eq. 24–26).

For P, Q ∈ R^{B×D} with non-negative rows: J = Σ_n P_n Q_nᵀ, symmetrised and normalised by
its sum to a joint distribution (Eq. 25); I = Σ J (log J − log p − log q) with p, q its
marginals. Every probability (and the normaliser) is clamped to ≥ ε, in `_clamp` only.

Feature vectors (ball centres C, representations H; D = 256) enter through
`feature_distribution`, key `feature_mi_input`:
- `normalised` (spec default, revised): ReLU(H) rows as they are; Eq. 25's normalisation
  makes the joint a distribution over feature dimensions (the IIC-style estimator as the
  authors' group applies it to backbone features);
- `softmax`: softmax over the D features of each row (the first reading; for rows of small
  entries it is nearly uniform, so I ≈ 0).
"""

from __future__ import annotations

import torch

EPS = 1e-9
FEATURE_MI_INPUTS = ("normalised", "softmax")


def _clamp(probabilities: torch.Tensor, eps: float) -> torch.Tensor:
    return probabilities.clamp(min=eps)


def joint_distribution(p: torch.Tensor, q: torch.Tensor, eps: float = EPS) -> torch.Tensor:
    """Symmetrised, normalised J = Σ_n P_n Q_nᵀ (D × D)."""
    if p.shape != q.shape:
        raise ValueError(
            f"P and Q must have the same shape, got {tuple(p.shape)} and {tuple(q.shape)}"
        )
    return _symmetrised(p.t() @ q, eps)


def _symmetrised(joint: torch.Tensor, eps: float) -> torch.Tensor:
    """(J + Jᵀ) / 2, normalised by its sum (Eq. 25)."""
    joint = (joint + joint.t()) / 2
    return joint / _clamp(joint.sum(), eps)


def mutual_information(p: torch.Tensor, q: torch.Tensor, eps: float = EPS) -> torch.Tensor:
    """I(P; Q) in nats from two B × D matrices of non-negative rows."""
    return _information(joint_distribution(p, q, eps), eps)


def grouped_mutual_information(
    p_groups: torch.Tensor,
    p_of_row: torch.Tensor,
    q_groups: torch.Tensor,
    q_of_row: torch.Tensor,
    eps: float = EPS,
) -> torch.Tensor:
    """`mutual_information(P, Q)` of the B rows P_n = p_groups[p_of_row[n]] and
    Q_n = q_groups[q_of_row[n]] (e.g. each sample's ball centre), without forming them:
    Σ_n P_n Q_nᵀ = p_groupsᵀ N q_groups, N[a, b] the number of rows in group a of P and b of
    Q. The same sum in another order: equal up to float rounding, and cheaper when the groups
    are fewer than the rows."""
    if p_of_row.shape != q_of_row.shape:
        raise ValueError(
            f"P and Q must have the same rows, got {tuple(p_of_row.shape)} and "
            f"{tuple(q_of_row.shape)}"
        )
    n_q = q_groups.shape[0]
    counts = torch.bincount(p_of_row * n_q + q_of_row, minlength=p_groups.shape[0] * n_q)
    joint = p_groups.t() @ (counts.view(-1, n_q).to(q_groups.dtype) @ q_groups)
    return _information(_symmetrised(joint, eps), eps)


def _information(joint: torch.Tensor, eps: float) -> torch.Tensor:
    """I in nats of a normalised joint distribution (D × D)."""
    p_marginal = joint.sum(dim=1, keepdim=True)
    q_marginal = joint.sum(dim=0, keepdim=True)
    joint, p_marginal, q_marginal = (_clamp(t, eps) for t in (joint, p_marginal, q_marginal))
    return (joint * (joint.log() - p_marginal.log() - q_marginal.log())).sum()


def feature_distribution(h: torch.Tensor, mode: str) -> torch.Tensor:
    """Rows of feature vectors as the MI estimator takes them (see `feature_mi_input`)."""
    if mode == "normalised":
        return torch.relu(h)
    if mode == "softmax":
        return torch.softmax(h, dim=1)
    raise ValueError(f"feature_mi_input must be one of {FEATURE_MI_INPUTS}, got {mode!r}")
