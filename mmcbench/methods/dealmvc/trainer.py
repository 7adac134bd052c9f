"""DealMVC's part of the training loop (spec/DealMVC.md "Training"): MFLVC's three-stage
schedule, batches, pre-training, fine-tuning, prediction and diagnostics (`MFLVCTrainer`), with
DealMVC's network and its stage-2 objective (local and global contrastive calibration)."""

from __future__ import annotations

from typing import Any

import torch

from mmcbench.methods.dealmvc.config import DealMVCConfig
from mmcbench.methods.dealmvc.losses import alignment, global_term, local_terms
from mmcbench.methods.dealmvc.model import DealMVC
from mmcbench.methods.mflvc.losses import contrastive_terms, reconstruction
from mmcbench.methods.mflvc.trainer import MFLVCTrainer
from mmcbench.training.trainers import ReusesEvalEncoding, StepOutcome, TrainingData

# MFLVC's temperatures of its feature and label contrast (spec/MFLVC.md), used only under
# `mflvc_losses_in_stage2: true`; MFLVC's entropy term per pair (its code).
MFLVC_TEMPERATURE_F = 0.5
MFLVC_TEMPERATURE_L = 1.0


class DealMVCTrainer(MFLVCTrainer):
    """DealMVC (or its variant without fine-tuning) in MFLVC's three stages by epoch: 1
    pre-training on L_Z, 2 the calibration objective L = Σ_{v<w} L_loc(v,w) + Σ_v L_Z^v +
    L_glob + L_al (spec item 8), 3 MFLVC's fine-tuning; prediction as MFLVC's (argmax of the
    views' mean q^v; representation the concatenated h^v).

    Fusion weights (spec item 5): ω starts every epoch at (1/V)·1 (`before_epoch`) and each
    stage-2 batch does ω ← r ⊙ ω (`fusion_weight_carry: cumulative_epoch`) or ω = r
    (`per_batch`), r = softmax_v(a_v π_v) of the attention and the p-net. Under
    `fusion_trainable: false` (the code) each ω_v enters the fused feature as a Python float
    (`.item()`), so nothing reaches ω, the attention or the p-net. Under `true` ω stays in the
    graph (the product carried from earlier batches detached: their graphs are gone) and the
    attention and the p-net, parameters of the model, are stepped by the loop's one Adam over
    all parameters, with the same lr (3e-4), in the place of the code's two optimisers of
    their own (built there with lr 3e-4, never stepped).

    Attention dropout (`attention_train_mode: true`, the code's module stays in train mode):
    drawn from torch's global generator in training steps. The eval steps use the attention
    without dropout (its eval mode: every head weight 1) whatever the setting, so that they
    draw from no generator; their ω is carried over the evaluation's own batches from (1/V)·1
    and dropped with the evaluation (`end_evaluation`), never touching the training ω.
    """

    has_eval_step = True
    config: DealMVCConfig  # type: ignore[assignment]

    def __init__(
        self,
        data: TrainingData,
        variant: str,
        seed: int,
        config: DealMVCConfig,
        device: torch.device,
    ) -> None:
        # Trainer's constructor, not MFLVCTrainer's: that one builds MFLVC's network, whose
        # draws from the seeded generator would shift DealMVC's initial weights.
        ReusesEvalEncoding.__init__(self, data, variant, seed, config, device)
        width = self.attention_width()
        self.model = DealMVC(data.view_dims, data.n_clusters, self.config, width).to(device)
        self.epoch: int | None = None
        self.pseudo_labels: list[torch.Tensor] | None = None
        self.pseudo_diagnostics: dict[str, Any] = {}
        self.omega = self.uniform_weights()  # the training ω (detached)
        self.eval_omega: torch.Tensor | None = None  # ω over one evaluation's batches

    def attention_width(self) -> int:
        """The attention's width: the capped batch size under `attn_hidden: batch_size` (the
        code's coupling: its W_v reads a row of B samples), else `hidden_dim`, refused
        (ValueError) when stage 2 would feed it batches of another size (the code fails)."""
        cfg = self.config
        b = self.batch_size()
        if cfg.attn_hidden == "batch_size":
            if b < cfg.num_heads:
                raise ValueError(
                    f"the batch size {b} is below num_heads {cfg.num_heads}: the attention, as "
                    "wide as a batch (attn_hidden batch_size), needs one unit per head"
                )
            return b
        if cfg.con_epochs > 0 and b != cfg.hidden_dim:
            raise ValueError(
                f"attn_hidden 'none' keeps the attention {cfg.hidden_dim} wide (hidden_dim), but "
                f"stage 2's batches have {b} samples: the code runs only when they are equal; "
                "use attn_hidden 'batch_size' or set hidden_dim to the batch size"
            )
        return cfg.hidden_dim

    def uniform_weights(self) -> torch.Tensor:
        """(1/V)·1, ω at the start of every epoch."""
        n_views = len(self.views)
        return self.views[0].new_full((n_views,), 1.0 / n_views)

    # ------------------------------------------------------------------ schedule
    def before_epoch(self, epoch: int) -> None:
        """MFLVC's (the stage; pseudo-labels at the first stage-3 epoch), and ω reset to
        (1/V)·1: the code's update goes to a function-local name."""
        super().before_epoch(epoch)
        self.omega = self.uniform_weights()

    def end_evaluation(self) -> None:
        super().end_evaluation()
        self.eval_omega = None

    # ------------------------------------------------------------------ steps
    def eval_step(self, idx: torch.Tensor) -> StepOutcome:
        """The current stage's loss terms in eval mode; in stage 2 the attention without
        dropout and ω carried over this evaluation's batches only (see the class)."""
        return StepOutcome(
            self._stage_step(idx, self.eval_encoding_rows(idx), evaluation=True).terms
        )

    def _stage_step(
        self,
        idx: torch.Tensor,
        encoded: list[torch.Tensor] | None = None,
        evaluation: bool = False,
    ) -> StepOutcome:
        """Stage 2: the calibration objective; stages 1 and 3: MFLVC's."""
        if self.epoch is not None and self.stage(self.epoch) == 2:
            return self.calibration_step(idx, encoded, evaluation)
        return super()._stage_step(idx, encoded)

    def fusion_carry(self, r: torch.Tensor, evaluation: bool) -> torch.Tensor:
        """ω of this batch from r (item 5), the carried ω updated (the training one, or the
        evaluation's)."""
        if self.config.fusion_weight_carry == "per_batch":
            omega = r
        else:
            before = self.eval_omega if evaluation else self.omega
            if before is None:
                before = self.uniform_weights()
            omega = r * before.detach()
        if evaluation:
            self.eval_omega = omega.detach()
        else:
            self.omega = omega.detach()
        return omega

    def calibration_step(
        self,
        idx: torch.Tensor,
        encoded: list[torch.Tensor] | None = None,
        evaluation: bool = False,
    ) -> StepOutcome:
        """Stage 2 on batch `idx` (spec items 1–8): terms total, recon, local, global, align
        (and MFLVC's feature, label, entropy under `mflvc_losses_in_stage2`); statistics
        share_local / share_global (the fraction of off-diagonal assignment products ≥ τ, in
        the pairs' graphs and in the global one) and omega_sum (Σ_v ω_v)."""
        cfg = self.config
        xs = [v[idx] for v in self.views]
        out = self.model(xs, encoded=encoded)
        detach = cfg.graph_grad == "detach"
        recon = reconstruction(xs, out.xr, cfg.recon_reduction)
        local, graphs, share_local = local_terms(
            out.h,
            out.q,
            cfg.threshold,
            cfg.sim_temperature,
            detach,
            cfg.local_direction == "symmetric",
        )
        dropout = cfg.attention_train_mode and not evaluation
        with torch.set_grad_enabled(cfg.fusion_trainable and torch.is_grad_enabled()):
            r = self.model.fusion_ratios(out.h, dropout)
        omega = self.fusion_carry(r, evaluation)
        weights: list[Any] = list(omega) if cfg.fusion_trainable else omega.tolist()
        f = sum((w * hv for w, hv in zip(weights, out.h, strict=True)), out.h[0].new_zeros(()))
        fused_input = (
            f
            if cfg.global_label_input == "fused_h"
            else sum((w * z for w, z in zip(weights, out.z, strict=True)), out.z[0].new_zeros(()))
        )
        q_global = torch.softmax(self.model.label_head(fused_input), dim=1)
        glob, global_graph, share_global = global_term(
            f, q_global, cfg.threshold, cfg.sim_temperature, detach
        )
        align = alignment(global_graph, graphs, len(xs), cfg.align_pairs)
        total = local + recon + glob + align
        terms = {"recon": recon, "local": local, "global": glob, "align": align}
        if cfg.mflvc_losses_in_stage2:
            extra = contrastive_terms(
                out.h, out.q, MFLVC_TEMPERATURE_F, MFLVC_TEMPERATURE_L, entropy_per_pair=True
            )
            total = total + extra["feature"] + extra["label"] + extra["entropy"]
            terms.update(extra)
        stats = {
            "share_local": share_local,
            "share_global": share_global,
            "omega_sum": omega.detach().sum(),
        }
        return StepOutcome({"total": total, **terms}, stats)
