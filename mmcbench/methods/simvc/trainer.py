"""SiMVC's part of the training loop (spec/SiMVC-CoMVC.md "Training"): shuffled full batches,
the DDC loss on the fused assignments, the learning-rate schedule and the fused prediction."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from mmcbench.methods.simvc.config import VARIANTS, MVCTerms, SiMVCConfig, variant_terms
from mmcbench.methods.simvc.losses import simvc_terms
from mmcbench.methods.simvc.model import SiMVC, SiMVCOutput
from mmcbench.training.trainers import EVAL_CHUNK, ReusesEvalEncoding, StepOutcome, TrainingData


def epoch_batches(n: int, batch_size: int, generator: torch.Generator) -> list[torch.Tensor]:
    """mvc's DataLoader(shuffle=True, drop_last=True): a permutation of 0…n−1 drawn from
    `generator`, cut into full batches of `batch_size`, the remainder dropped. When n <
    batch_size that would leave no batch at all; the suite then trains on one batch of all n
    samples (shuffled), so that small datasets still train."""
    perm = torch.randperm(n, generator=generator)
    if n < batch_size:
        return [perm]
    n_full = n // batch_size
    return list(perm[: n_full * batch_size].split(batch_size))


class SiMVCTrainer(ReusesEvalEncoding):
    """SiMVC: L = DDC1 + DDC2 + DDC3 on the fused DDC output, one Adam (the loop's)."""

    variants: dict[str, MVCTerms] = VARIANTS
    has_eval_step = True
    config: SiMVCConfig

    def __init__(
        self, data: TrainingData, variant: str, seed: int, config: SiMVCConfig, device: torch.device
    ) -> None:
        super().__init__(data, variant, seed, config, device)
        self.terms = variant_terms(variant, self.variants)  # draws nothing
        self.model = self.build_model(data.view_dims, data.n_clusters, self.config).to(device)
        self.epoch: int | None = None

    def build_model(self, input_dims: Sequence[int], n_clusters: int, config: SiMVCConfig):
        return SiMVC(input_dims, n_clusters, config)

    # ------------------------------------------------------------------ schedule
    def lr_factor(self, epoch: int) -> float:
        """The factor of `lr` in 1-based `epoch` under `lr_step` (StepLR stepping once per
        epoch): gamma^⌊(epoch − 1)/step_size⌋, else 1. The loop sets lr · factor."""
        return self.config.lr_factor(epoch)

    def batches(self, epoch: int, generator: torch.Generator) -> list[torch.Tensor]:
        """Shuffled full batches of `batch_size` from `generator` (see `epoch_batches`)."""
        return epoch_batches(self.n_samples, self.config.batch_size, generator)

    def before_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def after_epoch(self) -> dict[str, float]:
        """The epoch's learning-rate factor, when a schedule is set."""
        if self.config.lr_step is None or self.epoch is None:
            return {}
        return {"lr_factor": self.lr_factor(self.epoch)}

    # ------------------------------------------------------------------ steps
    def forward(self, idx: torch.Tensor) -> SiMVCOutput:
        return self.model([v[idx] for v in self.views])

    def ddc(self, out: SiMVCOutput) -> dict[str, torch.Tensor]:
        """ddc1, ddc2, ddc3 and their sum `total`."""
        return simvc_terms(out.assignments, out.hidden, self.config.rel_sigma, self.config.ddc2)

    def step(self, idx: torch.Tensor) -> StepOutcome:
        self.end_evaluation()
        return StepOutcome(self.ddc(self.forward(idx)))

    def eval_step(self, idx: torch.Tensor) -> StepOutcome:
        """The DDC terms in eval mode, what mvc's checkpoint selection reads (`ddc1`). CoMVC
        inherits it: mvc's evaluation total leaves the contrastive term out
        (`IGNORE_IN_TOTAL`), so its negatives are not drawn here. The fused DDC output's rows
        come from the evaluation's `predict` when it ran on this model (`ReusesEvalEncoding`:
        in eval mode BatchNorm uses its running statistics, so a row does not depend on its
        batch), else from a pass."""
        kept = self.eval_encoding_rows(idx)
        if kept is None:
            return StepOutcome(self.ddc(self.forward(idx)))
        assignments, hidden, fused = kept
        return StepOutcome(self.ddc(SiMVCOutput([], fused, assignments, hidden)))

    # ------------------------------------------------------------------ evaluation
    def predict(self, views: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """(A, z): the fused DDC output (soft assignments, argmax = prediction) and the fused
        representation of every sample, in chunks of EVAL_CHUNK (eval mode: the loop's). On
        the run's own views it keeps them, with the DDC head's hidden layer, for this
        evaluation's eval steps."""
        assignments, hidden, fused = self.model.fused_outputs(views, EVAL_CHUNK)
        self.keep_eval_encoding(views, (assignments, hidden, fused))
        return assignments, fused

    def fusion_weights(self) -> torch.Tensor:
        return self.model.fusion.weights
