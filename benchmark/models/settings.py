"""Hyper-parameters GIB and CLIB share: the training protocol and the encoder/head sizes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Self


@dataclass(frozen=True)
class DeepConfig:
    """Adam at `lr`, `epochs` of batches of `batch_size`; MLP encoders d → encoder_hidden →
    latent_dim (variational or not); heads latent_dim → head_hidden → k. Spec defaults."""

    alpha: float = 0.5
    beta: float = 0.5
    epochs: int = 100
    batch_size: int = 256
    lr: float = 1e-4
    encoder_hidden: tuple[int, ...] = (512, 512)
    latent_dim: int = 256
    head_hidden: int = 100
    variational: bool = True
    mi_eps: float = 1e-9
    min_batch_factor: int = 2  # a last batch < factor·k samples joins the previous one

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> Self:
        """From a config section (lists where the dataclass has tuples)."""
        values = dict(values)
        if "encoder_hidden" in values:
            values["encoder_hidden"] = tuple(values["encoder_hidden"])
        return cls(**values)
