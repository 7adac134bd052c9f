"""Per-method pieces of the shared training loop (`benchmark.train`): one module per method."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import pandas as pd
import torch
from torch import nn


@dataclass
class StepOutcome:
    terms: dict[str, torch.Tensor]  # loss terms of the step, "total" among them
    stats: dict[str, float] = field(default_factory=dict)  # averaged over the epoch's batches
    extra_seconds: float = 0.0  # time of a part reported on its own (GIB: ball generation)


class Trainer(Protocol):
    """What `benchmark.train.fit` needs from a method."""

    method: str
    model: nn.Module
    times_balls: bool  # StepOutcome.extra_seconds is granular-ball time (GIB)

    def before_epoch(self, epoch: int) -> None: ...

    def step(self, idx: torch.Tensor) -> StepOutcome: ...

    def after_epoch(self) -> dict[str, float]: ...

    def predict(self, views: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]: ...

    def params(self) -> dict[str, Any]: ...

    def diagnostics(self, history: pd.DataFrame) -> dict[str, Any]: ...
