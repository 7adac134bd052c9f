"""CoMVC's contrastive term as plain functions of tensors (spec/SiMVC-CoMVC.md "CoMVC
contrastive term"); the DDC terms are SiMVC's (`mmcbench.methods.simvc.losses`).

The V encoder outputs of a batch are stacked into one VB × d matrix, view-major: row
v·B + i is z_i^(v). Positives are every sample's pairs of views, in both orders; negatives
are drawn per positive row among the stacked rows of other predicted clusters.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from mmcbench.losses.ddc import gaussian_kernel

SIMILARITIES = ("cos", "gauss")


class NoNegatives(ValueError):
    """No stacked row lies in another predicted cluster than an anchor's (the whole batch is
    in one cluster), so no negative can be drawn."""


def positive_pairs(n_views: int, batch: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(anchor rows, positive rows) of the V(V−1)B positive pairs in the stacked matrix: for
    every ordered view pair (u, v), u ≠ v (u-major, then v), and every sample i, the anchor
    z_i^(u) (row u·B + i) and the positive z_i^(v) (row v·B + i)."""
    samples = torch.arange(batch)
    anchors, positives = [], []
    for u in range(n_views):
        for v in range(n_views):
            if u != v:
                anchors.append(u * batch + samples)
                positives.append(v * batch + samples)
    return torch.cat(anchors), torch.cat(positives)


def negative_count(ratio: float, n_views: int, batch: int) -> int:
    """M = ⌊ratio · V · B⌋ negatives per positive row (mvc: int(ratio · VB))."""
    return math.floor(ratio * n_views * batch)


def all_one_cluster(clusters: torch.Tensor) -> bool:
    """Whether every sample of the batch has the same predicted cluster (no negatives)."""
    return bool((clusters == clusters[0]).all())


def draw_negatives(
    clusters: torch.Tensor,
    n_views: int,
    anchors: torch.Tensor,
    count: int,
    generator: torch.Generator,
) -> torch.Tensor:
    """Indices (len(anchors) × count, CPU int64) of the negatives of each positive row.

    `clusters` (B) are the samples' predicted clusters; stacked row v·B + i carries c_i. For
    each anchor row, `count` rows are drawn uniformly with replacement among the VB stacked
    rows whose cluster differs from the anchor's (any view, the anchor's own included),
    independently per anchor row, from `generator` (a CPU generator). NoNegatives when an
    anchor has no such row (the whole batch is in one cluster)."""
    stacked = clusters.detach().cpu().repeat(n_views)
    anchors = anchors.cpu()
    eligible = stacked[anchors][:, None] != stacked[None, :]  # R × VB
    if not bool(eligible.any(dim=1).all()):
        raise NoNegatives("every sample of the batch is in one predicted cluster")
    if count == 0:
        return torch.empty((anchors.numel(), 0), dtype=torch.long)
    return torch.multinomial(eligible.double(), count, replacement=True, generator=generator)


def similarity_matrix(
    stacked: torch.Tensor, similarity: str = "cos", rel_sigma: float = 0.15
) -> torch.Tensor:
    """VB × VB similarities of the stacked rows: `cos` the cosine (rows L2-normalised as
    F.normalize does), `gauss` the Gaussian kernel exp(−D/(2σ²)) of the squared distances,
    σ² = rel_sigma · median(D) detached (the DDC kernel's rule, over all (VB)² entries)."""
    if similarity == "cos":
        unit = F.normalize(stacked, p=2, dim=1)
        return unit @ unit.t()
    if similarity == "gauss":
        return gaussian_kernel(stacked, rel_sigma)
    raise ValueError(f"contrastive_similarity must be one of {SIMILARITIES}, got {similarity!r}")


def sampled_contrastive_loss(
    stacked: torch.Tensor,
    anchors: torch.Tensor,
    positives: torch.Tensor,
    negatives: torch.Tensor,
    tau: float,
    similarity: str = "cos",
    rel_sigma: float = 0.15,
) -> torch.Tensor:
    """L_con with negative sampling (mvc's `_loss_with_negative_sampling`, before δ and the
    adaptive weight): with s = similarity / τ, the mean over the positive rows r of
    −log(e^{s(a_r, p_r)} / (e^{s(a_r, p_r)} + Σ_m e^{s(a_r, n_rm)})), a cross-entropy with the
    positive at index 0. `anchors`, `positives` (R) and `negatives` (R × M) index the rows of
    `stacked` (VB × d); pass them on `stacked`'s device."""
    logits = similarity_matrix(stacked, similarity, rel_sigma) / tau
    pos = logits[anchors, positives]
    neg = logits[anchors[:, None], negatives]
    inputs = torch.cat([pos[:, None], neg], dim=1)
    target = torch.zeros(inputs.shape[0], dtype=torch.long, device=inputs.device)
    return F.cross_entropy(inputs, target)


def nt_xent_two_views(z1: torch.Tensor, z2: torch.Tensor, tau: float) -> torch.Tensor:
    """SimCLR's NT-Xent (mvc's `_loss_without_negative_sampling`, before δ and the adaptive
    weight), for two views: loss_a + loss_b, the sum of both directions. With h = z / ‖z‖,
    loss_a = mean_i −log(e^{h1_i·h2_i/τ} / (Σ_j e^{h1_i·h2_j/τ} + Σ_{j≠i} e^{h1_i·h1_j/τ})):
    the B cross-view terms and the B − 1 same-view terms other than the anchor; loss_b the
    same with the views swapped."""
    h1 = F.normalize(z1, p=2, dim=1)
    h2 = F.normalize(z2, p=2, dim=1)
    b = h1.shape[0]
    self_mask = torch.eye(b, dtype=torch.bool, device=h1.device)
    labels = torch.arange(b, device=h1.device)
    aa = (h1 @ h1.t() / tau).masked_fill(self_mask, float("-inf"))
    bb = (h2 @ h2.t() / tau).masked_fill(self_mask, float("-inf"))
    ab = h1 @ h2.t() / tau
    loss_a = F.cross_entropy(torch.cat([ab, aa], dim=1), labels)
    loss_b = F.cross_entropy(torch.cat([ab.t(), bb], dim=1), labels)
    return loss_a + loss_b


def adaptive_weight(fusion_weights: torch.Tensor) -> torch.Tensor:
    """min_v w_v of the fusion weights w = softmax(ω), detached (no gradient reaches ω)."""
    return fusion_weights.detach().min()
