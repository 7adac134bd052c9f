"""Per-method pieces of the shared training loop (`benchmark.train`): one module per method."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import pandas as pd
import torch
from torch import nn

EVAL_CHUNK = 4096  # samples per forward pass of an evaluation


def encoder_statistics(
    mu: list[torch.Tensor], logvar: list[torch.Tensor | None]
) -> dict[str, float]:
    """Mean σ of the variational encoders' units and mean |μ| over one step's samples and
    views (none without variational encoders): σ growing towards 1 while |μ| shrinks is the
    VIB term turning H back into noise."""
    if not logvar or logvar[0] is None:
        return {}
    with torch.no_grad():
        sigma = torch.stack([(0.5 * lv).exp().mean() for lv in logvar]).mean()
        mu_abs = torch.stack([m.abs().mean() for m in mu]).mean()
    return {"sigma_mean": float(sigma), "mu_abs_mean": float(mu_abs)}


@dataclass
class StepOutcome:
    terms: dict[str, torch.Tensor]  # loss terms of the step, "total" among them
    stats: dict[str, float] = field(default_factory=dict)  # averaged over the epoch's batches
    extra_seconds: float = 0.0  # time of a part reported on its own (GIB: ball generation)


class Trainer(Protocol):
    """What the training loop (`benchmark.train.train`) needs from a method."""

    model: nn.Module
    times_balls: bool  # StepOutcome.extra_seconds is granular-ball time (GIB)

    def before_epoch(self, epoch: int) -> None: ...

    def step(self, idx: torch.Tensor) -> StepOutcome: ...

    def after_epoch(self) -> dict[str, float]: ...

    def predict(self, views: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """Soft assignments and fused representation of every sample (eval mode)."""
        ...

    def params(self) -> dict[str, Any]: ...

    def diagnostics(self, history: pd.DataFrame) -> dict[str, Any]: ...
