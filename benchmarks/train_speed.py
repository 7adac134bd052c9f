"""Seconds per deep-method epoch (and GIB's share spent on granular balls), printed as a table.

    python benchmarks/train_speed.py resources/hdf5/mfeat.h5 resources/hdf5/Scene-15.h5 \
        resources/hdf5/BDGP.h5 --synthetic [--epochs 2] [--variants GIB DDC CLIB]

Runs the real training loop (`benchmark.train.train`, evaluation pass included) for a few
epochs (CLIB variants warm up for 1 epoch, so that both phases are timed; MFLVC runs each of
its three stages for that many epochs, and its seconds per epoch are the stages' means
weighted by its default schedule, 200/50/50) on CPU, and on CUDA when present. A variant
names its method (any deep method of the catalogue). `--synthetic` adds a MIRFlickr-shaped
set: 12,154 samples, 4 views of 4096, 1000, 768 and 100 dimensions, 6 clusters.

`--save` stores the rows of real datasets in benchmark/estimates/seconds_per_epoch.csv
(replacing earlier rows of the same method, variant, dataset and device), which is what
`mmcbench estimate` and the train rule's SLURM runtime read:

    python benchmarks/train_speed.py resources/hdf5/*.h5 --threads 1 --epochs 3 \
        --variants GIB DDC DDC+Balls DDC+Samples CLIB IB+cluH --save
"""

from __future__ import annotations

import argparse
import json
from datetime import date
from pathlib import Path

import numpy as np
import torch

from benchmark import catalogue
from benchmark.atomic import store_rows
from benchmark.data.load import MultiViewData, load_hdf5
from benchmark.runtime import TIMINGS_CSV
from benchmark.train import describe_device, train

SYNTHETIC_DIMS = (4096, 1000, 768, 100)
SAVED_FIELDS = [
    "method",
    "variant",
    "dataset",
    "n_samples",
    "device",
    "device_name",
    "threads",
    "epochs",
    "seconds_per_epoch",
    "date",
]


def synthetic(seed: int = 0) -> MultiViewData:
    rng = np.random.default_rng(seed)
    n, k = 12154, 6
    labels = rng.integers(0, k, n)
    views = []
    for dim in SYNTHETIC_DIMS:
        centres = rng.normal(size=(k, dim))
        views.append((centres[labels] + rng.normal(size=(n, dim))).astype(np.float32))
    return MultiViewData(
        name="synthetic-12k",
        views=views,
        view_names=[f"v{i}" for i in range(4)],
        labels=labels.astype(np.int64),
        n_clusters=k,
        source_sha256={},
    )


def timing_key(row: dict) -> tuple:
    """A stored timing's identity: a new measurement of the same key replaces it."""
    return (row["method"], row["variant"], row["dataset"], row["device"])


def save(rows: list[dict], path: Path = TIMINGS_CSV) -> None:
    """Merge the rows into the stored timings (same key: replaced), written atomically."""
    new = list({timing_key(r): r for r in rows}.values())
    store_rows(path, new, SAVED_FIELDS, key=timing_key)
    print(f"stored {len(new)} rows in {path}")


def method_of(variant: str) -> str:
    """The deep method a variant belongs to (the first in catalogue order)."""
    for method in catalogue.deep_methods():
        if variant in catalogue.variants(method):
            return method
    raise SystemExit(f"unknown variant {variant!r}")


def short_config(method: str, epochs: int):
    """The method's default settings on a short schedule that times every phase."""
    cls = catalogue.config_class(method)
    if method == "CLIB":
        return cls(epochs=epochs, warmup_epochs=1)
    if method == "MFLVC":
        return cls(mse_epochs=epochs, con_epochs=epochs, tune_epochs=epochs)
    return cls(epochs=epochs)


def per_epoch(method: str, history, record: dict) -> float:
    """Seconds per epoch of the run; MFLVC's per stage, weighted by its default schedule."""
    if method != "MFLVC" or "stage" not in history:
        return record["time"]["per_epoch_s"]
    default = catalogue.config_class(method)()
    weights = {1: default.mse_epochs, 2: default.con_epochs, 3: default.tune_epochs}
    means = history[history["epoch"] > 0].groupby("stage")["epoch_s"].mean()
    return sum(weights[int(s)] * t for s, t in means.items()) / sum(weights.values())


def _percent(share: float | None) -> str:
    return "–" if share is None else f"{100 * share:.1f}%"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("datasets", nargs="*", help="converted datasets (.h5)")
    parser.add_argument("--synthetic", action="store_true")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--variants", nargs="+", default=["GIB", "DDC", "CLIB"])
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--devices", nargs="+", default=None, help="default: cpu (+ cuda)")
    parser.add_argument("--json", type=Path, help="also write the rows as JSON")
    parser.add_argument(
        "--save", action="store_true", help=f"store real datasets' rows in {TIMINGS_CSV}"
    )
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    devices = args.devices or (["cpu", "cuda"] if torch.cuda.is_available() else ["cpu"])
    sets = [load_hdf5(p) for p in args.datasets] + ([synthetic()] if args.synthetic else [])
    rows = []
    print(
        f"{'dataset':<14} {'n':>6} {'views':>5} {'variant':<12} {'device':<28} "
        f"{'s/epoch':>8} {'balls %':>8}",
        flush=True,
    )
    for device_name in devices:
        device = torch.device(device_name)
        for data in sets:
            for variant in args.variants:
                method = method_of(variant)
                config = short_config(method, args.epochs)
                out = train(
                    method, data, variant, seed=0, config=config, device=device, embeddings_at=()
                )
                t = out.record["time"]
                row = {
                    "method": method,
                    "dataset": data.name,
                    "n": data.n_samples,
                    "n_samples": data.n_samples,
                    "views": len(data.views),
                    "variant": variant,
                    "device": device.type,
                    "device_name": describe_device(device),
                    "threads": torch.get_num_threads() if device.type == "cpu" else "",
                    "date": date.today().isoformat(),
                    "seconds_per_epoch": per_epoch(method, out.history, out.record),
                    "ball_share": t.get("ball_share"),
                    "epochs": args.epochs,
                }
                rows.append(row)
                print(
                    f"{row['dataset']:<14} {row['n']:>6} {row['views']:>5} {variant:<12} "
                    f"{row['device_name']:<28} {row['seconds_per_epoch']:8.2f} "
                    f"{_percent(row['ball_share']):>8}",
                    flush=True,
                )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))
    if args.save:
        save([r for r in rows if r["dataset"] != "synthetic-12k"])


if __name__ == "__main__":
    main()
