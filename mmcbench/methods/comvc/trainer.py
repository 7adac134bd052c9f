"""CoMVC's part of the training loop: SiMVC's trainer plus the contrastive term, its negative
sampling (from a generator the trainer owns) and its empty-sampling rule."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from mmcbench.methods.comvc.config import NT_XENT, VARIANTS, CoMVCConfig
from mmcbench.methods.comvc.losses import (
    adaptive_weight,
    all_one_cluster,
    draw_negatives,
    negative_count,
    nt_xent_two_views,
    positive_pairs,
    sampled_contrastive_loss,
)
from mmcbench.methods.comvc.model import CoMVC, CoMVCOutput
from mmcbench.methods.simvc.config import MVCTerms
from mmcbench.methods.simvc.trainer import SiMVCTrainer
from mmcbench.training.trainers import RunStopped, StepOutcome, TrainingData

ONE_CLUSTER_STOP = (
    "CoMVC negative sampling: every sample of the batch is in one predicted cluster "
    "(neg_sampling_empty: stop_run)"
)


class CoMVCTrainer(SiMVCTrainer):
    """CoMVC: L = DDC1 + DDC2 + DDC3 + contrast, contrast = δ · min_v w_v · L_con."""

    variants: dict[str, MVCTerms] = VARIANTS
    config: CoMVCConfig

    def __init__(
        self, data: TrainingData, variant: str, seed: int, config: CoMVCConfig, device: torch.device
    ) -> None:
        n_views = len(data.views)
        if config.negative_samples_ratio == NT_XENT and n_views != 2:
            raise ValueError(
                f"negative_samples_ratio = -1 (NT-Xent without negative sampling) works for 2 "
                f"views only; {data.name} has {n_views}"
            )
        super().__init__(data, variant, seed, config, device)
        if config.negative_samples_ratio != NT_XENT:
            batch = min(config.batch_size, self.n_samples)
            if negative_count(config.negative_samples_ratio, n_views, batch) < 1:
                raise ValueError(
                    f"negative_samples_ratio = {config.negative_samples_ratio!r}: "
                    f"⌊ratio · V · B⌋ = ⌊{config.negative_samples_ratio} · {n_views} · {batch}⌋ "
                    "draws no negative"
                )
        # Negative sampling draws from this CPU generator, seeded with the run's seed, and
        # moves the indices to the device: the same draws on a GPU as on a CPU.
        self.negative_rng = torch.Generator().manual_seed(seed)

    def build_model(self, input_dims: Sequence[int], n_clusters: int, config: CoMVCConfig):
        return CoMVC(input_dims, n_clusters, config)

    def contrast(self, out: CoMVCOutput) -> tuple[torch.Tensor, dict[str, float]]:
        """δ · w · L_con (w = min_v softmax(ω)_v detached, or 1) and the step's statistics."""
        cfg = self.config
        projections = out.projections
        n_views, batch = len(out.z), out.fused.shape[0]
        stats: dict[str, float] = {}
        if cfg.negative_samples_ratio == NT_XENT:
            loss = nt_xent_two_views(projections[:batch], projections[batch:], cfg.tau)
        else:
            clusters = out.assignments.detach().argmax(dim=1).cpu()
            skip = cfg.neg_sampling_empty == "skip_term"
            if all_one_cluster(clusters):
                if not skip:
                    raise RunStopped(ONE_CLUSTER_STOP)
                return projections.new_zeros(()), {"contrast_skipped": 1.0}
            if skip:
                stats["contrast_skipped"] = 0.0
            anchors, positives = positive_pairs(n_views, batch)
            count = negative_count(cfg.negative_samples_ratio, n_views, batch)
            negatives = draw_negatives(clusters, n_views, anchors, count, self.negative_rng)
            device = projections.device
            loss = sampled_contrastive_loss(
                projections,
                anchors.to(device),
                positives.to(device),
                negatives.to(device),
                cfg.tau,
                cfg.contrastive_similarity,
                cfg.rel_sigma,
            )
        if cfg.adaptive_contrastive_weight:
            loss = loss * adaptive_weight(self.model.fusion.weights)
        return cfg.delta * loss, stats

    def step(self, idx: torch.Tensor) -> StepOutcome:
        self.end_evaluation()
        out = self.forward(idx)
        terms = self.ddc(out)
        stats: dict[str, float] = {}
        if self.terms.contrast:
            terms["contrast"], stats = self.contrast(out)
            terms["total"] = terms["total"] + terms["contrast"]
        return StepOutcome(terms, stats)
