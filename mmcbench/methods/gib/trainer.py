"""GIB's trainer: its loss step (alone and packed), ball diagnostics and record fields."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import torch

from mmcbench.methods.gib.model import FUSED, GIB, GIBConfig, GIBOutput, gib_loss
from mmcbench.models.granular import Balls, ball_generators
from mmcbench.training.trainers import (
    EVAL_CHUNK,
    FlooredBatches,
    ReusesEvalEncoding,
    StepOutcome,
    TrainingData,
    encoder_statistic_tensors,
    encoder_statistics,
    noise_generator,
    packed_inputs,
    stacked_call,
    view_statistic_tensors,
)

if TYPE_CHECKING:
    import pandas as pd


def ball_statistic_tensors(balls: Mapping[str, Balls], runs: int) -> dict[str, torch.Tensor]:
    """Per run (K values): number, mean size, single-sample share and purity of one step's
    balls, by name (v0, …, fused; a run without balls has none)."""
    out: dict[str, torch.Tensor] = {}
    for name, b in balls.items():
        for statistic, values in b.per_run(runs).items():
            out[f"{statistic}_{name}"] = values
    return out


def ball_statistics(balls: Mapping[str, Balls]) -> dict[str, float]:
    """`ball_statistic_tensors` of one run, as numbers."""
    return {k: float(v[0]) for k, v in ball_statistic_tensors(balls, 1).items()}


def ball_summary(table: pd.DataFrame, names: Sequence[str]) -> dict[str, dict[str, float]]:
    """Mean over trained epochs of the per-epoch ball diagnostics (empty without L_Balls)."""
    summary = {}
    rows = table[table["epoch"] > 0]
    for name in names:
        if f"balls_{name}" not in table:
            continue
        summary[name] = {
            "n_balls": float(rows[f"balls_{name}"].mean()),
            "mean_size": float(rows[f"ball_size_{name}"].mean()),
            "single_sample_share": float(rows[f"single_{name}"].mean()),
            "mean_purity": float(rows[f"purity_{name}"].mean()),
        }
    return summary


class GIBTrainer(ReusesEvalEncoding, FlooredBatches):
    """GIB or one of its ablations (DDC, DDC+Balls, DDC+Samples)."""

    has_eval_step = True
    packable = True
    config: GIBConfig

    def __init__(
        self, data: TrainingData, variant: str, seed: int, config: GIBConfig, device: torch.device
    ) -> None:
        super().__init__(data, variant, seed, config, device)
        self.model = GIB(data.view_dims, data.n_clusters, self.config).to(device)
        # CPU generators on every device (`ball_generators`): a run draws the same balls on
        # a GPU as on a CPU. One per representation, or one shared (`balls.implementation`).
        self.names = [f"v{i}" for i in range(len(self.views))] + [FUSED]
        self.ball_rngs = ball_generators(seed, self.names, self.config.balls.implementation)
        # ε of this run when it trains in a pack (alone, ε comes from torch's global generator)
        self.noise_rng = noise_generator(seed, device)

    def step(self, idx: torch.Tensor) -> StepOutcome:
        self.end_evaluation()
        out = self.model([v[idx] for v in self.views], self.variant, self.ball_rngs)
        step = gib_loss(self.model, out, self.variant)
        stats = {**ball_statistics(out.balls), **encoder_statistics(out.mu, out.logvar)}
        return StepOutcome(step.terms, stats, {"ball": out.ball_seconds})

    def eval_step(self, idx: torch.Tensor) -> StepOutcome:
        """The step's loss terms in eval mode (H = μ; the balls from generators seeded with the
        run's seed afresh, never the training ones) and per view the mean σ and |μ|. The
        encoders' rows come from the evaluation's `predict` when it ran on this model (the
        same numbers up to the rounding of a larger matrix product), else from a pass."""
        generators = ball_generators(self.seed, self.names, self.config.balls.implementation)
        encoded = self.eval_encoding_rows(idx)
        out = self.model([v[idx] for v in self.views], self.variant, generators, encoded)
        terms = gib_loss(self.model, out, self.variant).terms
        return StepOutcome(terms, view_statistic_tensors(out.mu, out.logvar))

    def pack_step(
        self,
        state: dict[str, torch.Tensor],
        idx: torch.Tensor,
        pack: list[GIBTrainer],
        alpha: torch.Tensor,
        beta: torch.Tensor,
    ) -> StepOutcome:
        """One step of the pack this trainer leads (`mmcbench.training.loop.Stacked`): `idx` holds
        each run's batch (K × B)."""
        views, noise = packed_inputs(self.views, idx, pack, self.config)
        generators = [t.ball_rngs for t in pack]
        return pack_step(self.model, state, views, noise, generators, alpha, beta, self.variant)

    def predict(self, views: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """Assignments and H^s of every sample; on the run's own views, it keeps the encoders'
        output for the eval steps of this evaluation (`end_evaluation` drops it)."""
        encoded = self.model.encode_all(views, EVAL_CHUNK)
        self.keep_eval_encoding(views, encoded)
        return self.model.predict(views, self.seed, EVAL_CHUNK, encoded)

    def fusion_weights(self) -> torch.Tensor:
        return self.model.fusion.weights

    @classmethod
    def config_params(cls, config: GIBConfig) -> dict[str, Any]:
        """The record's hyper-parameters of a run with `config` (the balls' keys flattened)."""
        flat = dataclasses.asdict(config)
        balls = flat.pop("balls")
        flat.update({f"ball_{k}": v for k, v in balls.items()})
        flat["encoder_hidden"] = list(config.encoder_hidden)
        return flat

    def diagnostics(self, history: pd.DataFrame) -> dict[str, Any]:
        return {"balls": ball_summary(history, self.names)}


def pack_step(
    model: GIB,
    state: dict[str, torch.Tensor],
    views: list[torch.Tensor],
    noise: list[torch.Tensor],
    generators: list[dict[str, torch.Generator]],
    alpha: torch.Tensor,
    beta: torch.Tensor,
    variant: str,
) -> StepOutcome:
    """One step of K GIB runs (`views`, `noise`: K × B × d per view; `state`: the stacked
    parameters and buffers): the encoders and the DDC module run vmapped over the runs, the
    balls of all K runs are one partition in between (`make_balls`)."""
    variational = model.config.variational

    def encode(m: GIB, xs, eps):
        h, mu, logvar, hs = m.encode(xs, eps if variational else None)
        return {"h": h, "mu": mu, "hs": hs, **({"logvar": logvar} if variational else {})}

    enc = stacked_call(model, encode, state, views, noise)
    h, hs = enc["h"], enc["hs"]
    wanted = model.ball_inputs(h, hs, variant)
    balls, seconds = model.make_balls({n: r.detach() for n, r in wanted.items()}, generators)
    centres = {name: balls[name].sample_centres(rep) for name, rep in wanted.items()}

    def loss(m: GIB, h, mu, logvar, hs, centres, a, b):
        logvar = logvar if variational else [None] * len(h)
        ys, zs, y = m.cluster(h, hs, centres, variant)
        out = GIBOutput(h, mu, logvar, hs, y, ys, zs, {}, centres)
        return gib_loss(m, out, variant, a, b).terms, encoder_statistic_tensors(mu, logvar)

    logvar = enc["logvar"] if variational else enc["mu"]
    terms, stats = stacked_call(model, loss, state, h, enc["mu"], logvar, hs, centres, alpha, beta)
    return StepOutcome(
        terms, {**ball_statistic_tensors(balls, alpha.shape[0]), **stats}, {"ball": seconds}
    )
