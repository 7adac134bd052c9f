"""GIB's part of the training loop: its loss step, ball diagnostics and record fields."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import pandas as pd
import torch

from benchmark.data.load import MultiViewData
from benchmark.models.gib import GIB, GIBConfig, gib_loss
from benchmark.models.granular import Balls
from benchmark.trainers import StepOutcome


def ball_statistics(balls: Sequence[Balls], names: Sequence[str]) -> dict[str, float]:
    """Number, mean size, single-sample share and purity of one step's balls."""
    out: dict[str, float] = {}
    if not balls:  # variants without L_Balls generate none
        return out
    for name, b in zip(names, balls, strict=True):
        sizes = b.sizes.double()
        out[f"balls_{name}"] = float(b.n_balls)
        out[f"ball_size_{name}"] = float(sizes.mean())
        out[f"single_{name}"] = float((sizes == 1).double().mean())
        out[f"purity_{name}"] = float(b.purity.double().mean())
    return out


def ball_summary(table: pd.DataFrame, names: Sequence[str]) -> dict[str, dict[str, float]]:
    """Mean over trained epochs of the per-epoch ball diagnostics (empty without L_Balls)."""
    summary = {}
    rows = table[table["epoch"] > 0]
    for name in names:
        if f"balls_{name}" not in table:
            continue
        summary[name] = {
            "n_balls": float(rows[f"balls_{name}"].mean()),
            "mean_size": float(rows[f"ball_size_{name}"].mean()),
            "single_sample_share": float(rows[f"single_{name}"].mean()),
            "mean_purity": float(rows[f"purity_{name}"].mean()),
        }
    return summary


class GIBTrainer:
    """GIB or one of its ablations (DDC, DDC+Balls, DDC+Samples)."""

    method = "GIB"
    times_balls = True

    def __init__(
        self,
        data: MultiViewData,
        views: list[torch.Tensor],
        variant: str,
        seed: int,
        config: GIBConfig,
        device: torch.device,
    ) -> None:
        self.config, self.variant, self.views = config, variant, views
        self.model = GIB([v.shape[1] for v in views], data.n_clusters, config).to(device)
        self.ball_rng = torch.Generator(device=device).manual_seed(seed)
        self.names = [f"v{i}" for i in range(len(views))] + ["fused"]

    def before_epoch(self, epoch: int) -> None:
        pass

    def step(self, idx: torch.Tensor) -> StepOutcome:
        out = self.model([v[idx] for v in self.views])
        step = gib_loss(self.model, out, self.variant, self.ball_rng)
        return StepOutcome(step.terms, ball_statistics(step.balls, self.names), step.ball_seconds)

    def after_epoch(self) -> dict[str, float]:
        return {}

    def predict(self, views: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        out = self.model(views, per_view=False)
        return out.ys, out.hs

    def params(self) -> dict[str, Any]:
        flat = dataclasses.asdict(self.config)
        balls = flat.pop("balls")
        flat.update({f"ball_{k}": v for k, v in balls.items()})
        flat["encoder_hidden"] = list(self.config.encoder_hidden)
        return flat

    def diagnostics(self, history: pd.DataFrame) -> dict[str, Any]:
        return {"balls": ball_summary(history, self.names)}
