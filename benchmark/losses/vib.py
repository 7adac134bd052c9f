"""I(X; H) bound of the variational encoder (GIB Theorem 2, Eq. 23; Alemi et al.'s deep VIB).

KL(N(μ, σ²) ‖ N(0, I)), summed over the latent dimensions and averaged over the batch.
Spec's resolution: a standard normal prior (the paper's "q uniform" is not a density over x).
"""

from __future__ import annotations

import torch


def gaussian_kl(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """Mean over the batch of Σ_d ½(μ² + σ² − log σ² − 1)."""
    return 0.5 * (mu.pow(2) + logvar.exp() - logvar - 1.0).sum(dim=1).mean()
