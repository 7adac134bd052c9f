"""Hyper-parameters GIB and CLIB share: the training protocol, the encoder/head sizes and the
resolved choices of the spec that both methods have (spec/GIB.md, spec/CLIB.md)."""

from __future__ import annotations

import dataclasses
import math
import typing
from dataclasses import dataclass
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
