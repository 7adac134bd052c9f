"""Building blocks shared by the deep methods (spec/GIB.md "Architecture"; SoftmaxFusion and
ClusteringHead are also SiMVC/CoMVC's)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence

import torch
from torch import nn

from mmcbench.core.settings import IBSettings, TrainingSettings

SIGMA_PARAMS = ("softplus_offset", "exp_logvar")
SIGMA_FLOOR = 1e-7  # σ = softplus(s − offset) + SIGMA_FLOOR (deep VIB's code)
INITS = ("torch_default", "he")

# `FusedEncoders.encode`'s output: per modality H, μ and log σ² (None without variational
# encoders), and the fused H
Encoding = tuple[list[torch.Tensor], list[torch.Tensor], list[torch.Tensor | None], torch.Tensor]


@contextlib.contextmanager
def running_stats_frozen(module: nn.Module) -> Iterator[None]:
    """BatchNorm layers inside use batch statistics but do not update their running ones.

    A head shared by several inputs (GIB's DDC module sees every H^i and H^s) would otherwise
    average the running statistics over all of them, while evaluation applies them to one.
    """
    norms = [m for m in module.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    saved = [m.track_running_stats for m in norms]
    try:
        for m in norms:
            m.track_running_stats = False
        yield
    finally:
        for m, value in zip(norms, saved, strict=True):
            m.track_running_stats = value


class VariationalEncoder(nn.Module):
    """MLP d → 512 → 512 → 2·256 (ReLU after each hidden layer), giving μ and log σ².

    In training H = μ + σ ⊙ ε (ε ~ N(0, I)); in eval H = μ. The second half s of the last
    layer gives σ by `sigma_param`: `softplus_offset` σ = softplus(s − sigma_offset) + 1e-7
    (deep VIB's code; σ ≈ 0.007 at initialisation), `exp_logvar` σ = exp(½ s), s = log σ²
    (the first reading; σ ≈ 1 at initialisation). With `variational=False` the last layer gives
    H directly and log σ² is None.
    """

    def __init__(
        self,
        input_dim: int,
        hidden: Sequence[int] = (512, 512),
        latent_dim: int = 256,
        variational: bool = True,
        sigma_param: str = "softplus_offset",
        sigma_offset: float = 5.0,
    ) -> None:
        super().__init__()
        if sigma_param not in SIGMA_PARAMS:
            raise ValueError(f"sigma_param must be one of {SIGMA_PARAMS}, got {sigma_param!r}")
        layers: list[nn.Module] = []
        width = input_dim
        for size in hidden:
            layers += [nn.Linear(width, size), nn.ReLU()]
            width = size
        self.body = nn.Sequential(*layers)
        self.variational = variational
        self.latent_dim = latent_dim
        self.sigma_param = sigma_param
        self.sigma_offset = sigma_offset
        self.head = nn.Linear(width, 2 * latent_dim if variational else latent_dim)

    def forward(
        self, x: torch.Tensor, noise: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """(H, μ, log σ²). `noise` is ε when given (a pack draws each run's ε from that run's
        generator), else ε is drawn from torch's global generator."""
        out = self.head(self.body(x))
        if not self.variational:
            return out, out, None
        mu, raw = out.split(self.latent_dim, dim=1)
        if self.sigma_param == "exp_logvar":
            logvar = raw
            sigma = torch.exp(0.5 * logvar)
        else:
            sigma = nn.functional.softplus(raw - self.sigma_offset) + SIGMA_FLOOR
            logvar = 2.0 * torch.log(sigma)
        if not self.training:
            return mu, mu, logvar
        epsilon = torch.randn_like(mu) if noise is None else noise
        return mu + sigma * epsilon, mu, logvar


class SoftmaxFusion(nn.Module):
    """H^s = Σ_i w_i H^i with w = softmax(ω), ω initialised to 0 (w_i = 1/m at start)."""

    def __init__(self, n_views: int) -> None:
        super().__init__()
        self.logits = nn.Parameter(torch.zeros(n_views))

    @property
    def weights(self) -> torch.Tensor:
        return torch.softmax(self.logits, dim=0)

    def forward(self, hs: Sequence[torch.Tensor]) -> torch.Tensor:
        return torch.einsum("v,vbd->bd", self.weights, torch.stack(list(hs)))


class ClusteringHead(nn.Module):
    """Linear(256 → 100) → ReLU → BatchNorm1d(100) → Linear(100 → k) → softmax.

    Returns the soft assignments and the hidden activations after BatchNorm (for the DDC
    kernel). GIB's DDC module; CLIB's calibration and cluster heads.
    """

    def __init__(self, input_dim: int, n_clusters: int, hidden: int = 100) -> None:
        super().__init__()
        self.hidden = nn.Sequential(nn.Linear(input_dim, hidden), nn.ReLU(), nn.BatchNorm1d(hidden))
        self.out = nn.Linear(hidden, n_clusters)

    def forward(self, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        z = self.hidden(h)
        return torch.softmax(self.out(z), dim=1), z


class FusedEncoders(nn.Module):
    """One variational encoder per modality and the softmax fusion: the trunk GIB and CLIB
    share. Subclasses add their heads after calling this constructor."""

    def __init__(
        self, input_dims: list[int], n_clusters: int, config: IBSettings | TrainingSettings
    ) -> None:
        super().__init__()
        self.config = config
        self.n_clusters = n_clusters
        self.encoders = nn.ModuleList(
            VariationalEncoder(
                d,
                config.encoder_hidden,
                config.latent_dim,
                config.variational,
                config.sigma_param,
                config.sigma_offset,
            )
            for d in input_dims
        )
        self.fusion = SoftmaxFusion(len(input_dims))

    def initialise(self) -> None:
        """`init: he`: He-normal weights of every linear layer, biases kept (DanielTrosten/mvc's
        `he_init_weights`, applied to the whole model); `torch_default`: nothing to do.
        Subclasses call this after adding their heads."""
        if self.config.init not in INITS:
            raise ValueError(f"init must be one of {INITS}, got {self.config.init!r}")
        if self.config.init == "he":
            for module in self.modules():
                if isinstance(module, nn.Linear):
                    nn.init.kaiming_normal_(module.weight)

    def encode(
        self, views: list[torch.Tensor], noise: list[torch.Tensor] | None = None
    ) -> Encoding:
        """(H^m, μ^m, log σ²^m per modality, the fused H); `noise`: ε per modality (training)."""
        noise = noise if noise is not None else [None] * len(views)
        encoded = [
            encoder(x, eps) for encoder, x, eps in zip(self.encoders, views, noise, strict=True)
        ]
        h = [e[0] for e in encoded]
        return h, [e[1] for e in encoded], [e[2] for e in encoded], self.fusion(h)

    @torch.no_grad()
    def encode_all(self, views: list[torch.Tensor], chunk: int = 4096) -> Encoding:
        """`encode` of every sample, in chunks of `chunk` samples (in eval mode H = μ, one
        tensor for both)."""
        n = views[0].shape[0]
        parts = [self.encode([v[i : i + chunk] for v in views]) for i in range(0, n, chunk)]

        def joined(part: int) -> list:
            return [
                None if parts[0][part][m] is None else torch.cat([p[part][m] for p in parts])
                for m in range(len(views))
            ]

        mu = joined(1)
        same = all(p[0][m] is p[1][m] for p in parts for m in range(len(views)))
        return mu if same else joined(0), mu, joined(2), torch.cat([p[3] for p in parts])
