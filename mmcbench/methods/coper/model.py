"""COPER's network (spec/COPER.md "Architecture"): per-view encoders (and decoders), the fixed
softmax-weighted fusion of the normalised embeddings, and the shared cluster head."""

from __future__ import annotations

import itertools

import torch
from torch import nn
from torch.nn.functional import normalize

from mmcbench.methods.coper.config import COPERConfig

INIT_STD = 0.01  # every Linear weight N(0, 0.01²), bias 0 (init "normal", the code)


def blocks(widths: list[int], bare_last: bool) -> nn.Sequential:
    """Linear → BatchNorm1d → ReLU through `widths`; the last Linear bare when `bare_last`."""
    layers: list[nn.Module] = []
    pairs = list(itertools.pairwise(widths))
    for i, (a, b) in enumerate(pairs):
        layers.append(nn.Linear(a, b))
        if not (bare_last and i == len(pairs) - 1):
            layers += [nn.BatchNorm1d(b), nn.ReLU()]
    return nn.Sequential(*layers)


class COPER(nn.Module):
    """Encoders E_v: d_v → w_1 → … → D (hidden blocks Linear → BN → ReLU, the last Linear
    bare), decoders D_v: D → w_L → … → w_1 (blocks) → d_v (bare) when `use_decoder`, fusion
    weights ω (V, initialised to 1/V) and the head G: Linear(D → H) → BN → ReLU → Linear(H → K).
    Built per view (encoder, decoder), then the head."""

    def __init__(self, input_dims: list[int], n_clusters: int, config: COPERConfig) -> None:
        super().__init__()
        self.config = config
        widths = list(config.encoder_widths)
        hidden, d = widths[:-1], widths[-1]
        self.encoders = nn.ModuleList(blocks([dv, *widths], bare_last=True) for dv in input_dims)
        self.decoders = (
            nn.ModuleList(
                nn.Sequential(
                    *blocks([d, *reversed(hidden)], bare_last=False),
                    nn.Linear(hidden[0] if hidden else d, dv),
                )
                for dv in input_dims
            )
            if config.use_decoder
            else None
        )
        v = len(input_dims)
        self.omega = nn.Parameter(torch.full((v,), 1.0 / v))
        self.head = nn.Sequential(
            nn.Linear(d, config.head_hidden),
            nn.BatchNorm1d(config.head_hidden),
            nn.ReLU(),
            nn.Linear(config.head_hidden, n_clusters),
        )
        for module in self.modules():
            if isinstance(module, nn.Linear):
                if config.init == "normal":
                    nn.init.normal_(module.weight, 0.0, INIT_STD)
                    nn.init.zeros_(module.bias)
                elif config.init == "he":
                    nn.init.kaiming_normal_(module.weight)

    @property
    def n_views(self) -> int:
        return len(self.encoders)

    def embed(self, h: torch.Tensor) -> torch.Tensor:
        """n(h): unit rows under `normalize_embeddings` (else h)."""
        return normalize(h, dim=1) if self.config.normalize_embeddings else h

    def fuse(self, hs: list[torch.Tensor]) -> torch.Tensor:
        """z = Σ_v softmax(ω)_v n(h^v)."""
        weights = torch.softmax(self.omega, dim=0)
        return sum(w * self.embed(h) for w, h in zip(weights, hs, strict=True))

    def encode(self, views: list[torch.Tensor]) -> list[torch.Tensor]:
        """h^v = E_v(x^v) of every view."""
        return [enc(x) for enc, x in zip(self.encoders, views, strict=True)]

    def forward(self, views: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """(logits G(z), z) of the fused embedding."""
        z = self.fuse(self.encode(views))
        return self.head(z), z
