"""SiMVC's settings and variants (torch-free): every resolved choice of spec/SiMVC-CoMVC.md, with
the spec's default (config keys `simvc.*`)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from mmcbench.core.settings import (
    Epochs,
    Init,
    TrainingSettings,
    redescribe,
    setting,
    variant_entry,
)

Encoder = Literal["mvc_mlp", "deepmvc_dense5"]
Fusion = Literal["weighted_mean", "mean"]
Ddc2 = Literal["samples", "clusters"]
Preprocess = Literal["none", "minmax_feature", "minmax_global"]
NmiAverage = Literal["geometric", "arithmetic"]
CheckpointSelect = Literal["min_eval_ddc1", "last"]
RunSelectLoss = Literal["ddc_1", "tot"]


@dataclass(frozen=True)
class MVCTerms:
    """The loss terms a variant of SiMVC / CoMVC trains with (DDC1–3 always)."""

    contrast: bool  # CoMVC's contrastive term δ · min_v w_v · L_con


VARIANTS: dict[str, MVCTerms] = {"SiMVC": MVCTerms(contrast=False)}


def variant_terms(variant: str, variants: dict[str, MVCTerms] = VARIANTS) -> MVCTerms:
    """The terms `variant` keeps; ValueError naming the known variants otherwise."""
    return variant_entry("SiMVC/CoMVC", variant, variants)


def _whole(value: object, minimum: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= minimum


@dataclass(frozen=True)
class SiMVCConfig(Epochs, TrainingSettings):
    """Every resolved choice of spec/SiMVC-CoMVC.md for SiMVC, with the spec's default
    (DanielTrosten/mvc's global defaults; the per-dataset tunings are alternatives).

    Training (spec "Training"):
    - `epochs` (100): `n_epochs`.
    - `batch_size` (100): shuffled full batches (drop_last); when the dataset has fewer samples
      than `batch_size`, one batch of all of them (a suite choice: mvc would train nothing).
    - `lr` (1e-3): Adam's learning rate (default betas and eps, no weight decay).
    - `init` ("he"): He-normal weights of every Linear (the DDC head included), biases and BN
      parameters at PyTorch's defaults (mvc's `he_init_weights`) | "torch_default".
    - `grad_clip` (None): mvc's `clip_norm=5.0` has no effect in its code (the clipping sees
      an exhausted parameter generator) | 5.0, the stated intent.
    - `lr_step` (None): no scheduler | a pair [step_size, gamma]: StepLR stepping once per
      epoch, lr = lr · gamma^⌊(epoch − 1) / step_size⌋ at 1-based `epoch` (the trainer's
      `lr_factor`, applied by the loop). Per-dataset tunings: [50, 0.1] (VOC SiMVC, CCV
      CoMVC), [50, 0.5] (RGB-D CoMVC).
    - `preprocess` ("none"): views as stored (mvc) | "minmax_feature" (per-feature [0, 1],
      MFLVC's Caltech loader and protocol.md) | "minmax_global" (one min and max per view
      matrix, DeepMVC's Caltech loader). The loop scales; the trainer never does.

    Architecture (spec "Architecture"):
    - `encoder` ("mvc_mlp"): d_v → 512 → 512 → 256, Linear + ReLU each, the last included, no
      BN | "deepmvc_dense5": 4 × [Linear 1024 → BN → ReLU] → Linear 256 (DeepMVC's Caltech
      encoder).
    - `fusion` ("weighted_mean"): z = Σ_v softmax(ω)_v z^(v), ω trained | "mean" (w_v = 1/V).
    - `n_hidden` (100): units of the DDC head's hidden layer (Linear → ReLU → BN).

    Losses (spec "Losses"):
    - `ddc2` ("samples"): DDC2 = 2/(B(B−1)) Σ_{i<j} (AAᵀ)_ij (mvc's `ddc_2`) | "clusters":
      2/(k(k−1)) Σ_{a<b} (AᵀA)_ab (`ddc_2_flipped`).
    - `rel_sigma` (0.15): σ² = rel_sigma · median of the batch's squared distances.

    Evaluation and selection (read by the suite's protocol; they do not change training):
    - `nmi_average` ("geometric"): NMI's normalisation in mvc | "arithmetic" (protocol.md).
    - `checkpoint_select` ("min_eval_ddc1"): per run, the evaluated epoch (4, 8, …) with the
      lowest eval DDC1 (mvc's best.pt, label-free) | "last": the last epoch.
    - `run_select_loss` ("ddc_1"): across runs, mvc reports the one run with the lowest eval
      ddc_1 | "tot" (the loss-ablation scripts' `--best_loss_term tot`).
    """

    batch_size: int = setting(
        100,
        "Batch size (mvc 100; shuffled full batches, drop_last; one batch of all samples when "
        "the dataset is smaller).",
    )
    lr: float = setting(1e-3, "Adam learning rate (mvc 1e-3; default betas, no weight decay).")
    init: Init = redescribe(
        TrainingSettings,
        "init",
        "Linear-layer initialisation: he (mvc's he_init_weights, DDC included) | torch_default.",
    )
    grad_clip: float | None = setting(
        None,
        "Gradient-norm clipping: null (mvc's effective behaviour, its clip_norm never reaches "
        "the parameters) | 5.0 (the stated intent).",
    )
    epochs: int = redescribe(Epochs, "epochs", "Training epochs (mvc n_epochs 100).")
    encoder: Encoder = setting(
        "mvc_mlp",
        "Encoders: mvc_mlp (d → 512 → 512 → 256, ReLU after each, mvc) | deepmvc_dense5 "
        "(DeepMVC's Caltech encoder).",
    )
    fusion: Fusion = setting(
        "weighted_mean",
        "Fusion: weighted_mean (softmax weights, every shipped mvc config) | mean (fixed 1/V; "
        "not with CoMVC's adaptive weight).",
    )
    n_hidden: int = setting(100, "Hidden units of the DDC clustering module (mvc 100).")
    ddc2: Ddc2 = setting(
        "samples",
        "DDC2: samples (sample-wise orthogonality, mvc's ddc_2) | clusters (ddc_2_flipped).",
    )
    rel_sigma: float = setting(
        0.15, "σ² of the DDC kernel relative to the median squared distance (mvc 0.15)."
    )
    lr_step: tuple[int, float] | None = setting(
        None,
        "StepLR [step_size, gamma] stepping once per epoch, or null (mvc's generic default; "
        "per-dataset tunings use e.g. [50, 0.1]).",
        items={"type": "number"},
    )
    preprocess: Preprocess = setting(
        "none",
        "Scaling of the views for this method, instead of preprocessing.scaling: none (views as "
        "stored, mvc) | minmax_feature (per feature [0, 1], protocol.md) | minmax_global (one "
        "min and max per view, DeepMVC).",
    )
    nmi_average: NmiAverage = setting(
        "geometric",
        "NMI of mvc's own evaluation: geometric (mvc) | arithmetic (protocol.md); read by the "
        "selection protocols, not by training.",
    )
    checkpoint_select: CheckpointSelect = setting(
        "min_eval_ddc1",
        "mvc's checkpoint rule: min_eval_ddc1 (lowest evaluation ddc_1 among every 4th epoch, "
        "label-free) | last; read by the selection protocols, not by training.",
    )
    run_select_loss: RunSelectLoss = setting(
        "ddc_1",
        "mvc's run selection across seeds: ddc_1 (mvc) | tot (its loss-ablation scripts); read "
        "by the selection protocols, not by training.",
    )

    def __post_init__(self) -> None:
        if isinstance(self.lr_step, list):  # a config file's [step_size, gamma]
            object.__setattr__(self, "lr_step", tuple(self.lr_step))
        super().__post_init__()

    def check(self) -> None:
        if not _whole(self.epochs, 0):
            raise ValueError(f"epochs = {self.epochs!r}: a whole number of epochs, 0 or more")
        if not _whole(self.batch_size, 2):
            raise ValueError(
                f"batch_size = {self.batch_size!r}: a whole number, 2 or more (BatchNorm and "
                "DDC2 need two samples)"
            )
        if not _whole(self.n_hidden, 1):
            raise ValueError(f"n_hidden = {self.n_hidden!r}: a whole number, 1 or more")
        for key in ("lr", "rel_sigma"):
            value = getattr(self, key)
            if isinstance(value, bool) or not (value > 0 and math.isfinite(value)):
                raise ValueError(f"{key} = {value!r}: a positive number")
        if self.lr_step is not None:
            step = self.lr_step
            if not (
                isinstance(step, tuple)
                and len(step) == 2
                and _whole(step[0], 1)
                and not isinstance(step[1], bool)
                and isinstance(step[1], int | float)
                and step[1] > 0
            ):
                raise ValueError(
                    f"lr_step = {step!r}: null, or a pair [step_size, gamma] with step_size a "
                    "whole number of epochs ≥ 1 and gamma > 0"
                )

    def scaling(self) -> str | None:
        """`preprocess`, the view scaling of this method's runs."""
        return self.preprocess

    def lr_factor(self, epoch: int) -> float:
        """The factor of `lr` in 1-based `epoch`: gamma^⌊(epoch − 1)/step_size⌋ under `lr_step`
        (mvc steps its StepLR at the start of every epoch but the first), else 1."""
        if self.lr_step is None:
            return 1.0
        step_size, gamma = self.lr_step
        return float(gamma) ** ((epoch - 1) // step_size)
