"""CoMVC's network (spec/SiMVC-CoMVC.md "Architecture"): SiMVC's encoders, fusion and DDC head,
and the projector whose output the contrastive loss sees."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from mmcbench.methods.comvc.config import CoMVCConfig
from mmcbench.methods.simvc.model import SiMVC, SiMVCOutput


def build_projector(kind: str) -> nn.Module:
    """`none`: the identity (every shipped mvc config), so the contrastive loss sees the
    encoder outputs z^(v). A projector with weights would have to be built before
    `initialise` runs; none is offered."""
    if kind == "none":
        return nn.Identity()
    raise ValueError(f"projector must be 'none', got {kind!r}")


@dataclass
class CoMVCOutput(SiMVCOutput):
    projections: torch.Tensor  # the projector's output of the stacked z^(v), VB × 256


class CoMVC(SiMVC):
    """SiMVC and an identity projector of the stacked encoder outputs (view-major rows)."""

    def __init__(self, input_dims: Sequence[int], n_clusters: int, config: CoMVCConfig) -> None:
        super().__init__(input_dims, n_clusters, config)
        self.projector = build_projector(config.projector)

    def forward(self, views: Sequence[torch.Tensor]) -> CoMVCOutput:
        z, fused = self.encode(views)
        assignments, hidden = self.ddc(fused)
        projections = self.projector(torch.cat(z, dim=0))
        return CoMVCOutput(z, fused, assignments, hidden, projections)
