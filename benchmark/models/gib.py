"""GIB: Granular Information Bottleneck (spec/GIB.md), its losses and its ablations.

L_total = L_Balls + L_Samples + L_DDC (Eq. 2), with
- L_Balls   = α Σ_{i<j} I(C^i; C^j) − β Σ_i I(C^i; C^s)                          (Eq. 5)
- L_Samples = α [Σ_i I(X^i; H^i) + Σ_{i<j} I(Y^i; Y^j)] − β Σ_i I(Y^i; Y^s)          (Eq. 6)
- L_DDC     = DDC1 + DDC2 + DDC3 on the fused assignment Y^s                        (Eq. 7)
Ablations (Table 2): DDC, DDC+Balls, DDC+Samples, GIB (all three).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from itertools import combinations
from typing import Literal

import torch

from benchmark.losses import ddc_terms, gaussian_kl, mutual_information
from benchmark.models.granular import Balls, BallSettings, granular_balls
from benchmark.models.layers import (
    ClusteringHead,
    FusedEncoders,
    running_stats_frozen,
)
from benchmark.models.settings import DeepConfig

VARIANTS: dict[str, tuple[bool, bool]] = {  # variant → (L_Balls on, L_Samples on)
    "DDC": (False, False),
    "DDC+Balls": (True, False),
    "DDC+Samples": (False, True),
    "GIB": (True, True),
}
TERMS = (
    "ddc1",
    "ddc2",
    "ddc3",
    "vib",
    "mi_yy",
    "mi_ys",
    "mi_cc",
    "mi_cs",
    "L_DDC",
    "L_Samples",
    "L_Balls",
    "total",
)


@dataclass(frozen=True)
class GIBConfig(DeepConfig):
    """Every resolved choice of spec/GIB.md, with the spec's default (config keys `gib.*`)."""

    ball_representation: Literal["softmax"] = "softmax"
    ddc2: Literal["clusters", "samples"] = "clusters"
    rel_sigma: float = 0.15
    balls: BallSettings = field(default_factory=BallSettings)

    @classmethod
    def from_dict(cls, values: dict) -> GIBConfig:
        values = dict(values)
        balls = BallSettings(**values.pop("balls", {}))
        return super().from_dict({**values, "balls": balls})


@dataclass
class GIBOutput:
    h: list[torch.Tensor]  # per view, B × latent (sampled in training, μ in eval)
    mu: list[torch.Tensor]
    logvar: list[torch.Tensor | None]
    hs: torch.Tensor  # fused representation H^s
    y: list[torch.Tensor]  # per-view assignments Y^i = DDC(H^i)
    ys: torch.Tensor  # fused assignment Y^s (the clustering)
    zs: torch.Tensor  # DDC hidden activations of the fused pass


class GIB(FusedEncoders):
    """Variational encoders, softmax fusion and one DDC module shared by all modalities."""

    def __init__(self, input_dims: list[int], n_clusters: int, config: GIBConfig) -> None:
        super().__init__(input_dims, n_clusters, config)
        # Spec's resolution: one DDC module for Y^i and Y^s, so cluster ids are comparable.
        self.ddc = ClusteringHead(config.latent_dim, n_clusters, config.head_hidden)

    def forward(self, views: list[torch.Tensor], per_view: bool = True) -> GIBOutput:
        h, mu, logvar, hs = self.encode(views)
        ys, zs = self.ddc(hs)
        y = []
        if per_view:
            # BatchNorm running statistics follow the fused pathway, the one evaluation uses
            # (argmax Y^s); per-view passes normalise with their batch statistics as usual.
            with running_stats_frozen(self.ddc):
                y = [self.ddc(hi)[0] for hi in h]
        return GIBOutput(
            h=h,
            mu=mu,
            logvar=logvar,
            hs=hs,
            y=y,
            ys=ys,
            zs=zs,
        )


def _ball_probabilities(balls: Balls, h: torch.Tensor) -> torch.Tensor:
    """C^i as the MI estimator needs it: softmax over the features of each sample's centre.

    Spec's resolution: Proposition 1 needs probability rows; C rows are feature vectors.
    """
    return torch.softmax(balls.sample_centres(h), dim=1)


@dataclass
class StepResult:
    terms: dict[str, torch.Tensor]
    balls: list[Balls]  # per view, then the fused representation (empty without L_Balls)
    ball_seconds: float = 0.0  # time spent generating granular balls


def _synchronise(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def gib_loss(model: GIB, out: GIBOutput, variant: str, generator: torch.Generator) -> StepResult:
    """All loss terms of one training step for an ablation variant (inactive terms absent)."""
    if variant not in VARIANTS:
        raise ValueError(f"unknown GIB variant {variant!r}; expected one of {list(VARIANTS)}")
    use_balls, use_samples = VARIANTS[variant]
    cfg = model.config
    mi = lambda p, q: mutual_information(p, q, cfg.mi_eps)  # noqa: E731
    terms = ddc_terms(out.ys, out.zs, cfg.rel_sigma, cfg.ddc2)
    terms["L_DDC"] = terms["ddc1"] + terms["ddc2"] + terms["ddc3"]
    total = terms["L_DDC"]
    pairs = list(combinations(range(len(out.h)), 2))

    if use_samples:
        zero = out.ys.new_zeros(())
        terms["vib"] = sum(
            (
                gaussian_kl(m, lv)
                for m, lv in zip(out.mu, out.logvar, strict=True)
                if lv is not None
            ),
            zero,
        )
        terms["mi_yy"] = sum((mi(out.y[i], out.y[j]) for i, j in pairs), zero)
        terms["mi_ys"] = sum((mi(yi, out.ys) for yi in out.y), zero)
        terms["L_Samples"] = cfg.alpha * (terms["vib"] + terms["mi_yy"]) - cfg.beta * terms["mi_ys"]
        total = total + terms["L_Samples"]

    balls: list[Balls] = []
    ball_seconds = 0.0
    if use_balls:
        reps = [*out.h, out.hs]
        _synchronise(out.hs.device)
        t0 = time.perf_counter()
        balls = [granular_balls(r, model.n_clusters, cfg.balls, generator) for r in reps]
        _synchronise(out.hs.device)
        ball_seconds = time.perf_counter() - t0
        c = [_ball_probabilities(b, r) for b, r in zip(balls, reps, strict=True)]
        cs = c.pop()
        zero = out.ys.new_zeros(())
        terms["mi_cc"] = sum((mi(c[i], c[j]) for i, j in pairs), zero)
        terms["mi_cs"] = sum((mi(ci, cs) for ci in c), zero)
        terms["L_Balls"] = cfg.alpha * terms["mi_cc"] - cfg.beta * terms["mi_cs"]
        total = total + terms["L_Balls"]

    terms["total"] = total
    return StepResult(terms=terms, balls=balls, ball_seconds=ball_seconds)
