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
    return _reduce(0.5 * (mu.pow(2) + logvar.exp() - logvar - 1.0), reduction)


def _reduce(elementwise: torch.Tensor, reduction: str) -> torch.Tensor:
    """`sum` over the latent dimensions then the batch mean, or `mean` over both."""
    if reduction == "sum":
        return elementwise.sum(dim=1).mean()
    if reduction == "mean":
        return elementwise.mean()
    raise ValueError(f"kl_reduction must be 'mean' or 'sum', got {reduction!r}")


def sampled_kl(
    h: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor, reduction: str = "mean"
) -> torch.Tensor:
    """Monte-Carlo KL at the reparameterised draw h = μ + σ ε (GIB Eq. 23's E_θ, reading
    `compression: sampled`): log N(h; μ, σ²) − log N(h; 0, I) per sample and dimension, whose
    expectation over ε is `gaussian_kl`'s element; reduced as `gaussian_kl`. In eval mode h = μ
    (ε = 0), so the evaluated value is the estimate at the mean draw, not the expectation."""
    return _reduce(0.5 * (h.pow(2) - (h - mu).pow(2) * torch.exp(-logvar) - logvar), reduction)


def variational_kl(
    reading: str,
    h: list[torch.Tensor],
    mu: list[torch.Tensor],
    logvar: list[torch.Tensor | None],
    reduction: str,
    zero: torch.Tensor,
) -> torch.Tensor:
    """Σ over the variational views of the KL term under `reading` (`gaussian_kl`: analytic,
    `sampled`: at this step's draw); a view without σ (`variational: false`) adds nothing."""
    if reading == "gaussian_kl":
        parts = (
            gaussian_kl(m, lv, reduction)
            for m, lv in zip(mu, logvar, strict=True)
            if lv is not None
        )
    elif reading == "sampled":
        parts = (
            sampled_kl(hi, m, lv, reduction)
            for hi, m, lv in zip(h, mu, logvar, strict=True)
            if lv is not None
        )
    else:
        raise ValueError(f"not a KL reading of the compression term: {reading!r}")
    return sum(parts, zero)
