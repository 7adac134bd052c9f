"""The one training loop of every deep method, for a run alone and for a pack of K runs.

The loop knows no method by name: it talks to each run's trainer through the one contract
`mmcbench.training.trainers.Trainer`. Per epoch it asks each trainer for its batches (drawn from
the run's own seeded generator), lets it prepare the epoch, and per batch sets the learning rate
(`step_lr_factor`, by default the epoch's `lr_factor`) and asks a *stepper* for the K runs' loss
terms; it then does the optimiser's work (one Adam over all parameters, gradient clipping per
run, a run whose loss turns non-finite stops as `diverged` and stays frozen), evaluates every
live run on all samples (its scores, and its loss terms in eval mode as `eval_<term>` columns,
`mmcbench.training.trainers.evaluation_losses`) and writes one history row per run with what the
trainer returned: the mean of every loss term and step statistic over the epoch's batches, the
timed parts (`<part>_s`), the evaluation's scores, the fusion weights and the trainer's
end-of-epoch columns. The loop holds the labels: it scores what a trainer reports for scoring
(`Predicted`). A run whose soft assignments turn non-finite diverges too (at the epoch of that
evaluation, which writes no row). A trainer that raises `RunStopped` ends its run as `stopped`;
any other exception of the method's code ends every live run of the call as `error` with the
exception and its traceback as the reason, keeping the epochs evaluated before it.

Two steppers: `Alone` (K = 1: the trainer's own `step` on its model, so a run alone computes
exactly what it computed before packs existed; the first-reading test holds it to 1e-6) and
`Stacked` (K runs as one vmapped model, the trainer's `pack_step`; in float64 it agrees with
the runs alone to 1e-6, tests/test_pack.py).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from mmcbench.core.errors import MmcbenchError
from mmcbench.data.load import MultiViewData
from mmcbench.runs.health import clusters_used, effective_clusters
from mmcbench.training.trainers import (
    RunStopped,
    StepOutcome,
    Trainer,
    evaluation_losses,
    score_predictions,
)

if TYPE_CHECKING:  # imported where the histories become tables, after the training
    import pandas as pd

log = logging.getLogger(__name__)


@dataclass
class Fitted:
    """What the training loop returns for one run: the history, how it ended, the final state."""

    history: pd.DataFrame
    status: str  # done | diverged | stopped | error
    diverged_at: int | None  # the epoch the run ended in, when it did not finish
    assignments: np.ndarray | None  # soft assignments of the last evaluated epoch (finite)
    embeddings: dict[str, np.ndarray]  # the representation at the chosen epochs
    epoch_seconds: list[float]
    eval_seconds: list[float]  # per epoch: the part of epoch_seconds spent evaluating
    timed_seconds: dict[str, list[float]]  # per epoch: the parts a trainer times on its own
    batches_per_epoch: int | None
    reason: str | None = None  # why it did not finish (None when done)


@torch.no_grad()
def evaluate(
    trainer: Trainer, views: list[torch.Tensor], labels: np.ndarray
) -> tuple[dict[str, float] | None, np.ndarray, np.ndarray]:
    """Metrics of the trainer's soft assignments over all samples (and the number of clusters
    they use, and NMI with the geometric normalisation, `NMI_geometric`, which mvc's
    evaluation reports), the assignments and the representation; no metrics (None) when the
    assignments are not finite."""
    from mmcbench.runs.metrics import clustering_scores, nmi, soft_scores

    trainer.model.eval()
    probs, representation = trainer.predict(views)
    trainer.model.train()
    p = probs.double().cpu().numpy()
    if not np.isfinite(p).all():
        return None, p, representation.float().cpu().numpy()
    predicted = p.argmax(axis=1)
    scores = clustering_scores(labels, predicted)
    if trainer.has_soft_assignments():
        scores.update(soft_scores(labels, p))
    else:  # hard clusters: no confidence to calibrate (N/A, as for KM)
        scores.update(dict.fromkeys(("ECE", "NLL", "Brier"), float("nan")))
    scores["clusters"] = clusters_used(predicted)
    scores["clusters_effective"] = effective_clusters(predicted)
    scores["NMI_geometric"] = nmi(labels, predicted, "geometric")
    return scores, p, representation.float().cpu().numpy()


def fusion_weights(trainer: Trainer, view_names: Sequence[str]) -> dict[str, float]:
    """The trainer's fusion weights, one column per view (w_<view>); none without fusion."""
    weights = trainer.fusion_weights()
    if weights is None:
        return {}
    values = weights.detach().cpu().tolist()
    return {f"w_{name}": float(w) for name, w in zip(view_names, values, strict=True)}


