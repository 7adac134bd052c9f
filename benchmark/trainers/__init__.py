"""Per-method pieces of the shared training loop (`benchmark.train`): one module per method."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import pandas as pd
import torch
from torch import nn

EVAL_CHUNK = 4096  # samples per forward pass of an evaluation


def encoder_statistic_tensors(
    mu: list[torch.Tensor], logvar: list[torch.Tensor | None]
) -> dict[str, torch.Tensor]:
    """Mean σ of the variational encoders' units and mean |μ| over one step's samples and
    views, as tensors (none without variational encoders): σ growing towards 1 while |μ|
    shrinks is the VIB term turning H back into noise."""
    if not logvar or logvar[0] is None:
        return {}
    with torch.no_grad():
        sigma = torch.stack([(0.5 * lv).exp().mean() for lv in logvar]).mean()
        mu_abs = torch.stack([m.abs().mean() for m in mu]).mean()
    return {"sigma_mean": sigma, "mu_abs_mean": mu_abs}


def encoder_statistics(
    mu: list[torch.Tensor], logvar: list[torch.Tensor | None]
) -> dict[str, float]:
    """`encoder_statistic_tensors` as numbers."""
    return {k: float(v) for k, v in encoder_statistic_tensors(mu, logvar).items()}


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

    def pack_step(
        self,
        state: dict[str, torch.Tensor],
        views: list[torch.Tensor],
        noise: list[torch.Tensor],
        pack: list[Any],
        alpha: torch.Tensor,
        beta: torch.Tensor,
    ) -> PackStep:
        """One step of K runs (this trainer's and the pack's others), `benchmark.pack`."""
        ...

    def params(self) -> dict[str, Any]: ...

    def diagnostics(self, history: pd.DataFrame) -> dict[str, Any]: ...


@dataclass
class PackStep:
    """One step of K runs trained together (`benchmark.pack`): every value has K entries."""

    terms: dict[str, torch.Tensor]  # loss terms, "total" among them
    stats: dict[str, torch.Tensor]  # averaged over the epoch's batches
    extra_seconds: float = 0.0  # the pack's time in the part reported on its own
    screened: torch.Tensor | None = None  # CLIB: K × B × k mask of the screened pairs


class _Stage(nn.Module):
    """`fn(model, *args)` as a module's forward, so that functional_call can swap in state."""

    def __init__(self, model: nn.Module, fn) -> None:
        super().__init__()
        self.model = model
        self.fn = fn

    def forward(self, *args):
        return self.fn(self.model, *args)


def stacked_call(model: nn.Module, fn, state: dict[str, torch.Tensor], *args):
    """`fn(model, *args)` for K runs at once (torch.func.vmap over functional_call): `state`
    holds the runs' parameters and buffers stacked (torch.func.stack_module_state), every
    tensor in `args` has the runs first. BatchNorm updates each run's running statistics."""
    from torch.func import functional_call, vmap

    stage = _Stage(model, fn)
    prefixed = {f"model.{name}": value for name, value in state.items()}
    return vmap(lambda st, *a: functional_call(stage, st, a))(prefixed, *args)
