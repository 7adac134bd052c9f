"""Cluster-balance reading of I(X^i; H^i) (GIB Theorem 2; config key `compression`).

Theorem 2 writes the compression term as a KL against a q "uniformly distributed to enforce
balanced cluster assignments" with Σ q = n/k. Read literally (`compression: cluster_balance`,
study only; the default `gaussian_kl` is `mmcbench.losses.vib`), the term of view i is

    KL(p̄^i ‖ u_k) = Σ_c p̄^i_c log(k p̄^i_c),   p̄^i = mean of view i's soft assignments

over the batch and over the reparameterised draws θ of H^i: 0 when the batch's mean assignment
is uniform over the k clusters, positive otherwise, at most log k (all in one cluster). One
training step draws H^i once, so "averaged over the draws" is that one draw; a caller with S
draws passes S × B × k rows. Plain tensor operations, so a pack can call it under torch.vmap.
"""

from __future__ import annotations

import torch

TINY = 1e-30  # floor of k·p̄ inside the log: a cluster no sample uses adds 0 · log(tiny) = 0


def cluster_balance(assignments: torch.Tensor) -> torch.Tensor:
    """KL(p̄ ‖ uniform over k) of soft assignments `assignments` (…, k, rows summing to 1):
    p̄ is their mean over every leading dimension (the draws and the batch)."""
    k = assignments.shape[-1]
    mean = assignments.reshape(-1, k).mean(dim=0)
    return (mean * (mean * k).clamp_min(TINY).log()).sum()
