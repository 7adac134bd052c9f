"""DealMVC's stage-2 loss terms as plain functions of tensors (spec/DealMVC.md "Stage-2
losses", items 1–7). The reconstruction loss and the fine-tuning loss are MFLVC's
(`mmcbench.methods.mflvc.losses`)."""

from __future__ import annotations

import itertools

import torch
import torch.nn.functional as F

LOG_EPS = 1e-7  # the code's ε inside log(S + ε)


def view_pairs(n_views: int) -> list[tuple[int, int]]:
    """(v, w), v < w, in lexicographic order (0,1), (0,2), …, (V−2, V−1)."""
    return list(itertools.combinations(range(n_views), 2))


def similarity_graph(f: torch.Tensor, g: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
    """S(f, g)_ij = exp(f_i·g_j / T) / Σ_l exp(f_i·g_l / T): a row softmax of raw inner
    products (item 1; T = `sim_temperature`, 1 in the code)."""
    return torch.softmax(f @ g.T / temperature, dim=1)


def label_graph(
    a: torch.Tensor, b: torch.Tensor, threshold: float, detach: bool = False
) -> tuple[torch.Tensor, torch.Tensor]:
    """(G, share) of assignments a, b ∈ R^{B×k} (item 2): M = a bᵀ with M_ii = 1, every entry
    below `threshold` zeroed by a hard mask (no gradient), rows normalised, G_ij = M_ij / Σ_l
    M_il. Gradients reach a and b through the kept off-diagonal entries and the normaliser
    (`detach`: none, a stop-gradient on G). share: the fraction of off-diagonal products
    ≥ threshold (a statistic, no gradient)."""
    if detach:
        a, b = a.detach(), b.detach()
    m = a @ b.T
    eye = torch.eye(m.shape[0], dtype=torch.bool, device=m.device)
    with torch.no_grad():
        kept = m >= threshold
        off = ~eye
        share = (kept & off).sum().to(m.dtype) / off.sum().clamp(min=1).to(m.dtype)
    m = torch.where(eye, torch.ones_like(m), m)
    m = m * (kept | eye).to(m.dtype)
    return m / m.sum(dim=1, keepdim=True), share


def calibration(s: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """C(S, G) = (1/B) Σ_i Σ_j −G_ij log(S_ij + 1e-7) (item 3)."""
    return -(g * torch.log(s + LOG_EPS)).sum(dim=1).mean()


def local_terms(
    h: list[torch.Tensor],
    q: list[torch.Tensor],
    threshold: float,
    temperature: float = 1.0,
    detach: bool = False,
    symmetric: bool = False,
) -> tuple[torch.Tensor, list[torch.Tensor], torch.Tensor]:
    """(Σ_{v<w} L_loc(v, w), the pairs' graphs G(q^v, q^w) in pair order, the mean share of
    kept off-diagonal products) (item 4). L_loc(v, w) = C(S(h^v, h^w), G(q^v, q^w)), anchors
    from view v; `symmetric`: the mean of that and the (w, v) term."""
    total = h[0].new_zeros(())
    graphs: list[torch.Tensor] = []
    shares: list[torch.Tensor] = []
    for v, w in view_pairs(len(h)):
        g, share = label_graph(q[v], q[w], threshold, detach)
        term = calibration(similarity_graph(h[v], h[w], temperature), g)
        if symmetric:
            g_back, _ = label_graph(q[w], q[v], threshold, detach)
            back = calibration(similarity_graph(h[w], h[v], temperature), g_back)
            term = (term + back) / 2
        total = total + term
        graphs.append(g)
        shares.append(share)
    return total, graphs, torch.stack(shares).mean()


def global_term(
    f: torch.Tensor,
    q_global: torch.Tensor,
    threshold: float,
    temperature: float = 1.0,
    detach: bool = False,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(L_glob, G^glob, share) (item 6): C(S(f, f), G(q^G, q^G)) of the fused feature f and
    q^G, the label head's assignment of the fused input."""
    g, share = label_graph(q_global, q_global, threshold, detach)
    return calibration(similarity_graph(f, f, temperature), g), g, share


def alignment(
    global_graph: torch.Tensor,
    local_graphs: list[torch.Tensor],
    n_views: int,
    pairs: str = "first_V",
) -> torch.Tensor:
    """L_al (item 7): Σ over the pairs' graphs of MSE(G^glob, G^loc_t) (mean over the B²
    entries, gradients into both). `first_V`: the first V pairs in lexicographic order (the
    code: V = 2 the one pair, V = 3 all three, V ≥ 4 only V of the V(V−1)/2) | `all`."""
    if pairs not in ("first_V", "all"):
        raise ValueError(f"align_pairs must be 'first_V' or 'all', got {pairs!r}")
    used = local_graphs[:n_views] if pairs == "first_V" else local_graphs
    total = global_graph.new_zeros(())
    for g in used:
        total = total + F.mse_loss(global_graph, g)
    return total
