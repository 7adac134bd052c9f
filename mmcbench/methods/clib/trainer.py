"""CLIB's trainer: warm-up, head initialisation, its loss step (alone and packed), screening
diagnostics."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch

from mmcbench.methods.clib.head_init import initialise_heads
from mmcbench.methods.clib.model import (
    CLIB,
    CLIBConfig,
    CLIBOutput,
    Screened,
    clib_loss,
    screen_all,
    screening_quota,
)
from mmcbench.training.trainers import (
    EVAL_CHUNK,
    FlooredBatches,
    Predicted,
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


class CLIBTrainer(ReusesEvalEncoding, FlooredBatches):
    """CLIB or one of its ablations (spec/CLIB.md, ablation table)."""

    has_eval_step = True
    packable = True
    config: CLIBConfig

    def __init__(
        self, data: TrainingData, variant: str, seed: int, config: CLIBConfig, device: torch.device
    ) -> None:
        super().__init__(data, variant, seed, config, device)
        self.model = CLIB(data.view_dims, data.n_clusters, self.config).to(device)
        self.warming_up = self.config.warmup_epochs > 0
        self.init_diagnostics: dict[str, float] = {}
        self._screened: list[tuple[torch.Tensor, torch.Tensor]] = []
        # ε of this run when it trains in a pack (alone, ε comes from torch's global generator)
        self.noise_rng = noise_generator(seed, device)

    def before_epoch(self, epoch: int) -> None:
        """Initialise the heads from k-means right before the first epoch after warm-up."""
        if epoch == self.config.warmup_epochs + 1:
            self.init_diagnostics = initialise_heads(self.model, self.views, self.seed)
            self.init_diagnostics["init_epoch"] = epoch
            self.warming_up = False

    def step(self, idx: torch.Tensor) -> StepOutcome:
        self.end_evaluation()
        out = self.model([v[idx] for v in self.views], heads=not self.warming_up)
        step = clib_loss(self.model, out, self.variant, self.warming_up)
        stats = encoder_statistics(out.mu, out.logvar)
        if step.screened is not None:
            size = step.screened.samples.numel()
            # (sample, cluster) pairs over the batch size: above 1 when modalities disagree.
            stats["screened_size"] = float(size)
            stats["screened_share"] = size / idx.numel()
            samples, clusters = step.screened.union.nonzero(as_tuple=True)
            self._screened.append((idx.cpu()[samples.cpu()], clusters.cpu()))
        return StepOutcome(step.terms, stats)

    def eval_step(self, idx: torch.Tensor) -> StepOutcome:
        """The step's loss terms in eval mode (H = μ), keeping no screened pairs, and per view
        the mean σ and |μ|. The encoders' rows come from the evaluation's `predict` when it ran
        on this model (`ReusesEvalEncoding`), else from a pass."""
        views = [v[idx] for v in self.views]
        out = self.model(views, heads=not self.warming_up, encoded=self.eval_encoding_rows(idx))
        terms = clib_loss(self.model, out, self.variant, self.warming_up).terms
        return StepOutcome(terms, view_statistic_tensors(out.mu, out.logvar))

    def pack_step(
        self,
        state: dict[str, torch.Tensor],
        idx: torch.Tensor,
        pack: list[CLIBTrainer],
        alpha: torch.Tensor,
        beta: torch.Tensor,
    ) -> StepOutcome:
        """One step of the pack this trainer leads (`mmcbench.training.loop.Stacked`): `idx` holds
        each run's batch (K × B). Each run's screened pairs go to its trainer."""
        views, noise = packed_inputs(self.views, idx, pack, self.config)
        step, screened = pack_step(
            self.model, state, views, noise, alpha, beta, self.variant, self.warming_up
        )
        if screened is not None:
            run, sample, cluster = screened.nonzero(as_tuple=True)
            run, chosen, cluster = run.cpu(), idx[run, sample].cpu(), cluster.cpu()
            for r, trainer in enumerate(pack):
                if not trainer.ended:  # a stopped run keeps nothing
                    trainer.add_screened(chosen[run == r], cluster[run == r])
        return step

    def add_screened(self, samples: torch.Tensor, clusters: torch.Tensor) -> None:
        """A pack's screened (sample, cluster) pairs of this run, for `after_epoch`."""
        self._screened.append((samples, clusters))

    def after_epoch(self) -> dict[str, float | Predicted]:
        """The epoch's `stage` (1 warm-up, L_IB alone; 2 the full objective: the label-free
        protocol compares the losses of one objective) and its screened pseudo-labels, which
        the loop scores against the true labels (`screened_acc`, ACC with Hungarian matching)."""
        stage = {"stage": 1.0 if self.warming_up else 2.0}
        if not self._screened:
            return stage
        samples = torch.cat([s for s, _ in self._screened]).numpy()
        clusters = torch.cat([c for _, c in self._screened]).numpy()
        self._screened = []
        return {**stage, "screened_acc": Predicted(clusters, samples)}

    def predict(self, views: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """The cluster head's P^clu and H^f of every sample (in chunks of EVAL_CHUNK); on the
        run's own views, it keeps the encoders' output for this evaluation's eval steps."""
        encoded = self.model.encode_all(views, EVAL_CHUNK)
        self.keep_eval_encoding(views, encoded)
        hf = encoded[3]
        spans = [slice(i, i + EVAL_CHUNK) for i in range(0, hf.shape[0], EVAL_CHUNK)]
        return torch.cat([self.model.cluster_head(hf[s])[0] for s in spans]), hf

    def fusion_weights(self) -> torch.Tensor:
        return self.model.fusion.weights

    def diagnostics(self, history: pd.DataFrame) -> dict[str, Any]:
        trained = history[history["epoch"] > self.config.warmup_epochs]
        mean = lambda col: float(trained[col].mean()) if col in trained else None  # noqa: E731
        last = lambda col: (  # noqa: E731
            float(trained[col].iloc[-1]) if col in trained and len(trained) else None
        )
        return {
            "head_init": self.init_diagnostics,
            "screened_size_mean": mean("screened_size"),
            "screened_share_final": last("screened_share"),
            "screened_acc_final": last("screened_acc"),
            "screened_acc_mean": mean("screened_acc"),
            "warmup_epochs": self.config.warmup_epochs,
        }


def pack_step(
    model: CLIB,
    state: dict[str, torch.Tensor],
    views: list[torch.Tensor],
    noise: list[torch.Tensor],
    alpha: torch.Tensor,
    beta: torch.Tensor,
    variant: str,
    warming_up: bool,
) -> tuple[StepOutcome, torch.Tensor | None]:
    """One step of K CLIB runs (`views`, `noise`: K × B × d per view; `state`: the stacked
    parameters and buffers): the network and the losses run vmapped over the runs, the
    screening of all K runs at once in between."""
    variational = model.config.variational

    def forward(m: CLIB, xs, eps):
        h, mu, logvar, hf = m.encode(xs, eps if variational else None)
        out = {"h": h, "mu": mu, "hf": hf, **({"logvar": logvar} if variational else {})}
        if not warming_up:
            out["p_cal"], out["p_clu"] = m.head_outputs(h, hf)
        return out

    out = stacked_call(model, forward, state, views, noise)
    screened = None
    if not warming_up:
        quota = screening_quota(model, views[0].shape[1])
        screened = screen_all(out["p_cal"], quota)

    def loss(m: CLIB, h, mu, logvar, hf, p_cal, p_clu, masks, union, a, b):
        logvar = logvar if variational else [None] * len(h)
        p_clu = hf.new_zeros((hf.shape[0], m.n_clusters)) if warming_up else p_clu
        one = CLIBOutput(h=h, mu=mu, logvar=logvar, hf=hf, p_cal=p_cal, p_clu=p_clu)
        run_screened = None if warming_up else Screened(masks, union)
        step = clib_loss(m, one, variant, warming_up, run_screened, a, b)
        return step.terms, encoder_statistic_tensors(mu, logvar)

    logvar = out["logvar"] if variational else out["mu"]
    placeholder = out["hf"]  # stands in for what warm-up does not compute
    terms, stats = stacked_call(
        model,
        loss,
        state,
        out["h"],
        out["mu"],
        logvar,
        out["hf"],
        out.get("p_cal", []),
        out.get("p_clu", placeholder),
        screened.per_modality if screened else [],
        screened.union if screened else placeholder,
        alpha,
        beta,
    )
    if screened is not None:
        size = screened.union.sum(dim=(1, 2)).to(alpha.dtype)
        stats["screened_size"] = size
        stats["screened_share"] = size / views[0].shape[1]
    return StepOutcome(terms, stats), None if screened is None else screened.union
