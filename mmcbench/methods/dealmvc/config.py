"""DealMVC's settings and variants (torch-free): every resolved choice of spec/DealMVC.md, with
the spec's default (config keys `dealmvc.*`), and the variant without fine-tuning. The keys DealMVC
shares with MFLVC (spec "What is MFLVC's") are MFLVC's fields, defaults and rules."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Literal

from mmcbench.core.settings import Init, TrainingSettings, redescribe, setting, variant_entry
from mmcbench.methods.mflvc.config import MFLVCConfig, MFLVCTerms


def _help(name: str) -> str:
    """The description of MFLVC's key `name`."""
    return {f.name: f for f in dataclasses.fields(MFLVCConfig)}[name].metadata["help"]


# The same parts as MFLVC's variants: "no-finetune" is tune_epochs 0, scored after stage 2.
VARIANTS: dict[str, MFLVCTerms] = {
    "DealMVC": MFLVCTerms(),
    # spec "Evaluation and selection": with tune_epochs 0 the code evaluates nothing, so this
    # variant is scored at the end of stage 2 (as MFLVC's no-finetune).
    "no-finetune": MFLVCTerms(finetune=False),
}


def variant_terms(variant: str) -> MFLVCTerms:
    """The parts `variant` keeps; ValueError naming the known variants otherwise."""
    return variant_entry("DealMVC", variant, VARIANTS)


