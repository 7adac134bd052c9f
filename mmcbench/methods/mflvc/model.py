"""MFLVC's network (spec/MFLVC.md "Architecture"): one autoencoder per view, a feature head and
a label head shared by all views. No batch norm, no dropout: train and eval modes agree."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn.functional import normalize

from mmcbench.methods.mflvc.config import MFLVCConfig

ENCODER_HIDDEN = (500, 500, 2000)  # d_v → 500 → 500 → 2000 → L; the decoder mirrors it


def mlp(widths: list[int]) -> nn.Sequential:
    """Linear layers through `widths`, ReLU after every one but the last (linear output)."""
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(itertools.pairwise(widths)):
        layers.append(nn.Linear(a, b))
        if i < len(widths) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


@dataclass
class MFLVCOutput:
    """Per view: z^v (L), h^v (unit rows), the label head's logits and q^v = softmax, x̂^v.
    Parts a stage does not compute are None."""

    z: list[torch.Tensor]
    h: list[torch.Tensor] | None = None
    logits: list[torch.Tensor] | None = None
    q: list[torch.Tensor] | None = None
    xr: list[torch.Tensor] | None = None


class MFLVC(nn.Module):
    """Encoders E_v: d_v → 500 → 500 → 2000 → L and decoders D_v: L → 2000 → 500 → 500 → d_v
    (ReLU after the first three layers, linear output; no weights shared between views), the
    feature head h = normalize(W_H z + b_H) (L → high_feature_dim) and the label head
    q = softmax(W_Q z + b_Q) (L → k), both shared.

    Modules are built in the code's order (encoder and decoder of view 1, of view 2, …, then
    the feature head and the label head), so that a seeded torch RNG gives the code's weights.
    """

    def __init__(self, input_dims: list[int], n_clusters: int, config: MFLVCConfig) -> None:
        super().__init__()
        self.config = config
        self.n_clusters = n_clusters
        L = config.feature_dim
        encoders, decoders = [], []
        for d in input_dims:
            encoders.append(mlp([d, *ENCODER_HIDDEN, L]))
            decoders.append(mlp([L, *reversed(ENCODER_HIDDEN), d]))
        self.encoders = nn.ModuleList(encoders)
        self.decoders = nn.ModuleList(decoders)
        self.feature_head = nn.Linear(L, config.high_feature_dim)
        self.label_head = nn.Linear(L, n_clusters)
        if config.init == "he":  # He-normal weights, biases kept (the suite's alternative)
            for module in self.modules():
                if isinstance(module, nn.Linear):
                    nn.init.kaiming_normal_(module.weight)

    @property
    def n_views(self) -> int:
        return len(self.encoders)

    def encode(self, views: list[torch.Tensor]) -> list[torch.Tensor]:
        """z^v of every view."""
        return [enc(x) for enc, x in zip(self.encoders, views, strict=True)]

    def features(self, z: torch.Tensor) -> torch.Tensor:
        """h = normalize(W_H z + b_H): unit rows."""
        return normalize(self.feature_head(z), dim=1)

    def forward(
        self,
        views: list[torch.Tensor],
        *,
        features: bool = True,
        labels: bool = True,
        decode: bool = True,
        encoded: list[torch.Tensor] | None = None,
    ) -> MFLVCOutput:
        """z^v of every view, and the parts asked for: h^v (`features`), logits and q^v
        (`labels`), x̂^v (`decode`). `encoded`: z^v of `views` when it is already known (an
        evaluation reuses its `predict`'s rows)."""
        z = self.encode(views) if encoded is None else encoded
        out = MFLVCOutput(z=z)
        if features:
            out.h = [self.features(zv) for zv in z]
        if labels:
            out.logits = [self.label_head(zv) for zv in z]
            out.q = [torch.softmax(lv, dim=1) for lv in out.logits]
        if decode:
            out.xr = [dec(zv) for dec, zv in zip(self.decoders, z, strict=True)]
        return out
