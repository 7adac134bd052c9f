"""One deep run (GIB or CLIB): (method, variant, dataset, seed, hyper-parameters) → run record.

The whole dataset goes to the device once; batches are index permutations from a seeded
generator. After every epoch an evaluation pass over all samples (eval mode: H = μ, running
BatchNorm statistics) records the loss terms (mean over the epoch's batches), ACC, NMI, ARI,
ECE of the fused assignment, the fusion weights and the method's diagnostics (GIB: granular
balls; CLIB: the screened pseudo-labels). Epoch 0 is the untrained model. Fused embeddings
are kept at chosen epochs (for t-SNE), with the final fused assignments and the labels. A
non-finite loss stops the run, which is then recorded as `diverged` with no final metrics.
"""

from __future__ import annotations

import logging
import random
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from benchmark import catalogue, records
from benchmark.batches import batch_plan
from benchmark.data.load import MultiViewData, load_hdf5, scale_view
from benchmark.health import clusters_used
from benchmark.metrics import clustering_scores, ece
from benchmark.models.settings import DeepConfig
from benchmark.trainers import Trainer

log = logging.getLogger(__name__)


@dataclass
class RunOutput:
    record: dict[str, Any]
    history: pd.DataFrame
    embeddings: dict[str, np.ndarray]


def device_views(data: MultiViewData, scaling: str, device: torch.device) -> list[torch.Tensor]:
    """The scaled views on the training device, in torch's default floating-point type
    (float32 unless `--precision float64`)."""
    dtype = torch.get_default_dtype()
    return [torch.as_tensor(scale_view(v, scaling), device=device, dtype=dtype) for v in data.views]


def choose_device(requested: str = "auto") -> torch.device:
    """`cuda` when available (or asked for), else CPU."""
    if requested == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if requested == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device 'cuda' requested but CUDA is not available")
    return torch.device(requested)


def describe_device(device: torch.device) -> str:
    if device.type == "cuda":
        return f"cuda:{torch.cuda.get_device_name(device)}"
    threads = torch.get_num_threads()
    return f"cpu ({threads} thread{'s' if threads != 1 else ''})"


def seed_everything(seed: int) -> None:
    """Python, NumPy and torch (CPU and CUDA) generators."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


@torch.no_grad()
def evaluate(
    trainer: Trainer, views: list[torch.Tensor], labels: np.ndarray
) -> tuple[dict[str, float], np.ndarray, np.ndarray]:
    """Metrics of the fused assignment over all samples (and the number of clusters it uses),
    the assignments and the fused H."""
    trainer.model.eval()
    probs, fused = trainer.predict(views)
    p = probs.double().cpu().numpy()
    predicted = p.argmax(axis=1)
    scores = clustering_scores(labels, predicted)
    scores["ECE"] = ece(labels, p)
    scores["clusters"] = clusters_used(predicted)
    trainer.model.train()
    return scores, p, fused.float().cpu().numpy()


def make_trainer(
    method: str,
    data: MultiViewData,
    views: list[torch.Tensor],
    variant: str,
    seed: int,
    config: DeepConfig,
    device: torch.device,
) -> Trainer:
    """The catalogue's trainer of `method` (ValueError for a method that is not deep)."""
    if method not in catalogue.deep_methods():
        raise ValueError(
            f"unknown deep method {method!r} (available: {', '.join(catalogue.deep_methods())})"
        )
    return catalogue.trainer_class(method)(data, views, variant, seed, config, device)


@dataclass
class Fitted:
    """What the training loop returns: the history, how it ended, and the final state."""

    history: pd.DataFrame
    status: str  # done | diverged
    diverged_at: int | None
    assignments: np.ndarray  # fused soft assignments of the last evaluated epoch
    embeddings: dict[str, np.ndarray]  # fused H at the chosen epochs
    epoch_seconds: list[float]
    ball_seconds: list[float]  # per epoch: the part reported on its own (GIB's balls)
    batches_per_epoch: int | None


