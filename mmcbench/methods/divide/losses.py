"""DIVIDE's loss (spec/DIVIDE.md "Losses", "High-order random walk", "More than two views"): the
soft-target InfoNCE, the random-walk target matrix, and one step's objective over the views."""

from __future__ import annotations

import torch
import torch.nn.functional as F


@torch.no_grad()
def random_walk(z: torch.Tensor, sigma: float = 0.1, steps: int = 5, alpha: float = 0.5):
    """A = α I + (1 − α) T^t of one view's target embeddings `z` (B × d; no gradient):
    u = n(z); D_ij = max(0, 2 − 2 u_i·u_j); K = exp(−D/σ); T = diag(K 1)⁻¹ K; T^t by
    torch.linalg.matrix_power. Rows sum to 1."""
    u = F.normalize(z, dim=1)
    d = (2.0 - 2.0 * (u @ u.T)).clamp_min(0.0)
    k = torch.exp(-d / sigma)
    t = k / k.sum(dim=1, keepdim=True)
    walk = torch.linalg.matrix_power(t, steps)
    eye = torch.eye(z.shape[0], dtype=z.dtype, device=z.device)
    return alpha * eye + (1.0 - alpha) * walk


def soft_infonce(
    q: torch.Tensor,
    k: torch.Tensor,
    w: torch.Tensor | None,
    temperature: float,
    reduction: str = "mean_entries",
) -> torch.Tensor:
    """ℓ(Q, K, W): S = n(q) n(k)ᵀ / τ, log π = log_softmax over the B keys of each row (nothing
    masked); W̃ = W with rows normalised to sum 1 (None: I); Σ_ij W̃_ij (−log π_ij) divided by
    B² (`mean_entries`, the code) or B (`mean_rows`)."""
    b = q.shape[0]
    logits = F.normalize(q, dim=1) @ F.normalize(k, dim=1).T / temperature
    log_p = F.log_softmax(logits, dim=1)
    if w is None:
        total = -log_p.diagonal().sum()
    else:
        w = w / w.sum(dim=1, keepdim=True)
        total = -(w * log_p).sum()
    if reduction == "mean_entries":
        return total / (b * b)
    if reduction == "mean_rows":
        return total / b
    raise ValueError(f"loss_reduction must be 'mean_entries' or 'mean_rows', got {reduction!r}")


def fused_key(zbar: list[torch.Tensor], u: int) -> torch.Tensor:
    """z̃^{−u} = n(mean_{v≠u} n(z̄^v))."""
    others = [F.normalize(z, dim=1) for v, z in enumerate(zbar) if v != u]
    return F.normalize(torch.stack(others).mean(dim=0), dim=1)


def objective(
    z: list[torch.Tensor],
    zbar: list[torch.Tensor],
    cross,
    targets: list[torch.Tensor | None],
    view_pairs: str,
    temperature: float,
    reduction: str,
    walk=None,
) -> dict[str, torch.Tensor]:
    """One step's terms {total, inter, intra} (total = inter + intra), with z^v online
    embeddings (gradient), z̄^v target embeddings, `cross(u, v, z)` the decoder of u toward v,
    `targets[v]` = W^v of key view v (None: I), `walk(z)` the random walk (`fused` only; None:
    identity targets). `view_pairs` (first_two: the caller passes views 1 and 2 only):
    all_pairs_mean / first_two (1/(V(V−1))) Σ_{u≠v} ℓ(g_u(z^u), z̄^v, W^v) + (1/V) Σ_v
    ℓ(z^v, z̄^v, W^v); all_pairs_sum the sums; fused mean_u ℓ(g_u(z^u), z̃^{−u}, A(z̃^{−u}))
    + the mean intra term."""
    V = len(z)
    ell = [soft_infonce(z[v], zbar[v], targets[v], temperature, reduction) for v in range(V)]
    intra = torch.stack(ell)
    if view_pairs == "fused":
        inter_terms = []
        for u in range(V):
            key = fused_key(zbar, u)
            w = None if walk is None else walk(key)
            inter_terms.append(soft_infonce(cross(u, u, z[u]), key, w, temperature, reduction))
        inter = torch.stack(inter_terms).mean()
        intra_total = intra.mean()
    else:
        inter_terms = [
            soft_infonce(cross(u, v, z[u]), zbar[v], targets[v], temperature, reduction)
            for u in range(V)
            for v in range(V)
            if u != v
        ]
        stacked = torch.stack(inter_terms)
        if view_pairs == "all_pairs_sum":
            inter, intra_total = stacked.sum(), intra.sum()
        elif view_pairs in ("all_pairs_mean", "first_two"):
            inter, intra_total = stacked.mean(), intra.mean()
        else:
            raise ValueError(f"unknown view_pairs {view_pairs!r}")
    return {"total": inter + intra_total, "inter": inter, "intra": intra_total}
