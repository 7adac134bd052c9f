"""A pack: K deep runs of one setting trained at once in one process, as one stacked model.

Runs that share method, variant, dataset, epochs and architecture and differ in seed and/or
(α, β) train together: their parameters are stacked (torch.func.stack_module_state) and one
vmapped forward and backward per step serves all K (`pack_step` of the method's trainer).
Each run keeps its own seed: its initial weights (its model is built right after seeding, as a
run alone builds it), its batch order, its noise ε, its balls' and k-means' random numbers,
each drawn from the run's own generator as the run alone draws them, and its own Adam moments
and gradient clipping. A run's history therefore does not depend on its pack
(tests/test_pack.py checks it against the run alone, to 1e-6 in float64).

Per run, outside the steps: the evaluation after every epoch and CLIB's head initialisation at
the end of warm-up (the run's slice of the stack is loaded into its own model and the code of a
run alone is called), and its record, written where the run alone writes it. A run whose loss
turns non-finite stops as `diverged` at that step, as alone; it stays in the stack frozen at
its initial weights, and its numbers are no longer used.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch

from benchmark import catalogue, records
from benchmark.batches import batch_plan
from benchmark.data.load import MultiViewData, load_hdf5
from benchmark.models.settings import DeepConfig
from benchmark.train import (
    Fitted,
    RunOutput,
    choose_device,
    device_views,
    evaluate,
    fusion_weights,
    history_row,
    make_trainer,
    run_output,
    seed_everything,
)
from benchmark.trainers import Trainer

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Member:
    """One run of a pack: its seed and its loss weights."""

    seed: int
    alpha: float
    beta: float


def _noise_generator(seed: int, device: torch.device) -> torch.Generator:
    """The generator of a run's noise ε, in the state a run alone draws ε from: torch's global
    generator right after its model was built (CPU), or the freshly seeded CUDA generator."""
    if device.type == "cuda":
        return torch.Generator(device=device).manual_seed(seed)
    generator = torch.Generator()
    generator.set_state(torch.get_rng_state())
    return generator


@torch.no_grad()
def _load(model: torch.nn.Module, state: dict[str, torch.Tensor], run: int) -> None:
    """Copy run `run`'s slice of the stacked state into `model`."""
    for name, tensor in [*model.named_parameters(), *model.named_buffers()]:
        tensor.copy_(state[name][run])


@torch.no_grad()
def _store(model: torch.nn.Module, state: dict[str, torch.Tensor], run: int) -> None:
    """Copy `model`'s parameters and buffers into run `run`'s slice of the stacked state."""
    for name, tensor in [*model.named_parameters(), *model.named_buffers()]:
        state[name][run].copy_(tensor)


def _per_run(values: torch.Tensor, shape: torch.Size) -> torch.Tensor:
    return values.view(-1, *([1] * (len(shape) - 1)))


@torch.no_grad()
def _clip_per_run(params: Sequence[torch.Tensor], max_norm: float) -> None:
    """torch.nn.utils.clip_grad_norm_ applied to each run's slice on its own."""
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return
    runs = grads[0].shape[0]
    norms = torch.stack([g.reshape(runs, -1).norm(dim=1) for g in grads]).norm(dim=0)
    coefficient = (max_norm / (norms + 1e-6)).clamp(max=1.0)
    for g in grads:
        g.mul_(_per_run(coefficient, g.shape))


@torch.no_grad()
def _freeze(
    params: dict[str, torch.Tensor], initial: dict[str, torch.Tensor], stopped: torch.Tensor
) -> None:
    """Runs that stopped keep their initial weights and get no gradient."""
    for name, p in params.items():
        mask = _per_run(stopped, p.shape)
        if p.grad is not None:
            p.grad.copy_(torch.where(mask, torch.zeros_like(p.grad), p.grad))
        p.copy_(torch.where(mask, initial[name], p))


def _noise(
    generators: list[torch.Generator], views: int, shape: tuple[int, int], dtype: torch.dtype
) -> list[torch.Tensor]:
    """ε of every view (K × B × latent each), run r's drawn from generators[r] in view order."""
    per_run = [
        [torch.randn(shape, generator=g, device=g.device, dtype=dtype) for _ in range(views)]
        for g in generators
    ]
    return [torch.stack([run[v] for run in per_run]) for v in range(views)]


