"""DIVIDE's part of the training loop (spec/DIVIDE.md "Training", "Evaluation"): the fixed
batches, the warm-up, the EMA of the target encoders, the rectified targets, and k-means on the
evaluation features."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from mmcbench.methods.divide.config import DIVIDEConfig
from mmcbench.methods.divide.losses import objective, random_walk
from mmcbench.methods.divide.model import DIVIDE
from mmcbench.training.trainers import (
    EVAL_CHUNK,
    ReusesEvalEncoding,
    StepOutcome,
    TrainingData,
)

SOFT_ASSIGN_TEMPERATURE = 0.5  # spec "Evaluation": p_ic ∝ exp(h_i · n(μ_c) / 0.5)
KMEANS_SEED = 0  # the code's KMeans(random_state=0)


def normalise_views(views: list[torch.Tensor], data_norm: str) -> list[torch.Tensor]:
    """Each view scaled by `data_norm`, in float64 then back to its dtype: `standard` sklearn's
    `scale` (per feature over all N: mean 0, population std 1, a feature of std below 10 ε only
    centred, so a constant one becomes 0); `min-max` per feature to [0, 1] (constant → 0);
    `l2-norm` each sample to unit length (a zero row stays 0)."""
    from mmcbench.data.load import minmax_columns

    out = []
    for view in views:
        x = view.detach().to(torch.float64)
        if data_norm == "standard":
            centred = x - x.mean(dim=0)
            std = x.std(dim=0, unbiased=False)
            std = torch.where(std < 10 * torch.finfo(torch.float64).eps, 1.0, std)
            y = centred / std
        elif data_norm == "min-max":
            y = torch.from_numpy(minmax_columns(x.cpu().numpy())).to(x.device)
        elif data_norm == "l2-norm":
            y = F.normalize(x, dim=1)
        else:
            raise ValueError(f"unknown data_norm {data_norm!r}")
        out.append(y.to(view.dtype))
    return out


class DIVIDETrainer(ReusesEvalEncoding):
    """DIVIDE: per step the EMA update, the online and target embeddings of the batch, the
    random-walk targets of each view (from `rectify_start_epoch`) and the InfoNCE objective
    over the view pairs (`view_pairs`); per evaluation, k-means on the views' features.

    The trainer scales the views itself (`data_norm`; the config's `scaling()` is "none", so
    the loop hands the stored views). Under `view_pairs: first_two` the model has views 1 and
    2 only, and trains and evaluates on them (the code unchanged)."""

    has_eval_step = True
    config: DIVIDEConfig
    config_fields = ("epochs", "batch_size", "blr", "grad_clip", "warmup_epochs")

    def __init__(
        self,
        data: TrainingData,
        variant: str,
        seed: int,
        config: DIVIDEConfig,
        device: torch.device,
    ) -> None:
        super().__init__(data, variant, seed, config, device)
        self.used = 2 if self.config.view_pairs == "first_two" else len(self.views)
        if len(self.views) < 2:
            raise ValueError("DIVIDE contrasts views: it needs two or more")
        self.inputs = normalise_views(self.views[: self.used], self.config.data_norm)
        self.model = DIVIDE(data.view_dims[: self.used], self.config).to(device)
        self.epoch: int | None = None
        self._fixed: torch.Tensor | None = None

    # ------------------------------------------------------------------ schedule
    def batch_size(self) -> int:
        """B = min(batch_size, N) (the code caps B; lr stays that of the configured B)."""
        return min(self.config.batch_size, self.n_samples)

    def batches(self, epoch: int, generator: torch.Generator) -> list[torch.Tensor]:
        """Full batches of B of a permutation, the remainder dropped (drop_last).

        `fixed_permutation` (the code): one permutation from a torch.Generator seeded with the
        run's seed (the code's seed + epoch with its epoch never set, so + 0), the same in
        every epoch; it draws nothing from `generator`, which advances from epoch to epoch and
        so could not give the same permutation twice (and the evaluation's batches are then
        the training batches). `reshuffle_each_epoch`: a fresh permutation from `generator`."""
        if self.config.shuffle == "fixed_permutation":
            if self._fixed is None:
                g = torch.Generator().manual_seed(self.seed)
                self._fixed = torch.randperm(self.n_samples, generator=g)
            perm = self._fixed
        else:
            perm = torch.randperm(self.n_samples, generator=generator)
        b = self.batch_size()
        n_full = self.n_samples // b
        return list(perm[: n_full * b].split(b))

    def adam_betas(self) -> tuple[float, float]:
        """The code's Adam betas (0.9, 0.99) (`config.adam_betas`)."""
        return self.config.adam_betas

    def step_lr_factor(self, epoch: int, step: int, steps: int) -> float:
        """The warm-up: min(1, ((epoch − 1) + step/steps) / warmup_epochs), the code's
        lr_max · min(1, (e + s/S)/20) with e 0-based and s = 1…S."""
        return self.config.warmup_factor(epoch, step, steps)

    def before_epoch(self, epoch: int) -> None:
        """Remember the epoch (its targets: identity or random walk)."""
        if not 1 <= epoch <= self.config.total_epochs:
            raise ValueError(f"epoch {epoch} is outside 1…{self.config.total_epochs}")
        self.epoch = epoch

    def after_epoch(self) -> dict[str, float]:
        """The epoch's stage as a history column: 1 plain InfoNCE (identity targets), 2 the
        random walk's targets (the label-free protocol compares epochs of the last stage)."""
        return {"stage": 2.0 if self.rectified() else 1.0} if self.epoch is not None else {}

    def rectified(self) -> bool:
        """Whether the current epoch trains on the random-walk targets A^v."""
        if self.epoch is None:
            raise RuntimeError("before_epoch() must be called before step()")
        return self.config.rectified(self.epoch)

    # ------------------------------------------------------------------ steps
    def step(self, idx: torch.Tensor) -> StepOutcome:
        """The EMA update (a no-op at step 1), then the loss of batch `idx`: online z^v with
        gradient, target z̄^v without (train mode under `target_mode: train`)."""
        self.end_evaluation()
        cfg = self.config
        model = self.model
        rectified = self.rectified()
        model.ema_update(cfg.momentum, copy_buffers=cfg.target_mode == "eval")
        xs = [v[idx] for v in self.inputs]
        z = [enc(x) for enc, x in zip(model.encoders, xs, strict=True)]
        with torch.no_grad():
            if cfg.target_mode == "eval":
                model.targets.eval()
            try:
                zbar = [t(x) for t, x in zip(model.targets, xs, strict=True)]
            finally:
                model.targets.train(model.training)
        return self._loss(z, zbar, rectified)

    def eval_step(self, idx: torch.Tensor) -> StepOutcome:
        """The step's loss in eval mode: no EMA update, both branches without dropout and on
        running statistics; z^v and z̄^v come from this evaluation's `predict` when it ran on
        the run's views (`ReusesEvalEncoding`), else from a pass."""
        kept = self.eval_encoding_rows(idx)
        if kept is None:
            xs = [v[idx] for v in self.inputs]
            z = [enc(x) for enc, x in zip(self.model.encoders, xs, strict=True)]
            zbar = [t(x) for t, x in zip(self.model.targets, xs, strict=True)]
        else:
            z, zbar = kept
        return self._loss(z, zbar, self.rectified())

    def _loss(self, z: list[torch.Tensor], zbar: list[torch.Tensor], rectified: bool):
        cfg = self.config
        walk = None
        if rectified:

            def walk(key: torch.Tensor) -> torch.Tensor:
                return random_walk(key, cfg.rw_sigma, cfg.rw_steps, cfg.rw_alpha)

        # A^v once per view per step, shared by the view's inter and intra terms
        targets = [walk(zb) if walk is not None else None for zb in zbar]
        terms = objective(
            z,
            zbar,
            self.model.cross,
            targets,
            cfg.view_pairs,
            cfg.temperature,
            cfg.loss_reduction,
            walk,
        )
        return StepOutcome(terms, {"rectified": float(rectified)})

    # ------------------------------------------------------------------ evaluation
    def has_soft_assignments(self) -> bool:
        """False under `soft_assign: none` (k-means one-hot clusters: no ECE)."""
        return self.config.soft_assign != "none"

    @torch.no_grad()
    def encode(self, inputs: list[torch.Tensor]) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """Online z^v and target z̄^v of every sample (the model's current mode), in chunks
        of EVAL_CHUNK."""
        n = inputs[0].shape[0]
        z: list[list[torch.Tensor]] = [[] for _ in inputs]
        zbar: list[list[torch.Tensor]] = [[] for _ in inputs]
        for i in range(0, n, EVAL_CHUNK):
            for v, x in enumerate(inputs):
                chunk = x[i : i + EVAL_CHUNK]
                z[v].append(self.model.encoders[v](chunk))
                zbar[v].append(self.model.targets[v](chunk))
        return [torch.cat(p) for p in z], [torch.cat(p) for p in zbar]

    @torch.no_grad()
    def features(self, z: list[torch.Tensor], zbar: list[torch.Tensor]) -> torch.Tensor:
        """The representation: the views' `eval_features` concatenated, then L2-normalised."""
        mode = self.config.eval_features
        if mode == "target_decoder":
            h = [F.normalize(self.model.eval_decoded(v, zb), dim=1) for v, zb in enumerate(zbar)]
        elif mode == "target_z":
            h = [F.normalize(zb, dim=1) for zb in zbar]
        else:
            h = [F.normalize(zv, dim=1) for zv in z]
        return F.normalize(torch.cat(h, dim=1), dim=1)

    @torch.no_grad()
    def predict(self, views: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """(p, r): r the representation (`features`), p the k-means clusters of r as one-hot
        rows (`soft_assign: none`) or centroid_softmax's probabilities. k-means: sklearn
        KMeans(k, random_state=0, n_init=kmeans_n_init) on r as float32. On the run's own
        views it keeps z^v and z̄^v for this evaluation's eval steps."""
        own = len(views) == len(self.views) and all(
            v is w for v, w in zip(views, self.views, strict=True)
        )
        inputs = self.inputs if own else normalise_views(views[: self.used], self.config.data_norm)
        z, zbar = self.encode(inputs)
        self.keep_eval_encoding(views, (z, zbar))
        rep = self.features(z, zbar)
        labels, centres = self.kmeans(rep)
        if self.config.soft_assign == "none":
            probs = F.one_hot(labels.to(rep.device), self.n_clusters).to(rep.dtype)
        else:
            mu = F.normalize(centres.to(rep.device, rep.dtype), dim=1)
            probs = torch.softmax(rep @ mu.T / SOFT_ASSIGN_TEMPERATURE, dim=1)
        return probs, rep

    def kmeans(self, rep: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """sklearn KMeans on `rep` (float32, C-contiguous: no copy inside sklearn): labels and
        centres."""
        from sklearn.cluster import KMeans

        x = np.ascontiguousarray(rep.detach().to("cpu", torch.float32).numpy())
        km = KMeans(
            n_clusters=self.n_clusters, random_state=KMEANS_SEED, n_init=self.config.kmeans_n_init
        ).fit(x)
        return torch.from_numpy(km.labels_.astype(np.int64)), torch.from_numpy(km.cluster_centers_)

    @classmethod
    def config_params(cls, config: Any) -> dict[str, Any]:
        """The settings' fields, plus the derived `lr` and `adam_betas` (properties)."""
        params = super().config_params(config)
        return {**params, "lr": config.lr, "adam_betas": list(config.adam_betas)}
