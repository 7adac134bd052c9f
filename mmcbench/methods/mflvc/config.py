"""MFLVC's settings and variants (torch-free): every resolved choice of spec/MFLVC.md, with the
spec's default (config keys `mflvc.*`), and the variant without fine-tuning."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Literal

from mmcbench.core.settings import Init, TrainingSettings, setting, variant_entry


@dataclass(frozen=True)
class MFLVCTerms:
    """What a variant keeps of the full MFLVC schedule."""

    finetune: bool = True  # stage 3 (pseudo-label fine-tuning)


VARIANTS: dict[str, MFLVCTerms] = {
    "MFLVC": MFLVCTerms(),
    # spec "Evaluation and selection": the metrics at the end of stage 2 (`tune_epochs: 0`).
    "no-finetune": MFLVCTerms(finetune=False),
}


def variant_terms(variant: str) -> MFLVCTerms:
    """The parts `variant` keeps; ValueError naming the known variants otherwise."""
    return variant_entry("MFLVC", variant, VARIANTS)


@dataclass(frozen=True)
class MFLVCConfig(TrainingSettings):
    """Every resolved choice of spec/MFLVC.md, with the spec's default (the authors' code,
    SubmissionsIn/MFLVC e13ded7, where it decides; the paper where the code says nothing).

    Schedule (spec "Training"): three stages that share one epoch counter and one Adam.
    - `mse_epochs` (200): stage 1, pre-training on the reconstruction loss L_Z only.
    - `con_epochs` (50): stage 2, objective 4 (feature + label contrast, entropy, L_Z). 50 is
      the flag default and the Caltech value; the code sets 10 for BDGP and 100 for Fashion.
    - `tune_epochs` (50): stage 3, fine-tuning on the pseudo-label loss L_P only.
    - `total_epochs` (property): their sum, 300 by default; epochs 1…mse_epochs are stage 1,
      the next con_epochs stage 2, the last tune_epochs stage 3 (`stage(epoch)`).

    Optimiser (spec "Training"): one Adam over all parameters, created once by the loop.
    - `batch_size` (256): the code's DataLoader batch size for stages 1 and 2.
    - `lr` (3e-4): the code's `learning_rate`; weight decay 0, default betas.
    - `init` ("torch_default"): the code keeps PyTorch's defaults (Kaiming-uniform a=√5 weights,
      U(±1/√fan_in) biases); "he" (He-normal weights) is the suite's alternative.
    - `grad_clip` (None): the code has no gradient clipping and no scheduler.
    - `reset_optimizer_per_stage` (False): the code keeps one Adam whose moments carry across
      the stages. The training loop owns the optimiser, so only False is supported for now.

    Architecture (spec "Architecture"):
    - `feature_dim` (512): L, the width of z^v (the encoders' linear output).
    - `high_feature_dim` (128): the width of h^v, the feature head's output.
    - `feature_head_layers` (1): one Linear L → 128 then L2 row normalisation (the code; a
      comment there says more layers can be used, but names no widths or activations, so only
      1 is supported).

    Losses (spec "Losses"):
    - `temperature_f` (0.5): τ_F of the feature contrast.
    - `temperature_l` (1.0): τ_L of the label contrast.
    - `recon_reduction` ("mean"): `nn.MSELoss`, averaged over the batch and the d_v features
      (code) | "sum_features": ‖x − x̂‖² per sample averaged over the batch (the paper; d_v
      times larger).
    - `entropy_per_pair` (True): E(v) + E(w) added to every view pair's label term, with
      E(v) = log k + Σ_j s^v_j log s^v_j, so each view's E counts V − 1 times (code) | False:
      Σ_v Σ_j s^v_j log s^v_j, once per view and without log k (the paper). Identical for
      V = 2 up to a constant.
    - `pseudo_label_scaling` ("minmax"): k-means on each view's H^v min-max scaled per
      feature (code's MinMaxScaler) | "none": k-means on H^v (the paper).
    - `pseudo_label_n_init` (100): the code's k-means `n_init` for the pseudo-labels (sklearn
      defaults otherwise; its random_state comes from the run's seed, which the code does not
      fix).
    - `finetune_ce` ("probs_as_logits"): torch `cross_entropy` with the softmax output Q^v in
      the place of logits, a second softmax whose minimum is log(1 + (k−1)/e) > 0 (code) |
      "log_probs": −mean log q_{i,p̂} (the paper's −Σ P̂ log Q).
    - `finetune_batch` ("full"): each stage-3 epoch is one full-batch gradient step over all N
      samples in fixed order (code: batch_size = N, shuffle=False) | "batch": the stage 1–2
      loader instead (shuffled batches of the capped `batch_size`, last partial batch
      dropped), the spec's "256"; the pseudo-labels are then matched per batch, as the code's
      `fine_tuning` would do with that loader.

    Data and evaluation:
    - `batch_size_cap` ("n_samples"): B = min(batch_size, N), a suite choice so that N < 256
      still trains | "none": the code, whose drop_last leaves no batch in stages 1–2 when
      N < batch_size (those epochs then train nothing).
    - `eval_labels` ("mean_q"): y = argmax of the views' mean q^v (the paper's rule). The
      code's alternatives, "per_view_q" (one prediction per view) and "kmeans_h" (k-means on
      each view's H^v or Z^v), give V hard predictions rather than one soft assignment, so
      they are refused by `check()`.
    - `preprocess` ("minmax_feature"): the loop scales every view per feature to [0, 1] (the
      Caltech loader's choice, and the suite's) | "none" (the BDGP, MNIST-USPS and Fashion
      loaders).
    """

    mse_epochs: int = setting(
        200, "Stage 1: epochs of reconstruction pre-training (L_Z only; code 200)."
    )
    con_epochs: int = setting(
        50,
        "Stage 2: epochs of the contrastive objective (feature + label contrast, entropy, L_Z; "
        "code 50 for Caltech and generic data, 10 for BDGP).",
    )
    tune_epochs: int = setting(
        50,
        "Stage 3: epochs of fine-tuning on k-means pseudo-labels (one full-batch step each by "
        "default; code 50).",
    )
    batch_size: int = setting(
        256, "Batch size of stages 1 and 2 (code 256; shuffled, last partial batch dropped)."
    )
    lr: float = setting(
        3e-4,
        "Adam learning rate (code 3e-4; no weight decay, one optimiser across the three stages).",
    )
    init: Init = setting(
        "torch_default", "Linear-layer initialisation: torch_default (the code) | he (He normal)."
    )
    grad_clip: float | None = setting(None, "Gradient-norm clipping (null = none, the code).")
    reset_optimizer_per_stage: bool = setting(
        False, "A fresh Adam per stage (true is not supported: the code keeps one, false)."
    )
    feature_dim: int = setting(512, "L, the width of z^v (the encoders' linear output; code 512).")
    high_feature_dim: int = setting(128, "Width of the high-level features h^v (code 128).")
    feature_head_layers: int = setting(
        1, "Layers of the shared feature head (code 1; only 1 supported, the spec names no others)."
    )
    temperature_f: float = setting(0.5, "τ_F of the feature contrast (code 0.5).")
    temperature_l: float = setting(1.0, "τ_L of the label contrast (code 1.0).")
    recon_reduction: Literal["mean", "sum_features"] = setting(
        "mean",
        "Reconstruction loss: mean (nn.MSELoss over batch and features, the code) | "
        "sum_features (‖x − x̂‖² per sample, the paper).",
    )
    entropy_per_pair: bool = setting(
        True,
        "Entropy term added per view pair with log k (the code, true) | once per view (the "
        "paper, false).",
    )
    pseudo_label_scaling: Literal["minmax", "none"] = setting(
        "minmax",
        "k-means pseudo-labels on min-max scaled H^v (minmax, the code) | on H^v (none, the "
        "paper).",
    )
    pseudo_label_n_init: int = setting(
        100, "k-means restarts of the pseudo-labels (code 100; seeded from the run's seed)."
    )
    finetune_ce: Literal["probs_as_logits", "log_probs"] = setting(
        "probs_as_logits",
        "Fine-tuning cross-entropy: probs_as_logits (softmax output passed as logits, the "
        "code) | log_probs (−Σ P̂ log Q, the paper).",
    )
    finetune_batch: Literal["full", "batch"] = setting(
        "full",
        "Stage 3: full (one full-batch step per epoch in fixed order, the code) | batch (the "
        "stage 1–2 batches).",
    )
    batch_size_cap: Literal["n_samples", "none"] = setting(
        "n_samples",
        "n_samples: B = min(batch_size, N) so that small data trains (a suite choice) | none "
        "(the code: N < B trains nothing in stages 1–2).",
    )
    eval_labels: Literal["mean_q", "per_view_q", "kmeans_h"] = setting(
        "mean_q",
        "Prediction: mean_q (argmax of the views' mean q, the paper's rule); per_view_q and "
        "kmeans_h are refused (no single soft assignment).",
    )
    preprocess: Literal["minmax_feature", "none"] = setting(
        "minmax_feature",
        "Scaling of the views for MFLVC runs, instead of preprocessing.scaling: minmax_feature "
        "(per feature [0, 1], the Caltech loader and protocol.md) | none (BDGP, MNIST-USPS, "
        "Fashion loaders).",
    )

    def check(self) -> None:
        for key in ("mse_epochs", "con_epochs", "tune_epochs"):
            value = getattr(self, key)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ValueError(f"{key} = {value!r}: a whole number of epochs, 0 or more")
        for key in ("batch_size", "feature_dim", "high_feature_dim", "pseudo_label_n_init"):
            value = getattr(self, key)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{key} = {value!r}: a whole number, 1 or more")
        for key in ("lr", "temperature_f", "temperature_l"):
            if not getattr(self, key) > 0:
                raise ValueError(f"{key} = {getattr(self, key)!r}: a positive number")
        if self.feature_head_layers != 1:
            raise ValueError(
                f"feature_head_layers = {self.feature_head_layers!r}: only 1 is supported (one "
                "Linear L → high_feature_dim, the authors' code); the spec names no widths or "
                "activations for more layers"
            )
        if self.reset_optimizer_per_stage:
            raise ValueError(
                "reset_optimizer_per_stage = true is not supported yet: the training loop owns "
                "one Adam for the whole run (the code's choice, false)"
            )
        if self.eval_labels != "mean_q":
            raise ValueError(
                f"eval_labels = {self.eval_labels!r} is not supported: it gives one hard "
                "prediction per view, while a run records one soft assignment (N × k); use "
                "'mean_q' (argmax of the views' mean q^v, the paper's rule)"
            )

    @property
    def total_epochs(self) -> int:
        """Epochs of all three stages."""
        return self.mse_epochs + self.con_epochs + self.tune_epochs

    def stage(self, epoch: int) -> int:
        """The stage (1 pre-training, 2 contrastive, 3 fine-tuning) of 1-based `epoch`."""
        if not 1 <= epoch <= self.total_epochs:
            raise ValueError(f"epoch {epoch} is outside 1…{self.total_epochs} of this schedule")
        if epoch <= self.mse_epochs:
            return 1
        if epoch <= self.mse_epochs + self.con_epochs:
            return 2
        return 3

    def scaling(self) -> str | None:
        """`preprocess`, the view scaling of MFLVC runs."""
        return self.preprocess

    def for_variant(self, variant: str) -> MFLVCConfig:
        """The configuration a variant trains with (no-finetune: `tune_epochs` 0)."""
        if not variant_terms(variant).finetune:
            return dataclasses.replace(self, tune_epochs=0)
        return self
