"""Start-up cost: nothing heavy is imported before it is needed.

Each command runs in a fresh interpreter (a module imported by an earlier test would hide an
import); the probe records which heavy libraries the command imported. The commands that
only read or write tables and files never import torch, scikit-learn or SciPy; `train` starts
its first epoch with neither scikit-learn nor pandas imported (k-means imports scikit-learn
where it runs, pandas comes when the history is written).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import REPO, write_dataset

LIGHT = ("torch", "sklearn", "scipy")  # none of them in a command that trains nothing

# Runs `main(argv)` of the CLI, then writes the exit status and the heavy modules imported.
# `{setup}` runs first (a stand-in, or a hook that records the modules at a chosen moment).
PROBE = """
import json, sys
argv, result = json.loads(sys.argv[1]), sys.argv[2]
HEAVY = ("torch", "torch._dynamo", "sklearn", "scipy", "pandas")
seen = {{}}
{setup}
from mmcbench.cli import main
try:
    rc = main(argv)
except SystemExit as exit:
    rc = exit.code
seen["end"] = [m for m in HEAVY if m in sys.modules]
with open(result, "w") as f:
    json.dump({{"rc": rc, **seen}}, f)
"""


def probe(tmp_path: Path, argv: list[str], setup: str = "") -> dict:
    """Run `mmcbench <argv>` in a fresh interpreter of this checkout; its exit status and the
    heavy modules imported (at the end, and at the moments `setup` records)."""
    result = tmp_path / "probe.json"
    done = subprocess.run(
        [sys.executable, "-c", PROBE.format(setup=setup), json.dumps(argv), str(result)],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0 and result.is_file(), done.stderr[-3000:]
    return json.loads(result.read_text())


# `estimate` plans its runs with mmcbench.planning.plan (Snakemake only for records already
# there): here a fixed plan stands in for it, as in tests/test_estimate.py.
FIXED_PLAN = """
from mmcbench.planning import estimate
estimate.planned_runs = lambda *args, **kwargs: [
    estimate.PlannedRun("train", "GIB", "mfeat", "GIB", pending=True),
    estimate.PlannedRun("baseline", "KM", "mfeat", "view0", pending=True),
]
"""


@pytest.mark.parametrize(
    "argv",
    [
        ["--help"],
        ["render", "--help"],
        ["datasets", "--offline", "--raw-dir", "{tmp}", "--manual-dir", "{tmp}"],
        ["estimate", "--configfile", "config/config.yaml", "--directory", "{tmp}"],
    ],
    ids=["help", "render-help", "datasets", "estimate"],
)
def test_commands_that_train_nothing_import_no_torch(tmp_path, argv):
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    found = probe(tmp_path, argv, FIXED_PLAN if argv[0] == "estimate" else "")
    assert found["rc"] == 0
    assert not set(found["end"]) & set(LIGHT), f"mmcbench {argv[0]} imported {found['end']}"


def test_aggregate_and_render_import_no_torch_sklearn_or_scipy(tmp_path):
    from mmcbench.runs import records
    from tests.test_aggregate_tables import make_record

    paths = []
    for seed, acc in enumerate((80.0, 90.0)):
        path = tmp_path / "runs" / f"seed{seed}.json"
        records.write(path, make_record("AmKM", "all", "mfeat", seed, acc, 70.0, loss=9.0))
        paths.append(str(path))
    summary = tmp_path / "summary.csv"
    found = probe(
        tmp_path,
        ["aggregate", *paths, "--runs-csv", str(tmp_path / "runs.csv"), "--summary-csv",
         str(summary), "--benchmarks-dir", str(tmp_path)],
    )  # fmt: skip
    assert found["rc"] == 0 and not set(found["end"]) & set(LIGHT), found
    for table in ("table1", "clib_results"):
        out = tmp_path / table
        found = probe(
            tmp_path, ["render", table, "--summary", str(summary), "--out-prefix", str(out)]
        )
        assert found["rc"] == 0 and out.with_suffix(".md").is_file()
        assert not set(found["end"]) & set(LIGHT), f"render {table} imported {found['end']}"


def test_the_snakefiles_imports_are_torch_free(tmp_path):
    """What the Snakefile and its rules import (in the snakemake process `estimate` starts)."""
    modules = [
        "mmcbench.planning.config",
        "mmcbench.summaries.outcome",
        "mmcbench.report.tables",
        "mmcbench.summaries.aggregate",
        "mmcbench.summaries.resolutions",
        "mmcbench.planning.run_paths",
        "mmcbench.planning.runtime",
        "mmcbench.planning.study",
        "mmcbench.planning.catalogue",
        "mmcbench.data.registry",
    ]
    code = (
        f"import importlib, sys\nfor m in {modules!r}: importlib.import_module(m)\n"
        f"print(sorted(m for m in {LIGHT!r} if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip() == "[]"


# Every deep method's modules are imported first (none may import scikit-learn or pandas at
# import time), then one GIB run records the modules imported when its first epoch begins.
AT_FIRST_EPOCH = """
from mmcbench.planning import catalogue
from mmcbench.training import loop
for method in catalogue.deep_methods():
    catalogue.trainer_class(method)
logged = loop._log_epoch
def _log_epoch(name, epoch, *args):
    if epoch == 0:
        seen["first_epoch"] = [m for m in HEAVY if m in sys.modules]
    return logged(name, epoch, *args)
loop._log_epoch = _log_epoch
"""


def test_train_starts_its_first_epoch_without_sklearn_or_pandas(tmp_path):
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(3), 20)
    views = [rng.normal(size=(60, 4)) + labels[:, None], rng.normal(size=(60, 3))]
    data = write_dataset(tmp_path / "tiny.h5", "tiny", views, labels)
    argv = ["train", "--method", "GIB", "--variant", "GIB", "--data", str(data), "--seed", "0"]
    argv += ["--epochs", "1", "--threads", "1", "--out", str(tmp_path / "run.json")]
    found = probe(tmp_path, argv, AT_FIRST_EPOCH)
    assert found["rc"] == 0
    # torch and the optimiser's torch._dynamo (torch.optim imports it, no option avoids it)
    assert found["first_epoch"] == ["torch", "torch._dynamo", "scipy"], found
    assert "pandas" in found["end"]  # the history is a table once the run is over
