"""I(X; H) bound of the variational encoder (GIB Theorem 2, Eq. 23; Alemi et al.'s deep VIB).

KL(N(μ, σ²) ‖ N(0, I)) per sample and latent dimension, reduced by `kl_reduction`:
- `mean` (spec default, revised): mean over the latent dimensions and the batch, the
  element-wise mean reduction of the authors' group's public IB code;
- `sum`: summed over the latent dimensions, averaged over the batch (Alemi et al.; the first
  reading), latent_dim times larger.
Spec's resolution: a standard normal prior (the paper's "q uniform" is not a density over x).
"""

from __future__ import annotations

import torch


def gaussian_kl(mu: torch.Tensor, logvar: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    """KL of N(μ, exp(log σ²)) from N(0, I): ½(μ² + σ² − log σ² − 1), reduced (see module)."""
    elementwise = 0.5 * (mu.pow(2) + logvar.exp() - logvar - 1.0)
    if reduction == "sum":
        return elementwise.sum(dim=1).mean()
    if reduction == "mean":
        return elementwise.mean()
    raise ValueError(f"kl_reduction must be 'mean' or 'sum', got {reduction!r}")
