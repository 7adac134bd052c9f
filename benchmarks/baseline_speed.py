"""Wall time and peak memory of each baseline (one seed), printed as a table.

    python benchmarks/baseline_speed.py resources/hdf5/Scene-15.h5 [more.h5 ...]
    python benchmarks/baseline_speed.py --synthetic      # 12,154 × 4 views, MIRFlickr-shaped

The synthetic set has MIRFlickr's shape (n = 12,154; dims 4096, 1000, 768, 100; 6 clusters)
and shows that Ncuts scales to 12k samples (sparse kNN graph, no dense n × n affinity).
Single-view methods are timed on every view; each method runs in a fresh process so that the
peak resident memory is its own.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import resource
import time
from pathlib import Path

import numpy as np

SYNTHETIC_DIMS = (4096, 1000, 768, 100)
SYNTHETIC_N, SYNTHETIC_K = 12154, 6


def synthetic_views(seed: int = 0) -> tuple[list[np.ndarray], np.ndarray]:
    """Gaussian clusters embedded in MIRFlickr-shaped views, min-max scaled."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, SYNTHETIC_K, SYNTHETIC_N)
    views = []
    for dim in SYNTHETIC_DIMS:
        centres = rng.normal(scale=2.0, size=(SYNTHETIC_K, dim))
        x = centres[labels] + rng.normal(size=(SYNTHETIC_N, dim))
        x = (x - x.min(0)) / (x.max(0) - x.min(0))
        views.append(x.astype(np.float32))
    return views, labels


def _load(source: str) -> tuple[str, list[np.ndarray], np.ndarray, int]:
    if source == "synthetic":
        views, labels = synthetic_views()
        return "synthetic-12k", views, labels, SYNTHETIC_K
    from mmcbench.data.load import load_hdf5, scale_view

    data = load_hdf5(source)
    return data.name, [scale_view(v, "minmax") for v in data.views], data.labels, data.n_clusters


def _time_one(source: str, method: str, view: int | None, queue: mp.Queue) -> None:
    from baselines.methods import run_baseline
    from mmcbench.runs.metrics import accuracy

    name, views, labels, k = _load(source)
    start = time.perf_counter()
    result = run_baseline(method, views, k, seed=0, view=view)
    wall = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    queue.put(
        {
            "dataset": name,
            "method": method,
            "view": "all" if view is None else view,
            "n": int(labels.size),
            "d": int(sum(v.shape[1] for v in views) if view is None else views[view].shape[1]),
            "seconds": wall,
            "peak_rss_mb": peak_mb,
            "ACC": accuracy(labels, result.labels),
        }
    )


def time_source(source: str, n_views: int) -> list[dict]:
    rows = []
    context = mp.get_context("spawn")
    jobs = [(m, v) for m in ("KM", "Ncuts") for v in range(n_views)]
    jobs += [("AmKM", None), ("AmNcuts", None)]
    for method, view in jobs:
        queue = context.Queue()
        process = context.Process(target=_time_one, args=(source, method, view, queue))
        process.start()
        row = queue.get()
        process.join()
        rows.append(row)
        print(
            f"{row['dataset']:<14} {row['method']:<8} {row['view']!s:<4} n={row['n']:<6} "
            f"d={row['d']:<5} {row['seconds']:8.2f} s  peak {row['peak_rss_mb']:7.0f} MB  "
            f"ACC {row['ACC']:.1f}",
            flush=True,
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("datasets", nargs="*", help="converted datasets (.h5)")
    parser.add_argument("--synthetic", action="store_true", help="add the 12k MIRFlickr-shaped set")
    parser.add_argument("--json", type=Path, help="also write the rows as JSON")
    args = parser.parse_args()
    sources = [(p, None) for p in args.datasets]
    if args.synthetic:
        sources.append(("synthetic", len(SYNTHETIC_DIMS)))
    rows = []
    for source, n_views in sources:
        if n_views is None:
            from mmcbench.data.load import load_hdf5

            n_views = len(load_hdf5(source).views)
        rows += time_source(source, n_views)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    from mmcbench.core.errors import run_script

    run_script("baseline_speed", main)
