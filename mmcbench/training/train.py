"""One deep run: (method, variant, dataset, seed, hyper-parameters) → run record.

The whole dataset goes to the device once; the run trains through the one training loop
(`mmcbench.training.loop`: batches from a seeded generator, an evaluation of all samples after every
epoch, epoch 0 the untrained model). The record holds the final metrics, the trainer's
hyper-parameters and diagnostics; the representation is kept at chosen epochs (for t-SNE),
with the final soft assignments and the labels. A non-finite loss stops the run, recorded as
`diverged` with no final metrics; a trainer that cannot go on stops it as `stopped`, whose
metrics are those of its last evaluated epoch.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from mmcbench.core.errors import MmcbenchError
from mmcbench.data.load import MultiViewData, load_hdf5, scale_view
from mmcbench.planning import catalogue
from mmcbench.runs import records
from mmcbench.training.loop import Fitted, fit, fusion_weights
from mmcbench.training.trainers import Trainer, TrainingData, score_predictions

if TYPE_CHECKING:
    import pandas as pd

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


# A method's own `preprocess` key (SiMVC/CoMVC, MFLVC: the spec's Resolved choice of its
# authors' code) → the scaling of mmcbench.data.load.scale_view.
PREPROCESS_SCALING = {"none": "none", "minmax_feature": "minmax", "minmax_global": "minmax_global"}


def run_scaling(config: Any, scaling: str) -> str:
    """The scaling a run's views get: its method's own `preprocess` key where it has one (the
    suite-wide `scaling`, preprocessing.scaling, otherwise)."""
    own = config.scaling()
    return scaling if own is None else PREPROCESS_SCALING[own]


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


def make_trainer(
    method: str,
    data: MultiViewData,
    views: list[torch.Tensor],
    variant: str,
    seed: int,
    config: Any,
    device: torch.device,
) -> Trainer:
    """The catalogue's trainer of `method` (ValueError for a method that is not deep), given the
    views and sizes of `data` (`TrainingData`), never its labels.

    A trainer class that is not a `mmcbench.training.trainers.Trainer` is refused; a trainer
    that cannot be built for this data and setting is refused as one paragraph
    (MmcbenchError), before any training: a dataset with fewer views than the method needs, a
    trainer's own refusal (ValueError, e.g. CoMVC's negative sampling that draws no negative),
    or any other exception of its construction (the method's code, file and line named)."""
    if method not in catalogue.deep_methods():
        raise ValueError(
            f"unknown deep method {method!r} (available: {', '.join(catalogue.deep_methods())})"
        )
    if problem := catalogue.views_problem(method, len(views), data.name):
        raise MmcbenchError(f"{method} {variant} cannot train on {data.path}: {problem}")
    trainer_class = trainer_of(method)
    given = TrainingData(data.name, views, data.n_clusters)
    try:
        return trainer_class(given, variant, seed, config, device)
    except MmcbenchError:
        raise
    except ValueError as exc:
        raise MmcbenchError(f"{method} {variant} cannot train on {data.path}: {exc}") from exc
    except Exception as exc:
        raise MmcbenchError(
            f"{method} {variant}: its trainer {trainer_class.__name__} could not be built on "
            f"{data.path}: {type(exc).__name__}: {exc} ({where_raised(exc)})"
        ) from exc


def trainer_of(method: str) -> type[Trainer]:
    """The trainer class of deep `method`; MmcbenchError when it does not derive from Trainer."""
    trainer_class = catalogue.trainer_class(method)
    if not (isinstance(trainer_class, type) and issubclass(trainer_class, Trainer)):
        raise MmcbenchError(
            f"{method}: its trainer {trainer_class!r} is not "
            "a subclass of mmcbench.training.trainers.Trainer, which holds the whole contract "
            'between a method and the training loop (README "Add a method")'
        )
    return trainer_class


def recorded_params(
    method: str, variant: str, data: MultiViewData, seed: int, config: Any
) -> dict[str, Any]:
    """The hyper-parameters a run's record holds (`params()` of its trainer), known before
    training (`--keep-finished` compares them): `config_params` of the variant's settings,
    the same for every data set and seed."""
    return trainer_of(method).config_params(catalogue.for_variant(config, variant))


def where_raised(exc: BaseException) -> str:
    """`file:line` of the innermost frame of an exception's traceback."""
    import traceback

    frames = traceback.extract_tb(exc.__traceback__)
    return f"{frames[-1].filename}:{frames[-1].lineno}" if frames else "no traceback"


def train(
    method: str,
    data: MultiViewData,
    variant: str,
    seed: int,
    config: Any,
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
    scaling = run_scaling(config, scaling)
    seed_everything(seed)
    views = device_views(data, scaling, device)
    trainer = make_trainer(method, data, views, variant, seed, config, device)
    (fitted,) = fit([trainer], [seed], views, data, embeddings_at, device, f"{method} {variant}")

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
    embeddings = {**fitted.embeddings, "labels": data.labels}
    if fitted.assignments is not None:
        embeddings["assignments_final"] = fitted.assignments.astype(np.float32)
    history = fitted.history
    last = history.iloc[-1].to_dict() if len(history) else {}
    # a stopped run keeps its last evaluation (one it has: epoch 0 at least)
    scored = fitted.status in ("done", "stopped") and fitted.assignments is not None
    metrics = {m: float(last[m]) for m in records.METRICS} if scored else None
    epochs = fitted.epoch_seconds
    timing: dict[str, Any] = {"per_epoch_s": float(np.mean(epochs)) if epochs else None}
    parts = {**fitted.timed_seconds, "eval": fitted.eval_seconds}
    for part, seconds in parts.items():
        timing[f"{part}_share"] = sum(seconds) / sum(epochs) if epochs else None
    if pack_size is not None:
        timing["pack_size"] = pack_size
    record = records.run_record(
        method=method,
        variant=variant,
        data=data,
        seed=seed,
        status=fitted.status,
        error=fitted.reason,
        params={
            **trainer.params(),
            "scaling": scaling,
            "embeddings_at": list(embeddings_at),
            "precision": str(torch.get_default_dtype()).removeprefix("torch."),
        },
        overrides=overrides,
        metrics=metrics,
        labels=fitted.assignments.argmax(axis=1) if scored else None,
        loss={
            "name": "total",
            "value": float(last["total"]) if scored and "total" in last else None,
        },
        diagnostics={
            "diverged_epoch": fitted.diverged_at,
            "epochs_run": len(epochs),
            "fusion_weights": fusion_weights(trainer, data.view_names),
            # the method's own summary of its history (none when its code failed), scored
            **(
                score_predictions(trainer.diagnostics(history), data.labels)
                if fitted.status != "error"
                else {}
            ),
            "batches_per_epoch": fitted.batches_per_epoch,
        },
        timing=timing,
        started=started,
        wall_s=wall_s,
        device=describe_device(device),
        scaling=scaling,
    )
    return RunOutput(record=record, history=history, embeddings=embeddings)


def run_from_file(
    method: str,
    variant: str,
    data_file: str | Path,
    seed: int,
    config: Any,
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
