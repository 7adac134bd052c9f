"""DDC clustering loss (Kampffmeyer et al. 2019, as in Trosten et al. 2021), GIB Eq. 7.

With A (B×k) soft assignments and Z (B×h) the clustering module's hidden activations:
K = exp(−D / 2σ²), D the squared distances of Z, σ² = rel_sigma · median(D) (detached);
DDC1 = d_cs(A, K); DDC2 = orthogonality of cluster columns (AᵀA, the paper's default) or of
samples (AAᵀ, Trosten's CoMVC); DDC3 = d_cs(M, K) with M_ab = exp(−‖A_a − e_b‖²).
"""

from __future__ import annotations

from typing import Literal

import torch

NUMERATOR_MIN = 1e-9
PRODUCT_MIN = 1e-18
SIGMA_MIN = 1e-9

Ddc2Mode = Literal["clusters", "samples"]


def squared_distances(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """‖a_i − b_j‖² without a square root (whose gradient is undefined at 0)."""
    a2 = a.pow(2).sum(dim=1, keepdim=True)
    b2 = b.pow(2).sum(dim=1, keepdim=True)
    return (a2 + b2.t() - 2 * a @ b.t()).clamp(min=0)


def gaussian_kernel(z: torch.Tensor, rel_sigma: float = 0.15) -> torch.Tensor:
    """K = exp(−D / (2σ²)), σ² = rel_sigma · median(D), detached and clamped ≥ 1e-9."""
    distances = squared_distances(z, z)
    sigma2 = (rel_sigma * distances.median()).detach().clamp(min=SIGMA_MIN)
    return torch.exp(-distances / (2 * sigma2))


def _upper_mean(matrix: torch.Tensor) -> torch.Tensor:
    """2/(m(m−1)) Σ_{i<j} matrix_ij for an m × m matrix."""
    m = matrix.shape[0]
    return 2.0 / (m * (m - 1)) * torch.triu(matrix, diagonal=1).sum()


def cauchy_schwarz_divergence(p: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """d_cs(P, K) = 2/(k(k−1)) Σ_{i<j} N_ij / sqrt(N_ii N_jj), N = Pᵀ K P."""
    n = p.t() @ kernel @ p
    diagonal = torch.diagonal(n)
    ratio = n.clamp(min=NUMERATOR_MIN) / torch.sqrt(
        (diagonal[:, None] * diagonal[None, :]).clamp(min=PRODUCT_MIN)
    )
    return _upper_mean(ratio)


def ddc_terms(
    assignments: torch.Tensor,
    hidden: torch.Tensor,
    rel_sigma: float = 0.15,
    ddc2: Ddc2Mode = "clusters",
) -> dict[str, torch.Tensor]:
    """The three DDC terms."""
    kernel = gaussian_kernel(hidden, rel_sigma)
    k = assignments.shape[1]
    if ddc2 == "clusters":
        ddc2_value = _upper_mean(assignments.t() @ assignments)
    elif ddc2 == "samples":
        ddc2_value = _upper_mean(assignments @ assignments.t())
    else:
        raise ValueError(f"ddc2 must be 'clusters' or 'samples', got {ddc2!r}")
    corners = torch.eye(k, device=assignments.device, dtype=assignments.dtype)
    m = torch.exp(-squared_distances(assignments, corners))
    return {
        "ddc1": cauchy_schwarz_divergence(assignments, kernel),
        "ddc2": ddc2_value,
        "ddc3": cauchy_schwarz_divergence(m, kernel),
    }


def ddc_loss(
    assignments: torch.Tensor,
    hidden: torch.Tensor,
    rel_sigma: float = 0.15,
    ddc2: Ddc2Mode = "clusters",
) -> torch.Tensor:
    """L_DDC = DDC1 + DDC2 + DDC3."""
    return sum(ddc_terms(assignments, hidden, rel_sigma, ddc2).values())
