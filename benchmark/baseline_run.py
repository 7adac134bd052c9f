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

from benchmark import provenance, records
from benchmark.data.load import load_hdf5, scale_view
from benchmark.health import run_health, unknown_health
from benchmark.metrics import clustering_scores

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
    from baselines.methods import SINGLE_VIEW

    match = VARIANT.match(variant)
    if not match:
        raise ValueError(f"variant {variant!r}: expected 'view<i>' or 'all'")
    if method in SINGLE_VIEW:
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

    status, error, metrics, loss, diagnostics = "done", None, None, None, {}
    health = unknown_health(data.n_clusters)
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
        metrics = clustering_scores(data.labels, result.labels)
        health = run_health(result.labels, data.n_clusters, metrics["NMI"])
        if result.objective_name:
            loss = {"name": result.objective_name, "value": result.objective}
        diagnostics = {
            "n_clusters_found": int(np.unique(result.labels).size),
            "warnings": result.warnings,
        }
    except Exception as exc:  # recorded, not hidden: the tables count error runs
        log.exception("%s on %s (%s, seed %d) failed", method, data.name, variant, seed)
        status, error = "error", f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=5)}"

    record_params = {**asdict(params)}
    if view is not None:
        record_params.update(view=view, view_name=data.view_names[view])
    return {
        "schema_version": records.SCHEMA_VERSION,
        "method": method,
        "variant": variant,
        "dataset": data.name,
        "seed": int(seed),
        "status": status,
        "error": error,
        "params": record_params,
        "overrides": {},
        "metrics": {m: (metrics or {}).get(m) for m in records.METRICS},
        "health": health,
        "loss": loss,
        "diagnostics": diagnostics,
        "time": {
            "wall_s": time.perf_counter() - t0,
            "per_epoch_s": None,
            "started": started,
            "finished": records.now(),
        },
        "environment": provenance.environment(device="cpu"),
        "data": {
            "file": str(data_file),
            "n_samples": data.n_samples,
            "n_clusters": data.n_clusters,
            "view_names": data.view_names,
            "source_sha256": data.source_sha256,
            "scaling": params.scaling,
        },
    }