class Alone:
    """K = 1: the trainer's `step` on its own model."""

    def __init__(self, trainer: Trainer) -> None:
        self.trainer = trainer
        self.params = list(trainer.model.parameters())

    def step(self, batch: list[torch.Tensor], device: torch.device) -> StepOutcome:
        """The run's step, every value as a tensor of one entry."""
        outcome = self.trainer.step(batch[0].to(device))
        return StepOutcome(
            {k: v.reshape(1) for k, v in outcome.terms.items()},
            {
                k: torch.as_tensor(v, dtype=torch.float64).reshape(1)
                for k, v in outcome.stats.items()
            },
            dict(outcome.timed),
        )

    def clip(self, max_norm: float) -> None:
        # mvc's Optimizer: clip the whole model's norm
        torch.nn.utils.clip_grad_norm_(self.params, max_norm)

    def freeze(self, stopped: torch.Tensor) -> None:
        pass  # a run alone stops the loop

    def load(self, run: int) -> None:
        pass

    def store(self, run: int) -> None:
        pass


class Stacked:
    """K runs as one stacked model (torch.func.stack_module_state), the lead trainer's
    `pack_step` vmapped over them; each run keeps its Adam moments and its clipping."""

    def __init__(self, trainers: Sequence[Trainer], run_values: dict[str, torch.Tensor]) -> None:
        from torch.func import stack_module_state

        self.trainers = list(trainers)
        params, buffers = stack_module_state([t.model for t in trainers])
        self.state = {**params, **buffers}
        self.named = params
        self.params = list(params.values())
        self.initial = {name: p.detach().clone() for name, p in params.items()}
        self.run_values = run_values

    def step(self, batch: list[torch.Tensor], device: torch.device) -> StepOutcome:
        """The lead trainer's `pack_step`: every value has K entries."""
        idx = torch.stack(batch).to(device)
        return self.trainers[0].pack_step(self.state, idx, self.trainers, *self.run_values.values())

    @torch.no_grad()
    def clip(self, max_norm: float) -> None:
        """torch.nn.utils.clip_grad_norm_ applied to each run's slice on its own."""
        grads = [p.grad for p in self.params if p.grad is not None]
        if not grads:
            return
        runs = grads[0].shape[0]
        norms = torch.stack([g.reshape(runs, -1).norm(dim=1) for g in grads]).norm(dim=0)
        coefficient = (max_norm / (norms + 1e-6)).clamp(max=1.0)
        for g in grads:
            g.mul_(_per_run(coefficient, g.shape))

    @torch.no_grad()
    def freeze(self, stopped: torch.Tensor) -> None:
        """Runs that stopped keep their initial weights and get no gradient."""
        for name, p in self.named.items():
            mask = _per_run(stopped, p.shape)
            if p.grad is not None:
                p.grad.copy_(torch.where(mask, torch.zeros_like(p.grad), p.grad))
            p.copy_(torch.where(mask, self.initial[name], p))

    @torch.no_grad()
    def load(self, run: int) -> None:
        """Copy run `run`'s slice of the stacked state into its trainer's model."""
        model = self.trainers[run].model
        for name, tensor in [*model.named_parameters(), *model.named_buffers()]:
            tensor.copy_(self.state[name][run])

    @torch.no_grad()
    def store(self, run: int) -> None:
        """Copy run `run`'s model into its slice of the stacked state."""
        model = self.trainers[run].model
        for name, tensor in [*model.named_parameters(), *model.named_buffers()]:
            self.state[name][run].copy_(tensor)


def _per_run(values: torch.Tensor, shape: torch.Size) -> torch.Tensor:
    return values.view(-1, *([1] * (len(shape) - 1)))


