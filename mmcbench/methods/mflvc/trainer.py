"""MFLVC's part of the training loop (spec/MFLVC.md "Training"): the three stages, the
pseudo-labels of the fine-tuning stage, and the fused prediction."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from mmcbench.methods.mflvc.config import MFLVCConfig
from mmcbench.methods.mflvc.losses import (
    contrastive_terms,
    match_pseudo_labels,
    pseudo_label_ce,
    reconstruction,
)
from mmcbench.methods.mflvc.model import MFLVC
from mmcbench.training.trainers import (
    EVAL_CHUNK,
    Predicted,
    ReusesEvalEncoding,
    StepOutcome,
    TrainingData,
)

if TYPE_CHECKING:
    import pandas as pd

SCORE_COLUMNS = ("ACC", "NMI", "ARI", "ECE", "clusters")


class MFLVCTrainer(ReusesEvalEncoding):
    """MFLVC (or its variant without fine-tuning) in three stages by epoch (`stage`):
    1 pre-training on L_Z, 2 contrastive learning (objective 4), 3 fine-tuning on L_P with
    pseudo-labels computed once at the first stage-3 epoch."""

    has_eval_step = True
    config: MFLVCConfig

    def __init__(
        self, data: TrainingData, variant: str, seed: int, config: MFLVCConfig, device: torch.device
    ) -> None:
        super().__init__(data, variant, seed, config, device)
        self.model = MFLVC(data.view_dims, data.n_clusters, self.config).to(device)
        self.epoch: int | None = None
        self.pseudo_labels: list[torch.Tensor] | None = None
        self.pseudo_diagnostics: dict[str, Any] = {}

    # ------------------------------------------------------------------ schedule
    def stage(self, epoch: int) -> int:
        """Stage of 1-based `epoch`: 1 pre-training, 2 contrastive, 3 fine-tuning."""
        return self.config.stage(epoch)

    def batch_size(self) -> int:
        """B of stages 1–2: min(batch_size, N) under `batch_size_cap: n_samples`."""
        if self.config.batch_size_cap == "n_samples":
            return min(self.config.batch_size, self.n_samples)
        return self.config.batch_size

    def batches(self, epoch: int, generator: torch.Generator) -> list[torch.Tensor]:
        """Stages 1–2 (and stage 3 under `finetune_batch: batch`): a permutation drawn from
        `generator`, cut into full batches of B, the remainder dropped (the code's
        drop_last; no batch at all when N < B). Stage 3 under `finetune_batch: full`: one batch
        of all N samples in fixed order, drawing nothing."""
        if self.stage(epoch) == 3 and self.config.finetune_batch == "full":
            return [torch.arange(self.n_samples)]
        perm = torch.randperm(self.n_samples, generator=generator)
        b = self.batch_size()
        n_full = self.n_samples // b
        return list(perm[: n_full * b].split(b)) if n_full else []

    def before_epoch(self, epoch: int) -> None:
        """Remember the epoch's stage; at the first stage-3 epoch compute the pseudo-labels."""
        self.stage(epoch)  # ValueError outside the schedule
        self.epoch = epoch
        if self.stage(epoch) == 3 and self.pseudo_labels is None:
            self.pseudo_labels = self.make_pseudo_labels()
            self.pseudo_diagnostics = {
                "epoch": epoch,
                # scored against the true labels by the loop (a diagnostic)
                "acc": [Predicted(p.cpu().numpy()) for p in self.pseudo_labels],
            }

    @torch.no_grad()
    def make_pseudo_labels(self) -> list[torch.Tensor]:
        """P^v: k-means (k clusters, `pseudo_label_n_init` restarts, sklearn defaults) on h^v of
        all N samples, min-max scaled per feature under `pseudo_label_scaling: minmax`. One
        NumPy RandomState seeded from the run's seed serves the views in turn (the code draws
        them unseeded from one global generator)."""
        from sklearn.cluster import KMeans
        from sklearn.preprocessing import MinMaxScaler

        h = self._all_features()
        rng = np.random.RandomState(self.seed % 2**32)
        labels = []
        for hv in h:
            x = hv.cpu().numpy()
            if self.config.pseudo_label_scaling == "minmax":
                x = MinMaxScaler().fit_transform(x)
            km = KMeans(
                n_clusters=self.n_clusters, n_init=self.config.pseudo_label_n_init, random_state=rng
            )
            labels.append(torch.from_numpy(km.fit_predict(x).astype(np.int64)))
        device = self.views[0].device
        return [p.to(device) for p in labels]

    def _all_features(self) -> list[torch.Tensor]:
        """h^v of all N samples, in chunks of EVAL_CHUNK (no batch norm or dropout, so the same
        values as the code's single batch, up to rounding)."""
        parts: list[list[torch.Tensor]] = [[] for _ in self.views]
        for i in range(0, self.n_samples, EVAL_CHUNK):
            out = self.model(
                [v[i : i + EVAL_CHUNK] for v in self.views], labels=False, decode=False
            )
            for v, hv in enumerate(out.h):
                parts[v].append(hv)
        return [torch.cat(p) for p in parts]

    # ------------------------------------------------------------------ steps
    def step(self, idx: torch.Tensor) -> StepOutcome:
        self.end_evaluation()
        return self._stage_step(idx)

    def eval_step(self, idx: torch.Tensor) -> StepOutcome:
        """The current stage's loss terms in eval mode (its step draws nothing and keeps no
        state; the model has no batch norm or dropout). z^v comes from the evaluation's
        `predict` when it ran on this model (`ReusesEvalEncoding`), else from a pass."""
        return StepOutcome(self._stage_step(idx, self.eval_encoding_rows(idx)).terms)

    def _stage_step(
        self, idx: torch.Tensor, encoded: list[torch.Tensor] | None = None
    ) -> StepOutcome:
        """The loss of the epoch's stage on batch `idx` (`encoded`: its z^v, when known)."""
        if self.epoch is None:
            raise RuntimeError("before_epoch() must be called before step()")
        xs = [v[idx] for v in self.views]
        stage = self.stage(self.epoch)
        cfg = self.config
        if stage == 1:
            out = self.model(xs, features=False, labels=False, decode=True, encoded=encoded)
            recon = reconstruction(xs, out.xr, cfg.recon_reduction)
            return StepOutcome({"total": recon, "recon": recon})
        if stage == 2:
            out = self.model(xs, encoded=encoded)
            recon = reconstruction(xs, out.xr, cfg.recon_reduction)
            terms = contrastive_terms(
                out.h, out.q, cfg.temperature_f, cfg.temperature_l, cfg.entropy_per_pair
            )
            total = terms["feature"] + terms["label"] + terms["entropy"] + recon
            return StepOutcome({"total": total, **terms, "recon": recon})
        return self._finetune_step(xs, idx, encoded)

    def _finetune_step(
        self, xs: list[torch.Tensor], idx: torch.Tensor, encoded: list[torch.Tensor] | None
    ) -> StepOutcome:
        """L_P = Σ_v CE(Q^v, P̂^v), P̂^v matched to argmax q^v of this batch under no grad."""
        assert self.pseudo_labels is not None
        out = self.model(xs, features=False, labels=True, decode=False, encoded=encoded)
        pseudo = out.logits[0].new_zeros(())
        agreement = 0.0
        for v, logits in enumerate(out.logits):
            with torch.no_grad():
                predicted = out.q[v].argmax(dim=1)
                target = match_pseudo_labels(
                    self.pseudo_labels[v][idx.to(self.pseudo_labels[v].device)],
                    predicted,
                    self.n_clusters,
                ).to(logits.device)
                agreement += float((predicted == target).double().mean())
            pseudo = pseudo + pseudo_label_ce(logits, target, self.config.finetune_ce)
        stats = {"pseudo_agreement": agreement / len(out.logits)}
        return StepOutcome({"total": pseudo, "pseudo": pseudo}, stats)

    def after_epoch(self) -> dict[str, float]:
        """The epoch's stage as a history column."""
        return {"stage": float(self.stage(self.epoch))} if self.epoch is not None else {}

    # ------------------------------------------------------------------ evaluation
    def predict(self, views: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """(p, r): p = (1/V) Σ_v q^v, whose rows sum to 1 and whose argmax is the prediction
        (`eval_labels: mean_q`, the paper's rule); r = the concatenation of the views' h^v
        (N × V·high_feature_dim), the representation for t-SNE. In chunks of EVAL_CHUNK, in
        fixed order. On the run's own views it keeps z^v for this evaluation's eval steps."""
        n = views[0].shape[0]
        probs, reps, z = [], [], []
        for i in range(0, n, EVAL_CHUNK):
            out = self.model([v[i : i + EVAL_CHUNK] for v in views], decode=False)
            probs.append(torch.stack(out.q).mean(dim=0))
            reps.append(torch.cat(out.h, dim=1))
            z.append(out.z)
        self.keep_eval_encoding(views, [torch.cat(parts) for parts in zip(*z, strict=True)])
        return torch.cat(probs), torch.cat(reps)

    def diagnostics(self, history: pd.DataFrame) -> dict[str, Any]:
        """The pseudo-labels' ACC per view (against the true labels, when they were made) and
        the scores at the end of stage 2 (what the code prints, and the no-finetune result)."""
        end2 = self.config.mse_epochs + self.config.con_epochs
        rows = history[history["epoch"] == end2] if "epoch" in history else history.iloc[:0]
        stage2_end = (
            {c: float(rows[c].iloc[0]) for c in SCORE_COLUMNS if c in rows} if len(rows) else {}
        )
        return {
            "pseudo_labels": self.pseudo_diagnostics,
            "stage2_end_epoch": end2,
            "stage2_end": stage2_end,
            "total_epochs": self.config.total_epochs,
        }