def fit(
    trainer: Trainer,
    views: list[torch.Tensor],
    data: MultiViewData,
    config: DeepConfig,
    embeddings_at: Sequence[int],
    seed: int,
    device: torch.device,
    name: str,
) -> Fitted:
    """The training loop: Adam over seeded batches, an evaluation after every epoch (epoch 0 is
    the untrained model), a stop at the first non-finite loss. `name` labels the log lines."""
    model = trainer.model
    optimiser = torch.optim.Adam(model.parameters(), lr=config.lr)
    batch_rng = torch.Generator().manual_seed(seed)
    history: list[dict[str, float]] = []
    embeddings: dict[str, np.ndarray] = {}
    scores, assignments, fused = evaluate(trainer, views, data.labels)
    history.append({"epoch": 0, **scores, **fusion_weights(model, data.view_names)})
    if 0 in embeddings_at:
        embeddings["epoch_0"] = fused
    log.info(
        "%s epoch 0/%d (untrained): ACC %.1f NMI %.1f",
        name,
        config.epochs,
        scores["ACC"],
        scores["NMI"],
    )

    status, diverged_at, epoch_times, extra_times, batches = "done", None, [], [], []
    for epoch in range(1, config.epochs + 1):
        t_epoch = time.perf_counter()
        trainer.before_epoch(epoch)
        extra_times.append(0.0)
        sums: dict[str, float] = defaultdict(float)
        stats: dict[str, float] = defaultdict(float)
        batches = batch_plan(
            data.n_samples, config.batch_size, config.min_batch_factor * data.n_clusters, batch_rng
        )
        for idx_cpu in batches:
            step = trainer.step(idx_cpu.to(device))
            extra_times[-1] += step.extra_seconds
            total = step.terms["total"]
            if not torch.isfinite(total):
                status, diverged_at = "diverged", epoch
                break
            optimiser.zero_grad(set_to_none=True)
            total.backward()
            if config.grad_clip is not None:  # mvc's Optimizer: clip the whole model's norm
                torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
            optimiser.step()
            for term, value in step.terms.items():
                sums[term] += float(value.detach())
            for stat, value in step.stats.items():
                stats[stat] += value
        if status == "diverged":
            log.error("epoch %d: loss is not finite; the run stops as diverged", epoch)
            break
        epoch_stats = trainer.after_epoch()
        scores, assignments, fused = evaluate(trainer, views, data.labels)
        row = history_row(epoch, sums, stats, len(batches), scores, trainer, data, epoch_stats)
        epoch_times.append(time.perf_counter() - t_epoch)
        row["epoch_s"] = epoch_times[-1]
        if trainer.times_balls:
            row["ball_s"] = extra_times[-1]
        history.append(row)
        if epoch in embeddings_at:
            embeddings[f"epoch_{epoch}"] = fused
        log.info(
            "%s epoch %d/%d: loss %.4f ACC %.1f NMI %.1f ECE %.1f (%.2f s)",
            name,
            epoch,
            config.epochs,
            row["total"],
            scores["ACC"],
            scores["NMI"],
            scores["ECE"],
            epoch_times[-1],
        )
    return Fitted(
        history=pd.DataFrame(history),
        status=status,
        diverged_at=diverged_at,
        assignments=assignments,
        embeddings=embeddings,
        epoch_seconds=epoch_times,
        ball_seconds=extra_times[: len(epoch_times)],
        batches_per_epoch=len(batches) if epoch_times else None,
    )


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
    return {
        "epoch": epoch,
        **{k: v / n_batches for k, v in sums.items()},
        **scores,
        **fusion_weights(trainer.model, data.view_names),
        **{k: v / n_batches for k, v in stats.items()},
        **epoch_stats,
    }