def check_members(members: Sequence[Member]) -> None:
    """ValueError for an empty pack or a run that appears twice."""
    if not members:
        raise ValueError("a pack needs at least one run")
    if len(set(members)) != len(members):
        raise ValueError("a pack holds the same run (seed, α, β) twice")


def train_pack(
    method: str,
    data: MultiViewData,
    variant: str,
    members: Sequence[Member],
    config: DeepConfig,
    device: torch.device,
    embeddings_at: Sequence[int] = (0, 5, 100),
    scaling: str = "minmax",
    overrides: dict[str, Any] | None = None,
) -> list[RunOutput]:
    """Train the runs of `members` (`config` with each run's α and β) together; return each
    run's record, history and embeddings, as `benchmark.train.train` returns one run's."""
    check_members(members)
    if not hasattr(catalogue.trainer_class(method), "pack_step"):
        raise ValueError(f"{method} cannot be trained in packs: its trainer has no pack_step")
    started, t_start = records.now(), time.perf_counter()
    views = device_views(data, scaling, device)
    trainers: list[Trainer] = []
    noise_generators = []
    for member in members:
        run_config = dataclasses.replace(config, alpha=member.alpha, beta=member.beta)
        seed_everything(member.seed)
        trainers.append(make_trainer(method, data, views, variant, member.seed, run_config, device))
        noise_generators.append(_noise_generator(member.seed, device))

    fitted = _fit_pack(trainers, noise_generators, members, views, data, embeddings_at, device)
    wall_s = time.perf_counter() - t_start
    return [
        run_output(
            method,
            variant,
            data,
            member.seed,
            trainer,
            run_fitted,
            embeddings_at,
            scaling,
            overrides,
            started=started,
            wall_s=wall_s,
            device=device,
            pack_size=len(members),
        )
        for member, trainer, run_fitted in zip(members, trainers, fitted, strict=True)
    ]


