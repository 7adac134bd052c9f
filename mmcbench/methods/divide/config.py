"""DIVIDE's settings and variants (torch-free): every resolved choice of spec/DIVIDE.md, with the
spec's default (config keys `divide.*`).

`DIVIDEConfig` is a frozen dataclass of its own rather than a subclass of
`mmcbench.core.settings.TrainingSettings`: DIVIDE's learning rate is not a key but derived,
`lr = blr · batch_size / 256` (the code's rule), and a dataclass cannot turn the inherited field
`lr` into a read-only property (its generated `__init__` would assign it). The class therefore
has `batch_size`, `init` and `grad_clip` as fields, `blr` in place of `lr`, `lr` as a property,
and the hooks of `TrainingSettings` (`check`, `for_variant`, `config_problems`, `inert_reason`,
`scaling`, `total_epochs`, `from_dict`) with the same meaning.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal, Self

from mmcbench.core.settings import (
    Init,
    TrainingSettings,
    literal_choices,
    setting,
    variant_entry,
)

TargetMode = Literal["train", "eval"]
LossReduction = Literal["mean_entries", "mean_rows"]
ViewPairs = Literal["all_pairs_mean", "all_pairs_sum", "fused", "first_two"]
CrossDecoder = Literal["per_view", "per_pair"]
Shuffle = Literal["fixed_permutation", "reshuffle_each_epoch"]
EvalFeatures = Literal["target_decoder", "target_z", "online_z"]
SoftAssign = Literal["none", "centroid_softmax"]
DataNorm = Literal["standard", "min-max", "l2-norm"]

ADAM_BETAS = (0.9, 0.99)  # the code's Adam (eps 1e-8, torch's default; no weight decay)
LR_BATCH = 256  # lr = blr · batch_size / LR_BATCH


@dataclass(frozen=True)
class DIVIDETerms:
    """What a variant keeps of DIVIDE (the spec names no variant but the full model)."""


VARIANTS: dict[str, DIVIDETerms] = {"DIVIDE": DIVIDETerms()}


def variant_terms(variant: str) -> DIVIDETerms:
    """The parts `variant` keeps; ValueError naming the known variants otherwise."""
    return variant_entry("DIVIDE", variant, VARIANTS)


def _whole(value: object, minimum: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= minimum


def _positive(value: object) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and value > 0
    )


@dataclass(frozen=True)
class DIVIDEConfig:
    """Every resolved choice of spec/DIVIDE.md, with the spec's default (the authors' code,
    XLearning-SCU/2024-AAAI-DIVIDE c31e2a8, and its shipped configs).

    Training (spec "Training"): `epochs` 200 of one phase; Adam with betas `adam_betas`
    (0.9, 0.99) at `lr` = `blr` · `batch_size` / 256 (a property: 2e-3 at the defaults),
    computed from the configured `batch_size` before B is capped to N; a linear warm-up over
    `warmup_epochs` set at every step (the trainer's `step_lr_factor`); B = min(batch_size, N),
    drop_last; the batches of every epoch are one fixed permutation (`shuffle`).
    Objective (spec "Losses", "More than two views"): soft-target InfoNCE between the online
    queries and the EMA target's keys, targets I until `rectify_start_epoch`, the random-walk
    matrix A^v after (`rw_sigma`, `rw_steps`, `rw_alpha`).
    Evaluation: k-means on the L2-normalised concatenation of the views' `eval_features`.
    Data: each view scaled by `data_norm` in the trainer (`scaling()` is "none": the loop's
    scale_view has no z-scoring, so the trainer scales the raw stored views itself).
    """

    epochs: int = setting(200, "Training epochs (code's argparse default 200).", minimum=0)
    batch_size: int = setting(
        1024,
        "Batch size B (both shipped configs 1024; 256 is the alternative, lr 5e-4); B = min("
        "batch_size, N), the remainder of a permutation dropped (drop_last).",
        minimum=2,
    )
    blr: float = setting(
        5e-4,
        "Base learning rate: Adam's lr = blr · batch_size / 256 (the configured batch_size, "
        "before any cap; code 5e-4, so 2e-3 at B 1024).",
        exclusiveMinimum=0,
    )
    init: Init = setting(
        "torch_default",
        "Linear-layer initialisation: torch_default (PyTorch's, the code) | he (He normal).",
    )
    grad_clip: float | None = setting(
        None, "Gradient-norm clipping (null = none, the code).", exclusiveMinimum=0
    )
    warmup_epochs: int = setting(
        20,
        "Linear lr warm-up, set every step: factor min(1, (e + s/S)/warmup_epochs), e the "
        "0-based epoch, s of S steps (code 20; 0 = none).",
        minimum=0,
    )
    rectify_start_epoch: int = setting(
        100,
        "0-based epoch from which the targets are the random-walk matrices A^v (identity "
        "before: plain InfoNCE); code 100 | 20 (CANDY) | 0.",
        minimum=0,
    )
    momentum: float = setting(
        0.98,
        "m of the target encoders' EMA θ̄ ← m θ̄ + (1 − m) θ at every step (both configs 0.98).",
        minimum=0,
        maximum=1,
    )
    temperature: float = setting(
        0.5, "τ of the soft-target InfoNCE (both configs 0.5).", exclusiveMinimum=0
    )
    drop_rate: float = setting(
        0.2,
        "Dropout after the encoders' hidden blocks but the last (code 0.2).",
        minimum=0,
        maximum=1,
    )
    encoder_dims: tuple[int, ...] = setting(
        (1024, 1024, 1024, 128),
        "Encoder widths after d_v: hidden Linear(no bias)-BN-ReLU blocks, the last width the "
        "embedding (Linear, no bias, then BN without affine); code 1024, 1024, 1024, 128.",
        items={"minimum": 1},
    )
    decoder_hidden: int = setting(
        512, "Hidden width of the cross-view decoder MLP emb → hidden → emb (code 512).", minimum=1
    )
    rw_sigma: float = setting(
        0.1,
        "σ of the random walk's kernel exp(−‖u_i − u_j‖²/σ) (hard-coded 0.1).",
        exclusiveMinimum=0,
    )
    rw_steps: int = setting(5, "t, the random walk's matrix power T^t (hard-coded 5).", minimum=1)
    rw_alpha: float = setting(
        0.5, "α of A = α I + (1 − α) T^t (hard-coded 0.5).", minimum=0, maximum=1
    )
    target_mode: TargetMode = setting(
        "train",
        "Mode of the target encoders in a training step: train (dropout and batch statistics, "
        "the code) | eval (no dropout, running statistics copied from the online encoder at "
        "every EMA update).",
    )
    loss_reduction: LossReduction = setting(
        "mean_entries",
        "InfoNCE reduction: mean_entries (the mean over all B × B entries, the code) | "
        "mean_rows (the mean row cross-entropy, B times larger).",
    )
    view_pairs: ViewPairs = setting(
        "all_pairs_mean",
        "Views beyond two: all_pairs_mean (mean of the V(V−1) directed inter terms plus mean "
        "of the V intra terms; the code's loss for V = 2) | all_pairs_sum | fused (each view "
        "against the other views' fused target) | first_two (the code on views 1 and 2 only).",
    )
    cross_decoder: CrossDecoder = setting(
        "per_view",
        "Cross-view decoders: per_view (one g_u per source view, the code) | per_pair (one "
        "g_{u→v} per ordered pair).",
    )
    shuffle: Shuffle = setting(
        "fixed_permutation",
        "Batches: fixed_permutation (one permutation seeded with the run's seed, reused every "
        "epoch: the code) | reshuffle_each_epoch (a fresh permutation per epoch).",
    )
    kmeans_n_init: int = setting(
        10, "k-means restarts of the evaluation (sklearn < 1.4: 10 | from 1.4: 1).", minimum=1
    )
    eval_features: EvalFeatures = setting(
        "target_decoder",
        "Evaluation feature per view: target_decoder (n(g_v(f̄_v(x))), the code) | target_z "
        "(n(f̄_v(x)), CANDY) | online_z (n(f_v(x))).",
    )
    soft_assign: SoftAssign = setting(
        "none",
        "Assignments recorded: none (k-means one-hot; ECE, NLL and Brier N/A) | "
        "centroid_softmax (p_ic ∝ exp(h_i · n(μ_c) / 0.5)).",
    )
    data_norm: DataNorm = setting(
        "standard",
        "Scaling of each view, by the trainer on the stored views: standard (z-score per "
        "feature over all N, population std, constant features 0; the code) | min-max (per "
        "feature) | l2-norm (per sample).",
    )

    def __post_init__(self) -> None:
        if isinstance(self.encoder_dims, list):  # a config file's list
            object.__setattr__(self, "encoder_dims", tuple(self.encoder_dims))
        for name, choices in literal_choices(type(self)).items():
            value = getattr(self, name)
            if value not in choices:
                raise ValueError(
                    f"{name} = {value!r}: expected one of {', '.join(map(repr, choices))}"
                )
        self.check()

    def check(self) -> None:
        """ValueError naming the key of a value DIVIDE cannot train with."""
        for key, minimum in (
            ("epochs", 0),
            ("warmup_epochs", 0),
            ("rectify_start_epoch", 0),
            ("batch_size", 2),
            ("decoder_hidden", 1),
            ("rw_steps", 1),
            ("kmeans_n_init", 1),
        ):
            if not _whole(getattr(self, key), minimum):
                raise ValueError(
                    f"{key} = {getattr(self, key)!r}: a whole number, {minimum} or more"
                )
        for key in ("blr", "temperature", "rw_sigma"):
            if not _positive(getattr(self, key)):
                raise ValueError(f"{key} = {getattr(self, key)!r}: a positive number")
        if self.grad_clip is not None and not _positive(self.grad_clip):
            raise ValueError(f"grad_clip = {self.grad_clip!r}: a positive number, or null for none")
        for key in ("momentum", "rw_alpha"):
            value = getattr(self, key)
            if isinstance(value, bool) or not (isinstance(value, int | float) and 0 <= value <= 1):
                raise ValueError(f"{key} = {value!r}: a number in [0, 1]")
        if isinstance(self.drop_rate, bool) or not (
            isinstance(self.drop_rate, int | float) and 0 <= self.drop_rate < 1
        ):
            raise ValueError(f"drop_rate = {self.drop_rate!r}: a probability in [0, 1)")
        dims = self.encoder_dims
        if not (isinstance(dims, tuple) and len(dims) >= 2 and all(_whole(d, 1) for d in dims)):
            raise ValueError(
                f"encoder_dims = {dims!r}: two or more whole widths ≥ 1 (hidden blocks, then "
                "the embedding)"
            )
        if self.view_pairs == "fused" and self.cross_decoder == "per_pair":
            raise ValueError(
                "view_pairs = 'fused' with cross_decoder = 'per_pair': the fused term contrasts "
                "g_u(z^u) with one fused target of the other views, so it needs one decoder per "
                "source view (cross_decoder: per_view)"
            )

    @property
    def lr(self) -> float:
        """Adam's peak learning rate, blr · batch_size / 256 (the configured batch_size: the
        code does not rescale it when B is capped to N)."""
        return self.blr * self.batch_size / LR_BATCH

    @property
    def adam_betas(self) -> tuple[float, float]:
        """Adam's betas (the code's (0.9, 0.99); the loop reads them where it can)."""
        return ADAM_BETAS

    @property
    def total_epochs(self) -> int:
        """Epochs the training loop runs (one phase)."""
        return self.epochs

    def rectified(self, epoch: int) -> bool:
        """Whether 1-based `epoch` trains on the random-walk targets A^v: 0-based epoch ≥
        rectify_start_epoch, i.e. 1-based epoch > rectify_start_epoch."""
        return epoch - 1 >= self.rectify_start_epoch

    def warmup_factor(self, epoch: int, step: int, steps: int) -> float:
        """The lr factor at 1-based `step` of `steps` in 1-based `epoch`:
        min(1, ((epoch − 1) + step/steps) / warmup_epochs); 1 without warm-up."""
        if self.warmup_epochs == 0:
            return 1.0
        return min(1.0, ((epoch - 1) + step / max(steps, 1)) / self.warmup_epochs)

    def scaling(self) -> str | None:
        """ "none": the loop hands the stored views unscaled, and the trainer scales them by
        `data_norm` (standard, min-max or l2-norm; the loop's scalings have no z-scoring)."""
        return "none"

    def for_variant(self, variant: str) -> Self:
        """The settings of `variant` (DIVIDE has one: these)."""
        variant_terms(variant)
        return self

    def config_problems(self, section: str, variants: list[str]) -> list[str]:
        """None: every combination check() accepts trains."""
        return []

    @classmethod
    def inert_reason(cls, variant: str, key: str) -> str | None:
        """None: every key acts on DIVIDE."""
        return None

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> Self:
        """From a config section (lists where the dataclass has tuples), as TrainingSettings."""
        return TrainingSettings.from_dict.__func__(cls, values)  # type: ignore[attr-defined]