def train(
    method: str,
    data: MultiViewData,
    variant: str,
    seed: int,
    config: DeepConfig,
    device: torch.device,
    embeddings_at: Sequence[int] = (0, 5, 100),
    scaling: str = "minmax",
    overrides: dict[str, Any] | None = None,
) -> RunOutput:
    """Train `method` (or an ablation) on `data`; return the record, history and embeddings.

    `overrides` (a study point's one-factor change, already applied to `config`) is recorded
    so that aggregation can tell study points from the default setting.
    """
    started, t_start = records.now(), time.perf_counter()
    seed_everything(seed)
    views = device_views(data, scaling, device)
    trainer = make_trainer(method, data, views, variant, seed, config, device)
    fitted = fit(trainer, views, data, config, embeddings_at, seed, device, f"{method} {variant}")

    return run_output(
        method,
        variant,
        data,
        seed,
        trainer,
        fitted,
        embeddings_at,
        scaling,
        overrides,
        started=started,
        wall_s=time.perf_counter() - t_start,
        device=device,
    )


def run_output(
    method: str,
    variant: str,
    data: MultiViewData,
    seed: int,
    trainer: Trainer,
    fitted: Fitted,
    embeddings_at: Sequence[int],
    scaling: str,
    overrides: dict[str, Any] | None,
    *,
    started: str,
    wall_s: float,
    device: torch.device,
    pack_size: int | None = None,
) -> RunOutput:
    """The record, history and embeddings of a trained run (alone, or in a pack of
    `pack_size` runs: its timings are then the pack's)."""
    # The fused soft assignments of the last evaluated epoch, with the labels: enough to
    # recompute ECE and draw reliability diagrams without retraining.
    embeddings = {
        **fitted.embeddings,
        "assignments_final": fitted.assignments.astype(np.float32),
        "labels": data.labels,
    }
    last = fitted.history.iloc[-1].to_dict()
    done = fitted.status == "done"
    metrics = {m: float(last[m]) for m in records.METRICS} if done else None
    epochs = fitted.epoch_seconds
    timing = {
        "per_epoch_s": float(np.mean(epochs)) if epochs else None,
        "ball_share": sum(fitted.ball_seconds) / sum(epochs)
        if epochs and trainer.times_balls
        else None,
    }
    if pack_size is not None:
        timing["pack_size"] = pack_size
    record = records.run_record(
        method=method,
        variant=variant,
        data=data,
        seed=seed,
        status=fitted.status,
        error=None if done else f"loss became NaN/inf in epoch {fitted.diverged_at}",
        params={
            **trainer.params(),
            "scaling": scaling,
            "embeddings_at": list(embeddings_at),
            "precision": str(torch.get_default_dtype()).removeprefix("torch."),
        },
        overrides=overrides,
        metrics=metrics,
        labels=fitted.assignments.argmax(axis=1) if done else None,
        loss={"name": "total", "value": float(last["total"]) if done and "total" in last else None},
        diagnostics={
            "diverged_epoch": fitted.diverged_at,
            "epochs_run": len(epochs),
            "fusion_weights": fusion_weights(trainer.model, data.view_names),
            **trainer.diagnostics(fitted.history),
            "batches_per_epoch": fitted.batches_per_epoch,
        },
        timing=timing,
        started=started,
        wall_s=wall_s,
        device=describe_device(device),
        scaling=scaling,
    )
    return RunOutput(record=record, history=fitted.history, embeddings=embeddings)


def fusion_weights(model: torch.nn.Module, view_names: Sequence[str]) -> dict[str, float]:
    """The fusion weights, one column per view (w_<view>)."""
    weights = model.fusion.weights.detach().cpu().tolist()
    return {f"w_{name}": float(w) for name, w in zip(view_names, weights, strict=True)}


def run_from_file(
    method: str,
    variant: str,
    data_file: str | Path,
    seed: int,
    config: DeepConfig,
    device: str = "auto",
    embeddings_at: Sequence[int] = (0, 5, 100),
    scaling: str = "minmax",
    overrides: dict[str, Any] | None = None,
) -> RunOutput:
    """Load a converted dataset and train `method` on it."""
    if method not in catalogue.deep_methods():
        raise ValueError(
            f"unknown deep method {method!r} (available: {', '.join(catalogue.deep_methods())})"
        )
    data = load_hdf5(data_file)
    return train(
        method,
        data,
        variant,
        seed,
        config,
        choose_device(device),
        embeddings_at,
        scaling,
        overrides,
    )