def fit(
    trainers: Sequence[Trainer],
    seeds: Sequence[int],
    views: list[torch.Tensor],
    data: MultiViewData,
    embeddings_at: Sequence[int],
    device: torch.device,
    name: str,
    run_values: dict[str, torch.Tensor] | None = None,
) -> list[Fitted]:
    """Train the runs of `trainers` (one per seed; all of one method, variant and schedule)
    for the lead trainer's `config.total_epochs`: alone when there is one, stacked otherwise
    (`run_values`: the per-run values `pack_step` receives, e.g. α and β). `name` labels the
    log lines."""
    runs = len(trainers)
    lead = trainers[0]
    config = lead.config
    epochs = config.total_epochs
    stepper = Alone(lead) if runs == 1 else Stacked(trainers, run_values or {})
    optimiser = torch.optim.Adam(stepper.params, lr=config.lr, betas=lead.adam_betas())
    batch_rngs = [torch.Generator().manual_seed(seed) for seed in seeds]

    histories: list[list[dict[str, Any]]] = [[] for _ in range(runs)]
    embeddings: list[dict[str, np.ndarray]] = [{} for _ in range(runs)]
    assignments: list[np.ndarray | None] = [None] * runs
    ended_at: list[int | None] = [None] * runs
    outcome: list[str] = ["done"] * runs  # how a run ended: done | diverged | stopped | error
    reasons: list[str | None] = [None] * runs
    epoch_times: list[float] = []
    eval_times: list[float] = []  # per epoch: the evaluation pass of every live run
    timed: dict[str, list[float]] = {}
    batches: list[torch.Tensor] = []

    def end(r: int, epoch: int, status: str, why: str) -> None:
        """Run r ends in `epoch` without finishing: `status` for the reason `why`."""
        if ended_at[r] is None:
            ended_at[r], outcome[r], reasons[r] = epoch, status, why

    def evaluate_run(r: int, epoch: int) -> dict[str, float] | None:
        """Run r's scores at `epoch`; None when its soft assignments are not finite (the run
        then diverges: scores of NaN rows would mean nothing)."""
        stepper.load(r)
        try:
            scores, probs, representation = evaluate(trainers[r], views, data.labels)
            if scores is not None and epoch > 0:  # the untrained model has no epoch to evaluate
                scores.update(evaluation_losses(trainers[r], epoch, seeds[r]))
        finally:
            trainers[r].end_evaluation()
        if scores is None:
            end(r, epoch, "diverged", f"the soft assignments became NaN/inf in epoch {epoch}")
            log.error(
                "%s (seed %d), epoch %d: soft assignments are not finite; the run stops as "
                "diverged",
                name,
                seeds[r],
                epoch,
            )
            return None
        assignments[r] = probs
        if epoch in embeddings_at:
            embeddings[r][f"epoch_{epoch}"] = representation
        return scores

    epoch = 0
    try:
        for r in range(runs):
            if (scores := evaluate_run(r, 0)) is not None:
                histories[r].append(
                    {"epoch": 0, **scores, **fusion_weights(trainers[r], data.view_names)}
                )
        _log_epoch(name, 0, epochs, [h[-1] for h in histories if h], None)

        for epoch in range(1, epochs + 1):
            if all(e is not None for e in ended_at):
                break
            t_epoch = time.perf_counter()
            for r, trainer in enumerate(trainers):
                stepper.load(r)
                trainer.before_epoch(epoch)
                stepper.store(r)
            plans = [t.batches(epoch, rng) for t, rng in zip(trainers, batch_rngs, strict=True)]
            batches = plans[0]
            sums: dict[str, torch.Tensor] = {}
            stats: dict[str, torch.Tensor] = {}
            for part in timed.values():
                part.append(0.0)
            for j in range(len(batches)):
                for group in optimiser.param_groups:
                    group["lr"] = config.lr * lead.step_lr_factor(epoch, j + 1, len(batches))
                try:
                    step = stepper.step([plan[j] for plan in plans], device)
                except RunStopped as stop:  # a run alone: its trainer cannot go on
                    if runs > 1:  # a stacked step cannot say which run stopped
                        raise
                    end(0, epoch, "stopped", f"stopped in epoch {epoch}: {stop}")
                    log.error("%s epoch %d: the run stops: %s", name, epoch, stop)
                    break
                total = step.terms["total"]
                for r, finite in enumerate(torch.isfinite(total).tolist()):
                    if not finite and ended_at[r] is None:
                        end(r, epoch, "diverged", f"loss became NaN/inf in epoch {epoch}")
                        log.error(
                            "%s (seed %d), epoch %d: loss is not finite; the run stops as diverged",
                            name,
                            seeds[r],
                            epoch,
                        )
                for r, trainer in enumerate(trainers):
                    trainer.ended = ended_at[r] is not None  # a stacked step may skip its work
                stopped = torch.tensor([e is not None for e in ended_at], device=total.device)
                if bool(stopped.all()):
                    break
                optimiser.zero_grad(set_to_none=True)
                torch.where(stopped, torch.zeros_like(total), total).sum().backward()
                if bool(stopped.any()):
                    stepper.freeze(stopped)
                if config.grad_clip is not None:
                    stepper.clip(config.grad_clip)
                optimiser.step()
                if bool(stopped.any()):
                    stepper.freeze(stopped)
                # summed in float64, as Python floats were before packs existed
                for term, value in step.terms.items():
                    sums[term] = sums.get(term, 0) + value.detach().double()
                for stat, value in step.stats.items():
                    stats[stat] = stats.get(stat, 0) + value.detach().double()
                for part, seconds in step.timed.items():
                    timed.setdefault(part, [0.0] * len(epoch_times) + [0.0])[-1] += seconds

            sums_list = {k: v.tolist() for k, v in sums.items()}
            stats_list = {k: v.tolist() for k, v in stats.items()}
            rows = {}
            t_eval = time.perf_counter()
            for r in [r for r in range(runs) if ended_at[r] is None]:
                stepper.load(r)
                epoch_stats = score_predictions(trainers[r].after_epoch(), data.labels)
                if (scores := evaluate_run(r, epoch)) is None:
                    continue
                rows[r] = history_row(
                    epoch,
                    {k: v[r] for k, v in sums_list.items()},
                    {k: v[r] for k, v in stats_list.items()},
                    len(batches),
                    scores,
                    trainers[r],
                    data,
                    epoch_stats,
                )
            eval_times.append(time.perf_counter() - t_eval)
            epoch_times.append(time.perf_counter() - t_epoch)
            for r, row in rows.items():
                row["epoch_s"] = epoch_times[-1]
                for part, seconds in timed.items():
                    row[f"{part}_s"] = seconds[-1]
                histories[r].append(row)
            _log_epoch(name, epoch, epochs, list(rows.values()), epoch_times[-1])
    except MmcbenchError:
        raise
    except Exception as exc:  # the method's own code failed: its live runs end as `error`
        why = failure_text(exc)
        failed = [r for r in range(runs) if ended_at[r] is None]
        for r in failed:
            end(r, epoch, "error", f"epoch {epoch}: {why}")
        log.error(
            "%s, epoch %d: %s; %s with status error (its record keeps the traceback)",
            name,
            epoch,
            why.splitlines()[0],
            "the run ends" if runs == 1 else f"{len(failed)} run(s) of the pack end",
        )

    import pandas as pd

    fitted = []
    for r in range(runs):
        completed = max(len(histories[r]) - 1, 0)
        fitted.append(
            Fitted(
                history=pd.DataFrame(histories[r]),
                status=outcome[r],
                diverged_at=ended_at[r],
                assignments=assignments[r],
                embeddings=embeddings[r],
                epoch_seconds=epoch_times[:completed],
                eval_seconds=eval_times[:completed],
                timed_seconds={part: s[:completed] for part, s in timed.items()},
                batches_per_epoch=len(batches) if completed else None,
                reason=reasons[r],
            )
        )
    return fitted


