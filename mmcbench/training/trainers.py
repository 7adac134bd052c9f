"""The contract between the one training loop (`mmcbench.training.loop`) and a method's trainer
(`Trainer`, every member in one class), and pieces the trainers of several methods share. Each
method's trainer lives in its folder, `mmcbench/methods/<name>/trainer.py`."""

from __future__ import annotations

import abc
import dataclasses
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import torch
from torch import nn

from mmcbench.training.batches import batch_plan

if TYPE_CHECKING:
    import pandas as pd

EVAL_CHUNK = 4096  # samples per forward pass of an evaluation


def encoder_statistic_tensors(
    mu: list[torch.Tensor], logvar: list[torch.Tensor | None]
) -> dict[str, torch.Tensor]:
    """Mean σ of the variational encoders' units and mean |μ| over one step's samples and
    views, as tensors (none without variational encoders): σ growing towards 1 while |μ|
    shrinks is the VIB term turning H back into noise."""
    if not logvar or logvar[0] is None:
        return {}
    with torch.no_grad():
        sigma = torch.stack([(0.5 * lv).exp().mean() for lv in logvar]).mean()
        mu_abs = torch.stack([m.abs().mean() for m in mu]).mean()
    return {"sigma_mean": sigma, "mu_abs_mean": mu_abs}


def encoder_statistics(
    mu: list[torch.Tensor], logvar: list[torch.Tensor | None]
) -> dict[str, float]:
    """`encoder_statistic_tensors` as numbers."""
    return {k: float(v) for k, v in encoder_statistic_tensors(mu, logvar).items()}


def view_statistic_tensors(
    mu: list[torch.Tensor], logvar: list[torch.Tensor | None]
) -> dict[str, torch.Tensor]:
    """Per view v: the mean σ of its variational encoder's units (`sigma_v<v>`) and the mean
    |μ| (`mu_abs_v<v>`) over the samples given (none without variational encoders)."""
    out: dict[str, torch.Tensor] = {}
    for v, (m, lv) in enumerate(zip(mu, logvar, strict=True)):
        if lv is None:
            continue
        out[f"sigma_v{v}"] = (0.5 * lv).exp().mean()
        out[f"mu_abs_v{v}"] = m.abs().mean()
    return out


EVAL_PREFIX = "eval_"


@dataclass(frozen=True)
class TrainingData:
    """What a trainer is given of a data set: its views on the training device and its sizes,
    never its labels (the loop scores what needs them, `Predicted`)."""

    name: str  # for messages
    views: list[torch.Tensor]  # N × d_v each, scaled, in torch's default floating-point type
    n_clusters: int

    @property
    def n_samples(self) -> int:
        return int(self.views[0].shape[0])

    @property
    def view_dims(self) -> list[int]:
        return [int(v.shape[1]) for v in self.views]


@dataclass(frozen=True)
class Predicted:
    """Cluster predictions a trainer reports for the loop to score against the true labels (ACC,
    Hungarian matching): as a value of `after_epoch` (a history column) or of `diagnostics`.
    `samples`: the samples they are of (None: all N, in order)."""

    clusters: np.ndarray
    samples: np.ndarray | None = None


