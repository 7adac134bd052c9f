"""Settings of deep methods, composed from key groups (torch-free).

Every deep method's config class is a frozen dataclass built from `TrainingSettings` (the keys
every method has: batch size, learning rate, initialisation, gradient clipping) and the key
groups it uses: `Epochs` (one schedule of `epochs`), `IBSettings` (α, β and the variational
encoder of GIB and CLIB), and the method's own keys in its folder's `config.py`. Fields typed
as a Literal are checked on construction; `from_dict` turns a config section into the class.
The Snakefile's checks and the CLI read these classes without loading torch.
"""

from __future__ import annotations

import dataclasses
import math
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, Self, TypeVar

Init = Literal["torch_default", "he"]
SigmaParam = Literal["softplus_offset", "exp_logvar"]
KlReduction = Literal["mean", "sum"]
Compression = Literal["gaussian_kl", "cluster_balance", "sampled", "none"]
COMPRESSION_READINGS: tuple[str, ...] = ("gaussian_kl", "cluster_balance", "sampled", "none")
READING_KEY = "compression"  # the key whose readings are rows of the tables and claims
# Each reading of I(X; H) in words (a table row's label says which one it shows).
COMPRESSION_WORDS = {
    "gaussian_kl": "I(X;H) as the analytic KL to N(0, I)",
    "cluster_balance": "I(X;H) as cluster balance vs uniform",
    "sampled": "I(X;H) as the KL sampled at the draw",
    "none": "no I(X;H) term",
}


def reading_words(reading: str) -> str:
    """A reading of the compression term in words ("" = the configured reading)."""
    return COMPRESSION_WORDS.get(reading, reading) if reading else "configured"


FeatureMiInput = Literal["normalised", "softmax"]


def literal_choices(cls: type) -> dict[str, tuple[Any, ...]]:
    """The allowed values of every field of dataclass `cls` typed as a Literal."""
    hints = typing.get_type_hints(cls)
    return {
        f.name: typing.get_args(hints[f.name])
        for f in dataclasses.fields(cls)
        if typing.get_origin(hints[f.name]) is Literal
    }


def _tuple_fields(cls: type) -> set[str]:
    hints = typing.get_type_hints(cls)
    return {
        f.name
        for f in dataclasses.fields(cls)
        if typing.get_origin(hints[f.name]) is tuple or hints[f.name] is tuple
    }


@dataclass(frozen=True)
class TrainingSettings:
    """Keys every deep method has: Adam at `lr` (no weight decay) over batches of
    `batch_size`; `init` of the linear layers (`he`: He normal, DanielTrosten/mvc;
    `torch_default`); `grad_clip` the whole model's gradient norm (null: none)."""

    batch_size: int = 256
    lr: float = 1e-4
    init: Init = "he"
    grad_clip: float | None = 5.0

    def __post_init__(self) -> None:
        for name, choices in literal_choices(type(self)).items():
            value = getattr(self, name)
            if value not in choices:
                raise ValueError(
                    f"{name} = {value!r}: expected one of {', '.join(map(repr, choices))}"
                )
        if self.grad_clip is not None and not self.grad_clip > 0:
            raise ValueError(f"grad_clip = {self.grad_clip!r}: a positive number, or null for none")
        self.check()

    def check(self) -> None:
        """Method-specific checks (ValueError naming the key); none by default."""

    @property
    def total_epochs(self) -> int:
        """Epochs the training loop runs (all stages)."""
        raise NotImplementedError(f"{type(self).__name__} does not say how many epochs it runs")

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> Self:
        """From a config section (lists where the dataclass has tuples)."""
        values = dict(values)
        for name in _tuple_fields(cls) & set(values):
            values[name] = tuple(values[name])
        return cls(**values)


@dataclass(frozen=True)
class Epochs:
    """One schedule of `epochs` epochs."""

    epochs: int = 100

    @property
    def total_epochs(self) -> int:
        return self.epochs


@dataclass(frozen=True)
class IBSettings:
    """α, β and the variational encoders of the information-bottleneck methods (GIB, CLIB):
    MLP encoders d → encoder_hidden → latent_dim, heads latent_dim → head_hidden → k.

    Revised keys (spec "Revised" lines; the first reading is config/resolutions/first-reading.yaml):
    `sigma_param` / `sigma_offset` (σ of the variational encoder), `kl_reduction` (of the VIB
    KL), `feature_mi_input` (feature-level Proposition-1 MI). `compression`, what stands for
    I(X^i; H^i) (Theorem 2; each reading is a row of the tables, `readings` in the config):
    `gaussian_kl` (default, the analytic VIB KL against N(0, I)), `cluster_balance` (KL of the
    batch's mean assignment of each view against the uniform distribution over the k clusters,
    `benchmark.losses.balance`), `sampled` (the same KL estimated at the reparameterised draw,
    `benchmark.losses.vib.sampled_kl`) or `none` (no compression term)."""

    alpha: float = 0.5
    beta: float = 0.5
    encoder_hidden: tuple[int, ...] = (512, 512)
    latent_dim: int = 256
    head_hidden: int = 100
    variational: bool = True
    sigma_param: SigmaParam = "softplus_offset"
    sigma_offset: float = 5.0
    kl_reduction: KlReduction = "mean"
    compression: Compression = "gaussian_kl"
    feature_mi_input: FeatureMiInput = "normalised"
    mi_eps: float = 1e-9
    min_batch_factor: int = 2  # a last batch < factor·k samples joins the previous one

    def check(self) -> None:
        if not math.isfinite(self.sigma_offset):
            raise ValueError(f"sigma_offset = {self.sigma_offset!r}: must be a finite number")


@dataclass(frozen=True)
class BallSettings:
    """Granular-ball hyper-parameters (config keys `gib.balls.*`; defaults: GIB §3.1)."""

    theta: float = 0.9
    n_th: float = 1.0
    min_ball_size: int = 2
    max_split_rounds: int = 10
    kmeans_iters: int = 20
    # Not a reading of the paper but the code's: `batched` (default) gives each representation
    # of a run its own generator, so that all of a step's balls are one call, and scores each
    # row of a 2-means split against its own ball's two centres; `sequential` is the code before
    # (the first reading's runs reproduce it): one generator for every representation in turn,
    # one call each, each row scored by one product with every ball's centres.
    implementation: Literal["batched", "sequential"] = "batched"

    def __post_init__(self) -> None:
        if self.implementation not in ("batched", "sequential"):
            raise ValueError(
                f"balls.implementation = {self.implementation!r}: expected batched or sequential"
            )


Terms = TypeVar("Terms")


def variant_entry(method: str, variant: str, variants: Mapping[str, Terms]) -> Terms:
    """A method's entry for `variant` in its VARIANTS; ValueError naming the known variants."""
    if variant not in variants:
        raise ValueError(f"unknown {method} variant {variant!r}; expected one of {list(variants)}")
    return variants[variant]
