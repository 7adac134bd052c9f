"""Fixed-seed CPU runs under the spec's first reading, compared with the code before the revision.

`reference_histories()` trains GIB (with granular balls) and CLIB (warm-up, head
initialisation, calibration terms) for a few epochs on a small synthetic dataset. The CSVs in
tests/data/first_reading/ were written by this module with the code of commit e583575 (before
the revised keys existed):

    git worktree add /tmp/old e583575 && cd /tmp/old && cp <this file> tests/ && \
    python -m tests.first_reading_reference tests/data/first_reading

With the revised code, `config/resolutions/first-reading.yaml` is applied on top of the same
settings; keys a config class does not have (the old code) are left out, so the same function
runs on both sides.
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import yaml

REPO = Path(__file__).resolve().parent.parent
FIRST_READING = REPO / "config" / "resolutions" / "first-reading.yaml"
DATA_DIR = Path(__file__).resolve().parent / "data" / "first_reading"
RUNS = {  # name → (method, variant, hyper-parameters besides the first reading)
    "GIB": ("GIB", "GIB", {"epochs": 3, "batch_size": 64}),
    "GIB_DDC": ("GIB", "DDC", {"epochs": 3, "batch_size": 64}),
    "CLIB": (
        "CLIB",
        "CLIB",
        {"epochs": 3, "batch_size": 64, "warmup_epochs": 1, "head_init_steps": 20},
    ),
}


def _old_code() -> bool:
    """Whether the package on the path is the old code (commit e583575, package `benchmark`)."""
    try:
        import benchmark  # noqa: F401
    except ImportError:
        return False
    return True


def toy_data():
    """Three views of four Gaussian blobs (240 samples), as the HDF5 loader returns them."""
    if _old_code():
        from benchmark.data.load import MultiViewData
    else:
        from mmcbench.data.load import MultiViewData

    rng = np.random.default_rng(7)
    labels = np.repeat(np.arange(4), 60)
    views = []
    for dim in (12, 20, 8):
        centres = rng.normal(0, 3, size=(4, dim))
        views.append((centres[labels] + rng.normal(0, 1, size=(240, dim))).astype(np.float32))
    fields = {f.name for f in dataclasses.fields(MultiViewData)}
    values = {
        "name": "toy",
        "views": views,
        "labels": labels,
        "view_names": ["a", "b", "c"],
        "n_clusters": 4,
        "source_sha256": {"toy.mat": "0" * 64},
    }
    return MultiViewData(**{k: v for k, v in values.items() if k in fields})


def first_reading(method: str) -> dict:
    """The first-reading keys of a method's config section (none before the revision)."""
    if not FIRST_READING.is_file():
        return {}
    return yaml.safe_load(FIRST_READING.read_text()).get(method.lower(), {})


def reference_histories() -> dict[str, tuple[pd.DataFrame, dict]]:
    """name → (history, final metrics) of every reference run, 1 CPU thread."""
    if _old_code():
        from benchmark.models.clib import CLIBConfig
        from benchmark.models.gib import GIBConfig
        from benchmark.train import train
    else:
        from mmcbench.methods.clib.config import CLIBConfig
        from mmcbench.methods.gib.config import GIBConfig
        from mmcbench.training.train import train

    classes = {"GIB": GIBConfig, "CLIB": CLIBConfig}
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        out = {}
        for name, (method, variant, hparams) in RUNS.items():
            config_class = classes[method]
            known = {f.name for f in dataclasses.fields(config_class)}
            values = {**first_reading(method), **hparams}
            config = config_class.from_dict({k: v for k, v in values.items() if k in known})
            run = train(method, toy_data(), variant, 0, config, torch.device("cpu"), (0, 3))
            out[name] = (run.history, run.record["metrics"])
        return out
    finally:
        torch.set_num_threads(threads)


def main(folder: str) -> None:
    target = Path(folder)
    target.mkdir(parents=True, exist_ok=True)
    for name, (history, metrics) in reference_histories().items():
        history.drop(columns=["epoch_s", "ball_s"], errors="ignore").to_csv(
            target / f"{name}.history.csv", index=False, float_format="%.10g"
        )
        pd.Series(metrics).to_csv(target / f"{name}.metrics.csv", header=["value"])


if __name__ == "__main__":
    main(sys.argv[1])