def _fit_pack(
    trainers: list[Trainer],
    noise_generators: list[torch.Generator],
    members: Sequence[Member],
    views: list[torch.Tensor],
    data: MultiViewData,
    embeddings_at: Sequence[int],
    device: torch.device,
) -> list[Fitted]:
    """The training loop of `benchmark.train.fit` for K runs at once."""
    from torch.func import stack_module_state

    runs = len(trainers)
    lead = trainers[0]
    config = lead.config
    params, buffers = stack_module_state([t.model for t in trainers])
    state = {**params, **buffers}
    initial = {name: p.detach().clone() for name, p in params.items()}
    optimiser = torch.optim.Adam(params.values(), lr=config.lr)
    batch_rngs = [torch.Generator().manual_seed(m.seed) for m in members]
    dtype = views[0].dtype
    alpha = torch.tensor([m.alpha for m in members], device=device, dtype=dtype)
    beta = torch.tensor([m.beta for m in members], device=device, dtype=dtype)

    histories: list[list[dict[str, float]]] = [[] for _ in range(runs)]
    embeddings: list[dict[str, np.ndarray]] = [{} for _ in range(runs)]
    assignments: list[np.ndarray | None] = [None] * runs
    diverged_at: list[int | None] = [None] * runs
    epoch_times: list[float] = []
    ball_times: list[float] = []
    batches: list[torch.Tensor] = []

    def evaluate_run(r: int, epoch: int) -> dict[str, float]:
        _load(trainers[r].model, state, r)
        scores, assignments[r], fused = evaluate(trainers[r], views, data.labels)
        if epoch in embeddings_at:
            embeddings[r][f"epoch_{epoch}"] = fused
        return scores

    for r in range(runs):
        scores = evaluate_run(r, 0)
        histories[r].append(
            {"epoch": 0, **scores, **fusion_weights(trainers[r].model, data.view_names)}
        )
    log.info("pack of %d runs: epoch 0/%d (untrained)", runs, config.epochs)

    for epoch in range(1, config.epochs + 1):
        if all(d is not None for d in diverged_at):
            break
        t_epoch = time.perf_counter()
        for r, trainer in enumerate(trainers):
            _load(trainer.model, state, r)
            trainer.before_epoch(epoch)
            _store(trainer.model, state, r)
        plans = [
            batch_plan(
                data.n_samples, config.batch_size, config.min_batch_factor * data.n_clusters, rng
            )
            for rng in batch_rngs
        ]
        batches = plans[0]
        sums: dict[str, torch.Tensor] = {}
        stats: dict[str, torch.Tensor] = {}
        screened: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = []
        ball_times.append(0.0)
        for j in range(len(batches)):
            idx = torch.stack([plan[j] for plan in plans]).to(device)
            xs = [v[idx] for v in views]
            noise = (
                _noise(noise_generators, len(views), (idx.shape[1], config.latent_dim), dtype)
                if config.variational
                else [torch.empty(runs, 0, device=device, dtype=dtype)] * len(views)
            )
            step = lead.pack_step(state, xs, noise, trainers, alpha, beta)
            total = step.terms["total"]
            for r, finite in enumerate(torch.isfinite(total).tolist()):
                if not finite and diverged_at[r] is None:
                    diverged_at[r] = epoch
                    log.error(
                        "run %d (seed %d), epoch %d: loss is not finite; it stops as diverged",
                        r,
                        members[r].seed,
                        epoch,
                    )
            stopped = torch.tensor([d is not None for d in diverged_at], device=device)
            optimiser.zero_grad(set_to_none=True)
            torch.where(stopped, torch.zeros_like(total), total).sum().backward()
            if bool(stopped.any()):
                _freeze(params, initial, stopped)
            if config.grad_clip is not None:
                _clip_per_run(list(params.values()), config.grad_clip)
            optimiser.step()
            if bool(stopped.any()):
                _freeze(params, initial, stopped)
            for term, value in step.terms.items():
                sums[term] = sums.get(term, 0) + value.detach()
            for stat, value in step.stats.items():
                stats[stat] = stats.get(stat, 0) + value.detach()
            ball_times[-1] += step.extra_seconds
            if step.screened is not None:
                run, sample, cluster = step.screened.nonzero(as_tuple=True)
                screened.append((run.cpu(), idx[run, sample].cpu(), cluster.cpu()))

        sums_list = {k: v.tolist() for k, v in sums.items()}
        stats_list = {k: v.tolist() for k, v in stats.items()}
        live = [r for r in range(runs) if diverged_at[r] is None]
        if screened:
            run, sample, cluster = (torch.cat(parts) for parts in zip(*screened, strict=True))
        rows = {}
        for r in live:
            trainer = trainers[r]
            if screened:
                trainer.add_screened(sample[run == r], cluster[run == r])
            _load(trainer.model, state, r)
            epoch_stats = trainer.after_epoch()
            scores = evaluate_run(r, epoch)
            rows[r] = history_row(
                epoch,
                {k: v[r] for k, v in sums_list.items()},
                {k: v[r] for k, v in stats_list.items()},
                len(batches),
                scores,
                trainer,
                data,
                epoch_stats,
            )
        epoch_times.append(time.perf_counter() - t_epoch)
        for r, row in rows.items():
            row["epoch_s"] = epoch_times[-1]
            if trainers[r].times_balls:
                row["ball_s"] = ball_times[-1]
            histories[r].append(row)
        if rows:
            acc = [row["ACC"] for row in rows.values()]
            log.info(
                "pack of %d runs (%d training): epoch %d/%d: ACC min %.1f median %.1f max %.1f"
                " (%.2f s)",
                runs,
                len(rows),
                epoch,
                config.epochs,
                min(acc),
                float(np.median(acc)),
                max(acc),
                epoch_times[-1],
            )

    fitted = []
    for r in range(runs):
        completed = len(histories[r]) - 1
        fitted.append(
            Fitted(
                history=pd.DataFrame(histories[r]),
                status="done" if diverged_at[r] is None else "diverged",
                diverged_at=diverged_at[r],
                assignments=assignments[r],
                embeddings=embeddings[r],
                epoch_seconds=epoch_times[:completed],
                ball_seconds=ball_times[:completed],
                batches_per_epoch=len(batches) if completed else None,
            )
        )
    return fitted


def pack_from_file(
    method: str,
    variant: str,
    data_file: str,
    members: Sequence[Member],
    config: DeepConfig,
    device: str = "auto",
    embeddings_at: Sequence[int] = (0, 5, 100),
    scaling: str = "minmax",
    overrides: dict[str, Any] | None = None,
) -> list[RunOutput]:
    """Load a converted dataset and train a pack of runs on it."""
    data = load_hdf5(data_file)
    return train_pack(
        method,
        data,
        variant,
        members,
        config,
        choose_device(device),
        embeddings_at,
        scaling,
        overrides,
    )