@dataclass(frozen=True)
class DealMVCConfig(TrainingSettings):
    """Every resolved choice of spec/DealMVC.md with the spec's default (the authors' code,
    xihongyang1999/DealMVC c7301f1). The backbone, the reconstruction loss, the fine-tuning
    stage and the optimiser are MFLVC's (spec/MFLVC.md), with MFLVC's keys and defaults.

    Schedule: stage 1 `mse_epochs` (300) of L_Z; stage 2 `con_epochs` (100) of the calibration
    objective (spec item 8); stage 3 `tune_epochs` (50) full-batch steps of MFLVC's fine-tuning.
    One epoch counter (1…450) and one Adam (lr 3e-4, kept across the stages).

    Architecture: L = `feature_dim` (512), D = `high_feature_dim` (512, tied to L under
    `global_label_input: fused_h`), the concat head (`concat_head`), the attention module
    (`hidden_dim`, `num_heads`, `attention_dropout_rate`, `attn_hidden`) and the p-net
    (`ffn_size`). Stage 2: `threshold` τ of the pseudo-label graphs, `sim_temperature`,
    `graph_grad`, `local_direction`, `fusion_weight_carry`, `fusion_trainable`,
    `attention_train_mode`, `align_pairs`, `mflvc_losses_in_stage2`.
    """

    mse_epochs: int = setting(
        300, "Stage 1: epochs of reconstruction pre-training (L_Z only; code 300).", minimum=0
    )
    con_epochs: int = setting(
        100,
        "Stage 2: epochs of the calibration objective (local + global calibration, alignment, "
        "L_Z; code 100).",
        minimum=0,
    )
    tune_epochs: int = setting(
        50,
        "Stage 3: epochs of MFLVC's fine-tuning on k-means pseudo-labels (one full-batch step "
        "each by default; code 50).",
        minimum=0,
    )
    batch_size: int = redescribe(MFLVCConfig, "batch_size", _help("batch_size"))
    lr: float = redescribe(MFLVCConfig, "lr", _help("lr"))
    init: Init = redescribe(MFLVCConfig, "init", _help("init"))
    grad_clip: float | None = redescribe(MFLVCConfig, "grad_clip", _help("grad_clip"))
    reset_optimizer_per_stage: bool = redescribe(
        MFLVCConfig, "reset_optimizer_per_stage", _help("reset_optimizer_per_stage")
    )
    feature_dim: int = redescribe(MFLVCConfig, "feature_dim", _help("feature_dim"))
    high_feature_dim: int = setting(
        512,
        "D, width of the feature head's h^v (code 512; must equal feature_dim under "
        "global_label_input fused_h).",
    )
    threshold: float = setting(
        0.8,
        "τ of the pseudo-label graphs: products of assignments below it are zeroed (code 0.8).",
        minimum=0,
        maximum=1,
    )
    hidden_dim: int = setting(
        256,
        "Attention width (code 256); under attn_hidden batch_size the width is the capped "
        "batch size instead (the code's coupling).",
    )
    num_heads: int = setting(8, "Heads of the attention module (code 8).")
    attention_dropout_rate: float = setting(
        0.5, "Dropout on the attention weights (code 0.5).", minimum=0, exclusiveMaximum=1
    )
    ffn_size: int = setting(32, "Hidden width of the p-net V → ffn_size → V (code 32).")
    global_label_input: Literal["fused_h", "fused_z"] = setting(
        "fused_h",
        "Input of the label head for q^G: fused_h (Σ ω_v h^v, the code; needs high_feature_dim "
        "= feature_dim) | fused_z (Σ ω_v z^v).",
    )
    concat_head: Literal["build", "omit"] = setting(
        "build",
        "The unused concat head Linear(V·L → k): build (the code; it only consumes init RNG) | "
        "omit.",
    )
    attn_hidden: Literal["batch_size", "none"] = setting(
        "batch_size",
        "Attention width: batch_size (the capped batch size, the code's coupling) | none "
        "(hidden_dim; the trainer refuses a batch size other than hidden_dim, as the code "
        "fails).",
    )
    sim_temperature: float = setting(
        1.0,
        "Temperature of the similarity graphs' row softmax (code 1.0).",
        exclusiveMinimum=0,
    )
    graph_grad: Literal["through", "detach"] = setting(
        "through",
        "Pseudo-label graphs: through (gradients reach q, the code) | detach (stop-gradient).",
    )
    local_direction: Literal["one_way", "symmetric"] = setting(
        "one_way",
        "Local calibration per view pair: one_way (anchors from view v, the code) | symmetric "
        "(mean of both directions).",
    )
    fusion_weight_carry: Literal["cumulative_epoch", "per_batch"] = setting(
        "cumulative_epoch",
        "Fusion weights: cumulative_epoch (ω ← r ⊙ ω per batch, reset each epoch, the code) | "
        "per_batch (ω = r).",
    )
    fusion_trainable: bool = setting(
        False,
        "Fusion weights in the graph, attention and p-net trained by the run's Adam (true) | "
        "taken as numbers, never trained (false, the code).",
    )
    attention_train_mode: bool = setting(
        True,
        "Attention dropout active in training steps (true, the code's module stays in train "
        "mode) | off (false).",
    )
    align_pairs: Literal["first_V", "all"] = setting(
        "first_V",
        "Alignment terms: the first V view pairs (the code) | all V(V−1)/2 pairs.",
    )
    mflvc_losses_in_stage2: bool = setting(
        False,
        "Add MFLVC's feature and label contrast and entropy per pair to stage 2 (τ_F 0.5, τ_L "
        "1.0; true) | not (false, the code).",
    )
    recon_reduction: Literal["mean", "sum_features"] = redescribe(
        MFLVCConfig, "recon_reduction", _help("recon_reduction")
    )
    pseudo_label_scaling: Literal["minmax", "none"] = redescribe(
        MFLVCConfig, "pseudo_label_scaling", _help("pseudo_label_scaling")
    )
    pseudo_label_n_init: int = redescribe(
        MFLVCConfig, "pseudo_label_n_init", _help("pseudo_label_n_init")
    )
    finetune_ce: Literal["probs_as_logits", "log_probs"] = redescribe(
        MFLVCConfig, "finetune_ce", _help("finetune_ce")
    )
    finetune_batch: Literal["full", "batch"] = redescribe(
        MFLVCConfig, "finetune_batch", _help("finetune_batch")
    )
    batch_size_cap: Literal["n_samples", "none"] = redescribe(
        MFLVCConfig, "batch_size_cap", _help("batch_size_cap")
    )
    preprocess: Literal["minmax_feature", "none"] = redescribe(
        MFLVCConfig,
        "preprocess",
        "Scaling of the views for DealMVC runs, instead of preprocessing.scaling: "
        "minmax_feature (per feature [0, 1], the code's MinMaxScaler) | none.",
    )

    def check(self) -> None:
        for key in ("mse_epochs", "con_epochs", "tune_epochs"):
            value = getattr(self, key)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ValueError(f"{key} = {value!r}: a whole number of epochs, 0 or more")
        for key in (
            "batch_size",
            "feature_dim",
            "high_feature_dim",
            "pseudo_label_n_init",
            "hidden_dim",
            "num_heads",
            "ffn_size",
        ):
            value = getattr(self, key)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{key} = {value!r}: a whole number, 1 or more")
        for key in ("lr", "sim_temperature"):
            if not getattr(self, key) > 0:
                raise ValueError(f"{key} = {getattr(self, key)!r}: a positive number")
        if not 0 <= self.threshold <= 1:
            raise ValueError(
                f"threshold = {self.threshold!r}: a number in [0, 1] (above 1 the kept diagonal "
                "M_ii = 1 would be masked and the graphs' rows would sum to 0)"
            )
        if not 0 <= self.attention_dropout_rate < 1:
            raise ValueError(
                f"attention_dropout_rate = {self.attention_dropout_rate!r}: a number in [0, 1)"
            )
        if self.hidden_dim < self.num_heads:
            raise ValueError(
                f"hidden_dim = {self.hidden_dim!r}: at least num_heads ({self.num_heads}), one "
                "unit per head"
            )
        if self.global_label_input == "fused_h" and self.high_feature_dim != self.feature_dim:
            raise ValueError(
                f"global_label_input = 'fused_h' needs high_feature_dim = feature_dim (the label "
                f"head reads L = {self.feature_dim} inputs, h has D = {self.high_feature_dim}); "
                "set them equal or use 'fused_z'"
            )
        if self.reset_optimizer_per_stage:
            raise ValueError(
                "reset_optimizer_per_stage = true is not supported yet: the training loop owns "
                "one Adam for the whole run (the code's choice, false)"
            )

    @property
    def total_epochs(self) -> int:
        """Epochs of all three stages."""
        return self.mse_epochs + self.con_epochs + self.tune_epochs

    # 1-based epoch → 1 pre-training, 2 calibration, 3 fine-tuning (MFLVC's rule)
    stage = MFLVCConfig.stage

    def scaling(self) -> str | None:
        """`preprocess`, the view scaling of DealMVC runs."""
        return self.preprocess

    def for_variant(self, variant: str) -> DealMVCConfig:
        """The configuration a variant trains with (no-finetune: `tune_epochs` 0)."""
        if not variant_terms(variant).finetune:
            return dataclasses.replace(self, tune_epochs=0)
        return self