def score_predictions(value: Any, labels: np.ndarray) -> Any:
    """`value` with every `Predicted` in it (in dicts, lists and tuples) replaced by its ACC."""
    if isinstance(value, Predicted):
        from mmcbench.runs.metrics import accuracy

        truth = labels if value.samples is None else labels[value.samples]
        return accuracy(truth, value.clusters)
    if isinstance(value, dict):
        return {k: score_predictions(v, labels) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(score_predictions(v, labels) for v in value)
    return value


@dataclass
class StepOutcome:
    """What a step returns. Of `step` and `eval_step`: one run's loss terms (scalar tensors) and
    statistics (numbers or scalar tensors); of `pack_step`: K entries per value, one per run."""

    terms: dict[str, torch.Tensor]  # loss terms, "total" among them (the one minimised)
    stats: dict[str, Any] = field(default_factory=dict)  # averaged over the epoch's batches
    timed: dict[str, float] = field(default_factory=dict)  # seconds of parts timed on their own


class RunStopped(Exception):
    """Raised by a trainer's step when its run cannot go on (e.g. CoMVC's negative sampling with
    one predicted cluster under `neg_sampling_empty: stop_run`). The loop ends the run, keeps
    the epochs evaluated so far and records status `stopped` with this message as the reason."""


# (capability flag, the method it promises)
CAPABILITIES = (("has_eval_step", "eval_step"), ("packable", "pack_step"))


class Trainer(abc.ABC):
    """A method's part of the one training loop (`mmcbench.training.loop`): the whole contract.

    Built as `Trainer(data, variant, seed, config, device)` right after torch is seeded, so the
    model its constructor builds has the run's initial weights. The base constructor sets
    `data` (`TrainingData`: the views and sizes, never the labels), `views`, `n_samples`,
    `n_clusters`, `variant`, `seed`, `device` and `config` (the method's settings for this
    variant, `catalogue.for_variant`); a subclass calls it first, then builds `model`.

    Required: `model`, `batches`, `step`, `predict`.
    Optional, with defaults here: `before_epoch`, `after_epoch`, `diagnostics`, `lr_factor`,
    `step_lr_factor`, `adam_betas`, `has_soft_assignments`, `fusion_weights`, `end_evaluation`,
    `config_params` (what `params()` records).
    Capabilities, declared by a class attribute and its method together (a class that has one
    without the other is refused when it is defined): `has_eval_step` + `eval_step`,
    `packable` + `pack_step`.

    Per epoch the loop calls `lr_factor`, `before_epoch`, `batches`, `step` per batch (it does
    the optimiser's work), `after_epoch`, then evaluates: `predict` on all samples, the eval
    steps (`eval_step`), `end_evaluation`."""

    model: nn.Module
    config: Any
    has_eval_step: ClassVar[bool] = False
    packable: ClassVar[bool] = False
    config_fields: ClassVar[tuple[str, ...]] = ()  # settings this class reads (checked)
    ended: bool = False  # set by the loop: the run has ended (a pack's step may skip its work)

    def __init__(
        self, data: TrainingData, variant: str, seed: int, config: Any, device: torch.device
    ) -> None:
        from mmcbench.planning.catalogue import for_variant

        self.data, self.views = data, data.views
        self.n_samples, self.n_clusters = data.n_samples, data.n_clusters
        self.variant, self.seed, self.device = variant, seed, device
        self.config = for_variant(config, variant)
        needed = dict.fromkeys(
            f for c in type(self).__mro__ for f in vars(c).get("config_fields", ())
        )
        if missing := [f for f in needed if not hasattr(self.config, f)]:
            raise TypeError(
                f"{type(self).__name__} reads the setting(s) {', '.join(missing)}, which "
                f"{type(self.config).__name__} does not have (config_fields of its classes)"
            )

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for flag, method in CAPABILITIES:
            declared = bool(getattr(cls, flag))
            defined = _defines(cls, method)
            if declared != defined:
                raise TypeError(
                    f"{cls.__name__}: {'declares' if declared else 'does not declare'} "
                    f"{flag} = True but {'does not define' if declared else 'defines'} "
                    f"{method}(): a capability is the flag and its method together"
                )

    # ------------------------------------------------------------------ required
    @abc.abstractmethod
    def batches(self, epoch: int, generator: torch.Generator) -> list[torch.Tensor]:
        """The index batches of `epoch`, drawn from the run's own `generator` only."""

    @abc.abstractmethod
    def step(self, idx: torch.Tensor) -> StepOutcome:
        """The loss terms of one training batch (train mode; the loop does the backward pass,
        the clipping and the optimiser step). May raise RunStopped."""

    @abc.abstractmethod
    def predict(self, views: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """Soft assignments (N × k) and a representation of every sample (eval mode)."""

    # ------------------------------------------------------------------ optional
    def before_epoch(self, epoch: int) -> None:
        """Prepare 1-based `epoch` (a stage change, an initialisation); nothing by default."""
        return None

    def after_epoch(self) -> dict[str, Any]:
        """The epoch's own history columns (numbers, or `Predicted` for the loop to score)."""
        return {}

    def diagnostics(self, history: pd.DataFrame) -> dict[str, Any]:
        """The record's summary of the run's history (may hold `Predicted`)."""
        return {}

    def lr_factor(self, epoch: int) -> float:
        """The factor of `config.lr` in 1-based `epoch` (a schedule); 1 by default."""
        return 1.0

    def step_lr_factor(self, epoch: int, step: int, steps: int) -> float:
        """The factor of `config.lr` at 1-based `step` of the `steps` of 1-based `epoch` (a
        schedule set at every step, e.g. DIVIDE's warm-up); `lr_factor(epoch)` by default."""
        return self.lr_factor(epoch)

    def adam_betas(self) -> tuple[float, float]:
        """The betas of the run's Adam (torch's default (0.9, 0.999) unless a method's code
        sets others, e.g. DIVIDE's (0.9, 0.99))."""
        return (0.9, 0.999)

    def has_soft_assignments(self) -> bool:
        """Whether `predict`'s rows are soft assignments (True by default). False: they are
        one-hot hard clusters (e.g. k-means on the features), and the loop records no ECE, NLL
        or Brier (NaN, shown as N/A, as for KM)."""
        return True

    def fusion_weights(self) -> torch.Tensor | None:
        """The model's fusion weights, one per view (history columns `w_<view>`); None: no
        fusion to report."""
        return None

    def end_evaluation(self) -> None:
        """Drop what `predict` kept for this evaluation's eval steps; nothing by default."""
        return None

    @classmethod
    def config_params(cls, config: Any) -> dict[str, Any]:
        """The record's hyper-parameters of a run with settings `config` (known before
        training: `--keep-finished` compares them): its fields, tuples as lists."""
        return {k: _listed(v) for k, v in dataclasses.asdict(config).items()}

    def params(self) -> dict[str, Any]:
        """The record's hyper-parameters of this run."""
        return self.config_params(self.config)

    # ------------------------------------------------------------------ capabilities
    def eval_step(self, idx: torch.Tensor) -> StepOutcome:
        """(`has_eval_step`) The step's loss terms and statistics in eval mode, drawing from no
        generator training uses and keeping no state; recorded as `eval_<name>` columns
        (`evaluation_losses`), which the label-free selection protocols read."""
        raise NotImplementedError(f"{type(self).__name__} has no eval_step")

    def pack_step(
        self,
        state: dict[str, torch.Tensor],
        idx: torch.Tensor,
        pack: list[Any],
        *run_values: torch.Tensor,
    ) -> StepOutcome:
        """(`packable`) One step of the K runs of the pack this trainer leads
        (`mmcbench.training.loop.Stacked`): `state` their stacked parameters and buffers, `idx`
        their batches (K × B), `pack` their trainers, `run_values` per-run values (α, β)."""
        raise NotImplementedError(f"{type(self).__name__} has no pack_step")


def _defines(cls: type, method: str) -> bool:
    """Whether `cls` (or a base below Trainer) defines `method`."""
    return any(method in vars(c) for c in cls.__mro__[: cls.__mro__.index(Trainer)])


def _listed(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return [_listed(v) for v in value]
    if isinstance(value, dict):
        return {k: _listed(v) for k, v in value.items()}
    return value


@torch.no_grad()
def evaluation_losses(trainer: Trainer, epoch: int, seed: int) -> dict[str, float]:
    """The trainer's loss terms and statistics on the whole data set in eval mode, as history
    columns `eval_<name>`: the mean over the batches of the method's own batch plan for
    `epoch`, drawn from a generator seeded with the run's `seed` (the same batches at every
    evaluation, and no draw from any generator training uses), of `trainer.eval_step(idx)`.
    None for a trainer without `has_eval_step`. Ends with `end_evaluation`.

    This is what mvc's checkpoint selection reads (spec/SiMVC-CoMVC.md "Evaluation and
    selection": the eval losses on the whole data set, model in eval mode, full batches only).
    mvc reshuffles its eval batches at every evaluation; here they are one fixed shuffle per
    run, so that an epoch's eval loss moves only with the model."""
    if not trainer.has_eval_step:
        return {}
    batches = trainer.batches(epoch, torch.Generator().manual_seed(seed))
    sums: dict[str, float] = {}
    trainer.model.eval()
    try:
        for idx in batches:
            outcome = trainer.eval_step(idx)
            for name, value in {**outcome.terms, **outcome.stats}.items():
                sums[name] = sums.get(name, 0.0) + float(value)
    finally:
        trainer.model.train()
        trainer.end_evaluation()
    n = max(len(batches), 1)
    return {f"{EVAL_PREFIX}{name}": total / n for name, total in sums.items()}


class ReusesEvalEncoding(Trainer):
    """A trainer whose `predict` hands on what its eval steps compute again (GIB, CLIB and
    MFLVC: the encoders' output; SiMVC and CoMVC: the fused DDC output): `predict` keeps it for
    every sample (`keep_eval_encoding`), and the eval steps of the same evaluation take their
    batch's rows of it (`eval_encoding_rows`) instead of a forward pass of their own: the same
    numbers in eval mode, up to the rounding of a larger matrix product. The loop drops it after
    each evaluation (`end_evaluation`); a subclass's `step` starts with `self.end_evaluation()`,
    so that a step called outside the loop never leaves a stale one."""

    eval_encoding: Any = None  # tensors (or None) of every sample, nested in tuples and lists

    def keep_eval_encoding(self, views: list[torch.Tensor], encoded: Any) -> None:
        """Keep `encoded` when it is of the run's own views (the eval steps' inputs)."""
        own = self.views
        same = len(views) == len(own) and all(v is w for v, w in zip(views, own, strict=True))
        self.eval_encoding = encoded if same else None

    def eval_encoding_rows(self, idx: torch.Tensor) -> Any:
        """The kept encoding's rows `idx`, in its structure (None when nothing is kept). The
        loop's eval batches are CPU indices; `idx` moves once to the kept tensors' device."""
        if self.eval_encoding is None:
            return None
        moved: dict[torch.device, torch.Tensor] = {}

        def rows(kept: Any) -> Any:
            if isinstance(kept, torch.Tensor):
                if kept.device not in moved:
                    moved[kept.device] = idx.to(kept.device)
                return kept.index_select(0, moved[kept.device])
            if isinstance(kept, (list, tuple)):
                return type(kept)(rows(k) for k in kept)
            if kept is None:
                return None
            raise TypeError(f"cannot take rows of {type(kept).__name__}")

        return rows(self.eval_encoding)

    def end_evaluation(self) -> None:
        self.eval_encoding = None


class FlooredBatches(Trainer):
    """`batches()` of GIB's and CLIB's trainers: shuffled batches of `config.batch_size`; a
    last batch under `config.min_batch_factor`·k joins the previous one (`batch_plan`)."""

    config_fields = ("batch_size", "min_batch_factor")

    def batches(self, epoch: int, generator: torch.Generator) -> list[torch.Tensor]:
        floor = self.config.min_batch_factor * self.n_clusters
        return batch_plan(self.n_samples, self.config.batch_size, floor, generator)


def noise_generator(seed: int, device: torch.device) -> torch.Generator:
    """The generator of a packed run's noise ε, in the state a run alone draws ε from: torch's
    global generator right after its model was built (CPU), or the freshly seeded CUDA one."""
    if device.type == "cuda":
        return torch.Generator(device=device).manual_seed(seed)
    generator = torch.Generator()
    generator.set_state(torch.get_rng_state())
    return generator


def draw_noise(
    generators: list[torch.Generator], views: int, shape: tuple[int, int], dtype: torch.dtype
) -> list[torch.Tensor]:
    """ε of every view (K × B × latent each), run r's drawn from generators[r] in view order."""
    per_run = [
        [torch.randn(shape, generator=g, device=g.device, dtype=dtype) for _ in range(views)]
        for g in generators
    ]
    return [torch.stack([run[v] for run in per_run]) for v in range(views)]


def packed_inputs(
    views: list[torch.Tensor], idx: torch.Tensor, pack: list[Any], config: Any
) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """A packed step's batches (K × B × d per view) and ε of the IB methods' variational
    encoders, each run's drawn from its trainer's `noise_rng` (empty without `variational`)."""
    batches = [v[idx] for v in views]
    if not config.variational:
        return batches, [idx.new_empty((idx.shape[0], 0), dtype=batches[0].dtype)] * len(views)
    generators = [t.noise_rng for t in pack]
    shape = (idx.shape[1], config.latent_dim)
    return batches, draw_noise(generators, len(views), shape, batches[0].dtype)


class _Stage(nn.Module):
    """`fn(model, *args)` as a module's forward, so that functional_call can swap in state."""

    def __init__(self, model: nn.Module, fn) -> None:
        super().__init__()
        self.model = model
        self.fn = fn

    def forward(self, *args):
        return self.fn(self.model, *args)


def stacked_call(model: nn.Module, fn, state: dict[str, torch.Tensor], *args):
    """`fn(model, *args)` for K runs at once (torch.func.vmap over functional_call): `state`
    holds the runs' parameters and buffers stacked (torch.func.stack_module_state), every
    tensor in `args` has the runs first. BatchNorm updates each run's running statistics."""
    from torch.func import functional_call, vmap

    stage = _Stage(model, fn)
    prefixed = {f"model.{name}": value for name, value in state.items()}
    return vmap(lambda st, *a: functional_call(stage, st, a))(prefixed, *args)
