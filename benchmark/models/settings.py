"""Hyper-parameters of GIB and CLIB, with the spec's defaults: the one place they are written
(spec/GIB.md, spec/CLIB.md). The config schema repeats them so that Snakemake can fill them in,
and tests/test_config.py checks the two agree, both ways.

Torch-free: the Snakefile's checks and the CLI's read these classes without loading a model."""

from __future__ import annotations

import dataclasses
import math
import typing
from dataclasses import dataclass, field
from typing import Any, Literal, Self

SigmaParam = Literal["softplus_offset", "exp_logvar"]
KlReduction = Literal["mean", "sum"]
FeatureMiInput = Literal["normalised", "softmax"]
Init = Literal["torch_default", "he"]


@dataclass(frozen=True)
class DeepConfig:
    """Adam at `lr`, `epochs` of batches of `batch_size`; MLP encoders d → encoder_hidden →
    latent_dim (variational or not); heads latent_dim → head_hidden → k. Spec defaults.

    Revised keys (spec "Revised" lines; the first reading is config/resolutions/first-reading.yaml):
    `sigma_param` / `sigma_offset` (σ of the variational encoder), `kl_reduction` (of the VIB
    KL), `feature_mi_input` (feature-level Proposition-1 MI). Left to the code by the paper, so
    the authors' code lineage (DanielTrosten/mvc) gives the default: `init` (He normal) and
    `grad_clip` (gradient norm 5).
    """

    alpha: float = 0.5
    beta: float = 0.5
    epochs: int = 100
    batch_size: int = 256
    lr: float = 1e-4
    encoder_hidden: tuple[int, ...] = (512, 512)
    latent_dim: int = 256
    head_hidden: int = 100
    variational: bool = True
    sigma_param: SigmaParam = "softplus_offset"
    sigma_offset: float = 5.0
    kl_reduction: KlReduction = "mean"
    feature_mi_input: FeatureMiInput = "normalised"
    init: Init = "he"
    grad_clip: float | None = 5.0
    mi_eps: float = 1e-9
    min_batch_factor: int = 2  # a last batch < factor·k samples joins the previous one

    def __post_init__(self) -> None:
        for name, choices in literal_choices(type(self)).items():
            value = getattr(self, name)
            if value not in choices:
                raise ValueError(
                    f"{name} = {value!r}: expected one of {', '.join(map(repr, choices))}"
                )
        if self.grad_clip is not None and not self.grad_clip > 0:
            raise ValueError(f"grad_clip = {self.grad_clip!r}: a positive number, or null for none")
        if not math.isfinite(self.sigma_offset):
            raise ValueError(f"sigma_offset = {self.sigma_offset!r}: must be a finite number")

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> Self:
        """From a config section (lists where the dataclass has tuples)."""
        values = dict(values)
        if "encoder_hidden" in values:
            values["encoder_hidden"] = tuple(values["encoder_hidden"])
        return cls(**values)


def literal_choices(cls: type) -> dict[str, tuple[Any, ...]]:
    """The allowed values of every field of dataclass `cls` typed as a Literal."""
    hints = typing.get_type_hints(cls)
    return {
        f.name: typing.get_args(hints[f.name])
        for f in dataclasses.fields(cls)
        if typing.get_origin(hints[f.name]) is Literal
    }


@dataclass(frozen=True)
class BallSettings:
    """Granular-ball hyper-parameters (config keys `gib.balls.*`; defaults: GIB §3.1)."""

    theta: float = 0.9
    n_th: float = 1.0
    min_ball_size: int = 2
    max_split_rounds: int = 10
    kmeans_iters: int = 20


@dataclass(frozen=True)
class GIBConfig(DeepConfig):
    """Every resolved choice of spec/GIB.md, with the spec's default (config keys `gib.*`)."""

    ddc_input: Literal["balls", "samples"] = "balls"
    eval_input: Literal["samples", "balls"] = "samples"
    ddc2: Literal["clusters", "samples"] = "clusters"
    rel_sigma: float = 0.15
    balls: BallSettings = field(default_factory=BallSettings)

    @classmethod
    def from_dict(cls, values: dict) -> GIBConfig:
        values = dict(values)
        balls = BallSettings(**values.pop("balls", {}))
        return super().from_dict({**values, "balls": balls})


@dataclass(frozen=True)
class CLIBConfig(DeepConfig):
    """Every resolved choice of spec/CLIB.md, with the spec's default (config keys `clib.*`)."""

    screen_frac: float = 0.5
    warmup_epochs: int = 20
    head_init_steps: int = 200
    # The spec gives no optimiser for the head initialisation: Adam at this rate, batches of
    # `batch_size` drawn from all samples (a config key, our choice).
    head_init_lr: float = 1e-3
    kmeans_n_init: int = 10
    detach_cali: bool = True

    def for_variant(self, variant: str) -> CLIBConfig:
        """The configuration a variant trains with (no-warmup: 0 epochs; backprop: no detach)."""
        from benchmark.catalogue import variant_terms  # the catalogue reads this module

        terms = variant_terms("CLIB", variant)
        changes: dict[str, Any] = {}
        if not terms.warmup:
            changes["warmup_epochs"] = 0
        if terms.cali_backprop:
            changes["detach_cali"] = False
        return dataclasses.replace(self, **changes)


# Keys of a deep method's config section that are not hyper-parameters of the model: they
# select runs (variants, grid) or say how a run executes (embeddings_at, device, threads).
# Every other key of the section is a field of its config class (tests/test_config.py checks
# it both ways, so that a new schema key cannot be left out of a run's --hparams).
WORKFLOW_KEYS = ("variants", "grid", "embeddings_at", "device", "threads")
# Hyper-parameters the workflow sets per run from the run's path (grid points are runs).
PATH_KEYS = ("alpha", "beta")
