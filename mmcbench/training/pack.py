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

import torch

from mmcbench.data.load import MultiViewData, load_hdf5
from mmcbench.runs import records
from mmcbench.training.loop import fit
from mmcbench.training.train import (
    RunOutput,
    choose_device,
    device_views,
    make_trainer,
    run_output,
    run_scaling,
    seed_everything,
    train,
    trainer_of,
)
from mmcbench.training.trainers import Trainer

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Member:
    """One run of a pack: its seed and its loss weights."""

    seed: int
    alpha: float | None = None  # the run's α and β (methods whose run path spells them)
    beta: float | None = None


def _member_config(config: Any, member: Member) -> Any:
    """`config` with the member's α and β (when the method has them)."""
    if member.alpha is None:
        return config
    return dataclasses.replace(config, alpha=member.alpha, beta=member.beta)


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
    config: Any,
    device: torch.device,
    embeddings_at: Sequence[int] = (0, 5, 100),
    scaling: str = "minmax",
    overrides: dict[str, Any] | None = None,
) -> list[RunOutput]:
    """Train the runs of `members` (`config` with each run's α and β) together; return each
    run's record, history and embeddings, as `mmcbench.training.train.train` returns one run's."""
    check_members(members)
    if not trainer_of(method).packable:
        # A method with no stacked step trains its pack's runs one after another, each alone
        # (the same files and numbers; only the processes are saved).
        log.info(
            "%s has no stacked step: the pack's %d runs train one by one", method, len(members)
        )
        return [
            train(
                method,
                data,
                variant,
                member.seed,
                _member_config(config, member),
                device,
                embeddings_at,
                scaling,
                overrides,
            )
            for member in members
        ]
    started, t_start = records.now(), time.perf_counter()
    scaling = run_scaling(config, scaling)
    views = device_views(data, scaling, device)
    trainers: list[Trainer] = []
    for member in members:
        seed_everything(member.seed)
        run_config = _member_config(config, member)
        trainers.append(make_trainer(method, data, views, variant, member.seed, run_config, device))

    dtype = views[0].dtype
    run_values = {
        key: torch.tensor([getattr(m, key) for m in members], device=device, dtype=dtype)
        for key in ("alpha", "beta")
        if members[0].alpha is not None
    }
    fitted = fit(
        trainers,
        [m.seed for m in members],
        views,
        data,
        embeddings_at,
        device,
        f"{method} {variant}",
        run_values,
    )
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


def pack_from_file(
    method: str,
    variant: str,
    data_file: str,
    members: Sequence[Member],
    config: Any,
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
