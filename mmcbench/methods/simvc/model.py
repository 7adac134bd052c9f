"""SiMVC's network (spec/SiMVC-CoMVC.md "Architecture"): one encoder per view, the fusion and
the DDC clustering head on the fused representation. No decoders."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from mmcbench.methods.simvc.config import SiMVCConfig
from mmcbench.models.layers import ClusteringHead, SoftmaxFusion

LATENT_DIM = 256  # width of every encoder's output z^(v), and of the fused z
MLP_HIDDEN = (512, 512)  # mvc_mlp: d → 512 → 512 → 256
DENSE5_HIDDEN = (1024, 1024, 1024, 1024)  # deepmvc_dense5: 4 × [Linear 1024 → BN → ReLU] → 256


def mvc_mlp(input_dim: int) -> nn.Sequential:
    """d → 512 → 512 → 256, each layer Linear (with bias) followed by ReLU, the last one
    included (z ≥ 0); no batch norm, no dropout (mvc's `MLP` backbone)."""
    layers: list[nn.Module] = []
    width = input_dim
    for size in (*MLP_HIDDEN, LATENT_DIM):
        layers += [nn.Linear(width, size), nn.ReLU()]
        width = size
    return nn.Sequential(*layers)


def deepmvc_dense5(input_dim: int) -> nn.Sequential:
    """4 × [Linear 1024 → BatchNorm1d → ReLU] → Linear 256, no final activation (DeepMVC's
    Caltech encoder)."""
    layers: list[nn.Module] = []
    width = input_dim
    for size in DENSE5_HIDDEN:
        layers += [nn.Linear(width, size), nn.BatchNorm1d(size), nn.ReLU()]
        width = size
    layers.append(nn.Linear(width, LATENT_DIM))
    return nn.Sequential(*layers)


ENCODERS = {"mvc_mlp": mvc_mlp, "deepmvc_dense5": deepmvc_dense5}


def build_encoder(kind: str, input_dim: int) -> nn.Sequential:
    """The encoder `kind` (config key `encoder`) of a view with `input_dim` features."""
    if kind not in ENCODERS:
        raise ValueError(f"encoder must be one of {list(ENCODERS)}, got {kind!r}")
    return ENCODERS[kind](input_dim)


class MeanFusion(nn.Module):
    """z = (1/V) Σ_v z^(v): fixed uniform weights, nothing trained (`fusion: mean`)."""

    def __init__(self, n_views: int) -> None:
        super().__init__()
        self.register_buffer("uniform", torch.full((n_views,), 1.0 / n_views), persistent=False)

    @property
    def weights(self) -> torch.Tensor:
        return self.uniform

    def forward(self, zs: Sequence[torch.Tensor]) -> torch.Tensor:
        return torch.stack(list(zs)).mean(dim=0)


def build_fusion(kind: str, n_views: int) -> nn.Module:
    """`weighted_mean`: SoftmaxFusion, w = softmax(ω) with ω = 0 at the start (identical to
    mvc's ω = 1/V under the softmax, in value and gradient); `mean`: MeanFusion."""
    if kind == "weighted_mean":
        return SoftmaxFusion(n_views)
    if kind == "mean":
        return MeanFusion(n_views)
    raise ValueError(f"fusion must be 'weighted_mean' or 'mean', got {kind!r}")


@dataclass
class SiMVCOutput:
    z: list[torch.Tensor]  # encoder outputs z^(v), B × 256 each
    fused: torch.Tensor  # z = Σ_v w_v z^(v)
    assignments: torch.Tensor  # A, B × k, rows α_i on the simplex
    hidden: torch.Tensor  # the DDC head's hidden layer after BN, B × n_hidden (the kernel's)


class SiMVC(nn.Module):
    """Encoders (`encoder`), fusion (`fusion`) and the DDC head (Linear → ReLU → BN(n_hidden)
    → Linear → softmax) on the fused z. `init: he` re-draws every Linear weight He-normal
    (fan_in, gain √2), the DDC head's included; biases and BN keep PyTorch's defaults."""

    def __init__(self, input_dims: Sequence[int], n_clusters: int, config: SiMVCConfig) -> None:
        super().__init__()
        self.config = config
        self.n_clusters = n_clusters
        self.encoders = nn.ModuleList(build_encoder(config.encoder, d) for d in input_dims)
        self.fusion = build_fusion(config.fusion, len(input_dims))
        self.ddc = ClusteringHead(LATENT_DIM, n_clusters, config.n_hidden)
        self.initialise()

    @property
    def n_views(self) -> int:
        return len(self.encoders)

    def initialise(self) -> None:
        if self.config.init == "he":
            for module in self.modules():
                if isinstance(module, nn.Linear):
                    nn.init.kaiming_normal_(module.weight)
        elif self.config.init != "torch_default":
            raise ValueError(f"init must be 'he' or 'torch_default', got {self.config.init!r}")

    def encode(self, views: Sequence[torch.Tensor]) -> tuple[list[torch.Tensor], torch.Tensor]:
        """(z^(v) of every view, the fused z)."""
        z = [encoder(x) for encoder, x in zip(self.encoders, views, strict=True)]
        return z, self.fusion(z)

    def forward(self, views: Sequence[torch.Tensor]) -> SiMVCOutput:
        z, fused = self.encode(views)
        assignments, hidden = self.ddc(fused)
        return SiMVCOutput(z, fused, assignments, hidden)

    @torch.no_grad()
    def fused_outputs(
        self, views: Sequence[torch.Tensor], chunk: int = 4096
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(A, hidden, z) of every sample in order, in chunks of `chunk` samples: the fused DDC
        output, the DDC head's hidden layer and the fused representation (eval mode is the
        caller's: BN uses running stats, so each row is that sample's alone)."""
        n = views[0].shape[0]
        probs, hidden, reps = [], [], []
        for i in range(0, n, chunk):
            _, fused = self.encode([v[i : i + chunk] for v in views])
            a, z = self.ddc(fused)
            probs.append(a)
            hidden.append(z)
            reps.append(fused)
        return torch.cat(probs), torch.cat(hidden), torch.cat(reps)
