"""What the one training loop (`benchmark.loop`) needs from a method's trainer, and pieces the
trainers of several methods share. Each method's trainer lives in its folder,
`benchmark/methods/<name>/trainer.py`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import torch
from torch import nn

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


@torch.no_grad()
def evaluation_losses(trainer: Any, epoch: int, seed: int) -> dict[str, float]:
    """The trainer's loss terms and statistics on the whole data set in eval mode, as history
    columns `eval_<name>`: the mean over the batches of the method's own batch plan for
    `epoch`, drawn from a generator seeded with the run's `seed` (the same batches at every
    evaluation, and no draw from any generator training uses), of `trainer.eval_step(idx)`.
    None for a trainer without `eval_step`.

    This is what mvc's checkpoint selection reads (spec/SiMVC-CoMVC.md "Evaluation and
    selection": the eval losses on the whole data set, model in eval mode, full batches only).
    mvc reshuffles its eval batches at every evaluation; here they are one fixed shuffle per
    run, so that an epoch's eval loss moves only with the model."""
    eval_step = getattr(trainer, "eval_step", None)
    if eval_step is None:
        return {}
    batches = trainer.batches(epoch, torch.Generator().manual_seed(seed))
    sums: dict[str, float] = {}
    trainer.model.eval()
    try:
        for idx in batches:
            outcome = eval_step(idx)
            for name, value in {**outcome.terms, **outcome.stats}.items():
                sums[name] = sums.get(name, 0.0) + float(value)
    finally:
        trainer.model.train()
        end = getattr(trainer, "end_evaluation", None)  # drops what the evaluation kept
        if end is not None:
            end()
    n = max(len(batches), 1)
    return {f"{EVAL_PREFIX}{name}": total / n for name, total in sums.items()}


class ReusesEvalEncoding:
    """For a trainer whose `predict` can hand on what its eval steps compute again (GIB, CLIB
    and MFLVC: the encoders' output; SiMVC and CoMVC: the fused DDC output): `predict` keeps
    it for every sample (`keep_eval_encoding`), and the eval steps of the same evaluation take
    their batch's rows of it (`eval_encoding_rows`) instead of a forward pass of their own: the
    same numbers in eval mode, up to the rounding of a larger matrix product.
    `evaluation_losses` drops it at the end (`end_evaluation`), as does a training step."""

    eval_encoding: Any = None  # tensors (or None) of every sample, nested in tuples and lists

    def keep_eval_encoding(self, views: list[torch.Tensor], encoded: Any) -> None:
        """Keep `encoded` when it is of the run's own views (the eval steps' inputs)."""
        own = self.views  # type: ignore[attr-defined]
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


class RunStopped(Exception):
    """Raised by a trainer's step when its run cannot go on (e.g. CoMVC's negative sampling with
    one predicted cluster under `neg_sampling_empty: stop_run`). The loop ends the run, keeps
    the epochs evaluated so far and records status `stopped` with this message as the reason."""


@dataclass
class StepOutcome:
    terms: dict[str, torch.Tensor]  # loss terms of the step, "total" among them
    stats: dict[str, float] = field(default_factory=dict)  # averaged over the epoch's batches
    timed: dict[str, float] = field(default_factory=dict)  # seconds of parts timed on their own


class Trainer(Protocol):
    """What the training loop needs from a method: built as
    `Trainer(data, views, variant, seed, config, device)` right after torch is seeded."""

    model: nn.Module
    config: Any  # the settings the run trains with (`total_epochs`, `lr`, `grad_clip`)

    def batches(self, epoch: int, generator: torch.Generator) -> list[torch.Tensor]:
        """The index batches of `epoch`, drawn from the run's own `generator` only."""
        ...

    def before_epoch(self, epoch: int) -> None: ...

    def step(self, idx: torch.Tensor) -> StepOutcome: ...

    def after_epoch(self) -> dict[str, float]: ...

    # Optional: `eval_step(idx) -> StepOutcome`, the step's loss terms (and statistics) in
    # eval mode, drawing from no generator training uses and keeping no state; the loop
    # records them per epoch as `eval_<name>` (`evaluation_losses`), which the label-free
    # selection protocols read.

    def predict(self, views: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """Soft assignments and a representation of every sample (eval mode)."""
        ...

    def params(self) -> dict[str, Any]: ...

    def diagnostics(self, history: pd.DataFrame) -> dict[str, Any]: ...


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


@dataclass
class PackStep:
    """One step of K runs trained together (`benchmark.pack`): every value has K entries."""

    terms: dict[str, torch.Tensor]  # loss terms, "total" among them
    stats: dict[str, torch.Tensor]  # averaged over the epoch's batches
    timed: dict[str, float] = field(default_factory=dict)  # the pack's seconds per timed part


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
