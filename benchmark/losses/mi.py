"""Mutual information between two batched distributions (GIB Proposition 1, Eq. 24–26).

For P, Q ∈ R^{B×D} with probability rows: J = Σ_n P_n Q_nᵀ, symmetrised and normalised to a
joint distribution; I = Σ J (log J − log p − log q) with p, q its marginals. Every probability
is clamped to ≥ ε before the logarithm, in `_clamp` only.
"""

from __future__ import annotations

import torch

EPS = 1e-9


def _clamp(probabilities: torch.Tensor, eps: float) -> torch.Tensor:
    return probabilities.clamp(min=eps)


def joint_distribution(p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """Symmetrised, normalised J = Σ_n P_n Q_nᵀ (D × D)."""
    if p.shape != q.shape:
        raise ValueError(
            f"P and Q must have the same shape, got {tuple(p.shape)} and {tuple(q.shape)}"
        )
    joint = p.t() @ q
    joint = (joint + joint.t()) / 2
    return joint / joint.sum()


def mutual_information(p: torch.Tensor, q: torch.Tensor, eps: float = EPS) -> torch.Tensor:
    """I(P; Q) in nats from two B × D matrices of probability rows."""
    joint = joint_distribution(p, q)
    p_marginal = joint.sum(dim=1, keepdim=True)
    q_marginal = joint.sum(dim=0, keepdim=True)
    joint, p_marginal, q_marginal = (_clamp(t, eps) for t in (joint, p_marginal, q_marginal))
    return (joint * (joint.log() - p_marginal.log() - q_marginal.log())).sum()
