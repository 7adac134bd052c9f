"""One baseline run: (method, variant, dataset file, seed, parameters) → run record.

Variants: `view{i}` for the single-view methods (KM, Ncuts), `all` for AmKM and AmNcuts.
A failure inside the method (not a bad input) is recorded with status `error` and its message,
so the tables count it instead of silently missing a row.
"""

from __future__ import annotations

import logging
import random
import re
import time
import traceback
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mmcbench.data.load import load_hdf5, scale_view
from mmcbench.planning import catalogue
from mmcbench.runs import records
from mmcbench.runs.metrics import clustering_scores

log = logging.getLogger(__name__)

VARIANT = re.compile(r"^(view(\d+)|all)$")


@dataclass(frozen=True)
class BaselineParams:
    """Hyper-parameters of the classical baselines (config keys `baselines.*`)."""

    n_init: int = 10
    n_neighbors: int = 10
    assign_labels: str = "discretize"
    scaling: str = "minmax"


def parse_variant(method: str, variant: str, n_views: int) -> int | None:
    """The view index a variant names (None for `all`); ValueError if it does not fit."""
    match = VARIANT.match(variant)
    if not match:
        raise ValueError(f"variant {variant!r}: expected 'view<i>' or 'all'")
    if catalogue.get(method).single_view:
        if match.group(2) is None:
            raise ValueError(f"{method} runs on one view: variant must be 'view<i>', not 'all'")
        view = int(match.group(2))
        if view >= n_views:
            raise ValueError(f"variant {variant!r}: the dataset has views 0..{n_views - 1}")
        return view
    if variant != "all":
        raise ValueError(f"{method} runs on all views: variant must be 'all', not {variant!r}")
    return None


def run(
    method: str, variant: str, data_file: str | Path, seed: int, params: BaselineParams
) -> dict[str, Any]:
    """Run one baseline and return its run record (not yet written)."""
    from baselines.methods import run_baseline

    started, t0 = records.now(), time.perf_counter()
    data = load_hdf5(data_file)
    view = parse_variant(method, variant, len(data.views))
    random.seed(seed)
    np.random.seed(seed)
    views = [scale_view(v, params.scaling) for v in data.views]

    status, error, metrics, loss, diagnostics, labels = "done", None, None, None, {}, None
    try:
        result = run_baseline(
            method,
            views,
            data.n_clusters,
            seed,
            view,
            n_init=params.n_init,
            n_neighbors=params.n_neighbors,
            assign_labels=params.assign_labels,
        )
        labels = result.labels
        metrics = clustering_scores(data.labels, labels)
        if result.objective_name:
            loss = {"name": result.objective_name, "value": result.objective}
        diagnostics = {
            "n_clusters_found": int(np.unique(labels).size),
            "warnings": result.warnings,
        }
    except Exception as exc:  # recorded, not hidden: the tables count error runs
        log.exception("%s on %s (%s, seed %d) failed", method, data.name, variant, seed)
        status, error = "error", f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=5)}"

    record_params = {**asdict(params)}
    if view is not None:
        record_params.update(view=view, view_name=data.view_names[view])
    return records.run_record(
        method=method,
        variant=variant,
        data=data,
        seed=seed,
        status=status,
        error=error,
        params=record_params,
        metrics=metrics,
        labels=labels,
        loss=loss,
        diagnostics=diagnostics,
        started=started,
        wall_s=time.perf_counter() - t0,
        device="cpu",
        scaling=params.scaling,
    )
