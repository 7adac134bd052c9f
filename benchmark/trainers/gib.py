"""GIB's part of the training loop: its loss step, ball diagnostics and record fields."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd
import torch

from benchmark.data.load import MultiViewData
from benchmark.models.gib import FUSED, GIB, GIBConfig, gib_loss
from benchmark.models.granular import Balls
from benchmark.trainers import EVAL_CHUNK, StepOutcome, encoder_statistics


def ball_statistics(balls: Mapping[str, Balls]) -> dict[str, float]:
    """Number, mean size, single-sample share and purity of one step's balls, by name (v0, …,
    fused; a run without balls has none)."""
    out: dict[str, float] = {}
    for name, b in balls.items():
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
        self.config, self.variant, self.views, self.seed = config, variant, views, seed
        self.model = GIB([v.shape[1] for v in views], data.n_clusters, config).to(device)
        self.ball_rng = torch.Generator(device=device).manual_seed(seed)
        self.names = [f"v{i}" for i in range(len(views))] + [FUSED]

    def before_epoch(self, epoch: int) -> None:
        pass

    def step(self, idx: torch.Tensor) -> StepOutcome:
        out = self.model([v[idx] for v in self.views], self.variant, self.ball_rng)
        step = gib_loss(self.model, out, self.variant)
        stats = {**ball_statistics(out.balls), **encoder_statistics(out.mu, out.logvar)}
        return StepOutcome(step.terms, stats, out.ball_seconds)

    def after_epoch(self) -> dict[str, float]:
        return {}

    def predict(self, views: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        return self.model.predict(views, self.seed, EVAL_CHUNK)

    def params(self) -> dict[str, Any]:
        flat = dataclasses.asdict(self.config)
        balls = flat.pop("balls")
        flat.update({f"ball_{k}": v for k, v in balls.items()})
        flat["encoder_hidden"] = list(self.config.encoder_hidden)
        return flat

    def diagnostics(self, history: pd.DataFrame) -> dict[str, Any]:
        return {"balls": ball_summary(history, self.names)}