def failure_text(exc: BaseException) -> str:
    """An exception of a method's code as a record's `error`: its type and message, then the
    last frames of its traceback (where in the method it was raised)."""
    import traceback

    frames = "".join(traceback.format_exception(exc, limit=-6)).rstrip()
    return f"{type(exc).__name__}: {exc}\n{frames}"


def history_row(
    epoch: int,
    sums: dict[str, float],
    stats: dict[str, float],
    n_batches: int,
    scores: dict[str, float],
    trainer: Trainer,
    data: MultiViewData,
    epoch_stats: dict[str, float],
) -> dict[str, float]:
    """One epoch's history row: loss terms and step statistics averaged over its batches, the
    evaluation's scores, the fusion weights and the method's end-of-epoch statistics."""
    n = max(n_batches, 1)
    return {
        "epoch": epoch,
        **{k: v / n for k, v in sums.items()},
        **scores,
        **fusion_weights(trainer, data.view_names),
        **{k: v / n for k, v in stats.items()},
        **epoch_stats,
    }


def _log_epoch(
    name: str, epoch: int, epochs: int, rows: list[dict[str, Any]], seconds: float | None
) -> None:
    if not rows:
        return
    if len(rows) == 1:
        row = rows[0]
        if seconds is None:
            log.info(
                "%s epoch 0/%d (untrained): ACC %.1f NMI %.1f", name, epochs, row["ACC"], row["NMI"]
            )
            return
        log.info(
            "%s epoch %d/%d: loss %.4f ACC %.1f NMI %.1f ECE %.1f (%.2f s)",
            name,
            epoch,
            epochs,
            row.get("total", float("nan")),
            row["ACC"],
            row["NMI"],
            row["ECE"],
            seconds,
        )
        return
    acc = [row["ACC"] for row in rows]
    log.info(
        "%s: pack of %d runs training, epoch %d/%d: ACC min %.1f median %.1f max %.1f%s",
        name,
        len(rows),
        epoch,
        epochs,
        min(acc),
        float(np.median(acc)),
        max(acc),
        "" if seconds is None else f" ({seconds:.2f} s)",
    )
