"""CLIB's part of the training loop: warm-up, head initialisation, screening diagnostics."""

from __future__ import annotations

import dataclasses
from typing import Any

import pandas as pd
import torch

from benchmark.data.load import MultiViewData
from benchmark.metrics import accuracy
from benchmark.models.clib import CLIB, CLIBConfig, clib_loss
from benchmark.models.head_init import initialise_heads
from benchmark.trainers import EVAL_CHUNK, StepOutcome, encoder_statistics


class CLIBTrainer:
    """CLIB or one of its ablations (spec/CLIB.md, ablation table)."""

    times_balls = False

    def __init__(
        self,
        data: MultiViewData,
        views: list[torch.Tensor],
        variant: str,
        seed: int,
        config: CLIBConfig,
        device: torch.device,
    ) -> None:
        self.config = config.for_variant(variant)
        self.variant, self.views, self.seed = variant, views, seed
        self.model = CLIB([v.shape[1] for v in views], data.n_clusters, self.config).to(device)
        # Labels only score the screened pseudo-labels (a diagnostic); training never sees them.
        self.labels = data.labels
        self.warming_up = self.config.warmup_epochs > 0
        self.init_diagnostics: dict[str, float] = {}
        self._screened: list[tuple[torch.Tensor, torch.Tensor]] = []

    def before_epoch(self, epoch: int) -> None:
        """Initialise the heads from k-means right before the first epoch after warm-up."""
        if epoch == self.config.warmup_epochs + 1:
            self.init_diagnostics = initialise_heads(self.model, self.views, self.seed)
            self.init_diagnostics["init_epoch"] = epoch
            self.warming_up = False

    def step(self, idx: torch.Tensor) -> StepOutcome:
        out = self.model([v[idx] for v in self.views], heads=not self.warming_up)
        step = clib_loss(self.model, out, self.variant, self.warming_up)
        stats = encoder_statistics(out.mu, out.logvar)
        if step.screened is not None:
            size = step.screened.samples.numel()
            # (sample, cluster) pairs over the batch size: above 1 when modalities disagree.
            stats["screened_size"] = float(size)
            stats["screened_share"] = size / idx.numel()
            self._screened.append(
                (idx.cpu()[step.screened.samples.cpu()], step.screened.clusters.cpu())
            )
        return StepOutcome(step.terms, stats)

    def after_epoch(self) -> dict[str, float]:
        """ACC (Hungarian) of the epoch's screened pseudo-labels against the true labels."""
        if not self._screened:
            return {}
        samples = torch.cat([s for s, _ in self._screened]).numpy()
        clusters = torch.cat([c for _, c in self._screened]).numpy()
        self._screened = []
        return {"screened_acc": accuracy(self.labels[samples], clusters)}

    def predict(self, views: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        n = views[0].shape[0]
        outs = [self.model([v[i : i + EVAL_CHUNK] for v in views]) for i in range(0, n, EVAL_CHUNK)]
        return torch.cat([o.p_clu for o in outs]), torch.cat([o.hf for o in outs])

    def params(self) -> dict[str, Any]:
        flat = dataclasses.asdict(self.config)
        flat["encoder_hidden"] = list(self.config.encoder_hidden)
        return flat

    def diagnostics(self, history: pd.DataFrame) -> dict[str, Any]:
        trained = history[history["epoch"] > self.config.warmup_epochs]
        mean = lambda col: float(trained[col].mean()) if col in trained else None  # noqa: E731
        last = lambda col: (  # noqa: E731
            float(trained[col].iloc[-1]) if col in trained and len(trained) else None
        )
        return {
            "head_init": self.init_diagnostics,
            "screened_size_mean": mean("screened_size"),
            "screened_share_final": last("screened_share"),
            "screened_acc_final": last("screened_acc"),
            "screened_acc_mean": mean("screened_acc"),
            "warmup_epochs": self.config.warmup_epochs,
        }
