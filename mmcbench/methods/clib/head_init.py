"""CLIB's head initialisation at the end of warm-up (spec/CLIB.md "Warm-up").

k-means on H^f and on every H^m (eval mode: H = μ); each modality's clusters are matched to
the fused clusters by the Hungarian algorithm on centroid distances, so that cluster c means
the same cluster in every head; then every head is fitted to its (aligned) k-means labels with
`head_init_steps` steps of cross-entropy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn


@dataclass
class KMeansFit:
    labels: np.ndarray
    centroids: np.ndarray


def kmeans_fit(features: np.ndarray, k: int, n_init: int, seed: int) -> KMeansFit:
    from sklearn.cluster import KMeans  # imported when the heads are initialised, not before

    km = KMeans(n_clusters=k, n_init=n_init, random_state=seed).fit(features)
    return KMeansFit(km.labels_.astype(np.int64), km.cluster_centers_)


def align(reference: KMeansFit, other: KMeansFit) -> KMeansFit:
    """`other` with its cluster ids renamed to the reference cluster whose centroid it matches."""
    from scipy.optimize import linear_sum_assignment
    from scipy.spatial.distance import cdist

    rows, cols = linear_sum_assignment(cdist(other.centroids, reference.centroids, "sqeuclidean"))
    rename = np.empty(len(rows), dtype=np.int64)
    rename[rows] = cols
    centroids = np.empty_like(other.centroids)
    centroids[cols] = other.centroids[rows]
    return KMeansFit(rename[other.labels], centroids)


def fit_head(
    head: nn.Module,
    features: torch.Tensor,
    targets: torch.Tensor,
    steps: int,
    lr: float,
    batch_size: int,
    generator: torch.Generator,
) -> float:
    """Cross-entropy steps of `head` (returning probabilities) on fixed features; returns the
    share of samples whose argmax equals the target afterwards (eval mode)."""
    optimiser = torch.optim.Adam(head.parameters(), lr=lr)
    head.train()
    n = features.shape[0]
    for _ in range(steps):
        idx = torch.randperm(n, generator=generator)[:batch_size].to(features.device)
        probs = head(features[idx])[0]
        loss = nn.functional.nll_loss(probs.clamp_min(1e-30).log(), targets[idx])
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
    head.eval()
    with torch.no_grad():
        agreement = (head(features)[0].argmax(dim=1) == targets).double().mean()
    head.train()
    return float(agreement)


def initialise_heads(model, views: list[torch.Tensor], seed: int) -> dict[str, float]:
    """k-means-initialise every head of a CLIB model; returns each head's agreement with its
    k-means labels (share of samples) for the run record."""
    cfg = model.config
    model.eval()
    with torch.no_grad():
        h, _, _, hf = model.encode(views)
    model.train()
    k = model.n_clusters
    fused = kmeans_fit(hf.double().cpu().numpy(), k, cfg.kmeans_n_init, seed)
    per_view = [
        align(fused, kmeans_fit(hm.double().cpu().numpy(), k, cfg.kmeans_n_init, seed)) for hm in h
    ]
    generator = torch.Generator().manual_seed(seed)
    device = hf.device
    fit = lambda head, x, labels: fit_head(  # noqa: E731
        head,
        x,
        torch.as_tensor(labels, device=device),
        cfg.head_init_steps,
        cfg.head_init_lr,
        cfg.batch_size,
        generator,
    )
    agreement = {"init_agree_cluster": fit(model.cluster_head, hf, fused.labels)}
    for m, (head, hm, km) in enumerate(zip(model.cali_heads, h, per_view, strict=True)):
        agreement[f"init_agree_v{m}"] = fit(head, hm, km.labels)
        # How often modality m's aligned k-means agrees with the fused k-means.
        agreement[f"init_kmeans_match_v{m}"] = float((km.labels == fused.labels).mean())
    return agreement
