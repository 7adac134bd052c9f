"""Seconds per epoch of each deep method, its ratio to SiMVC, its balls and evaluation shares and
its start-up time, measured on whole `mmcbench train` processes in one sitting.

    python benchmarks/epoch_speed.py resources/hdf5/mfeat.h5 --threads 1 \
        [--methods SiMVC GIB DDC CLIB] [--epochs 4] [--rounds 3] [--batch-size 256] [--save]

Each method trains at its own default batch size (SiMVC's is the authors' 100, GIB's and CLIB's
256) unless `--batch-size` sets one for all: issue 24's targets compare at 256.
A method is a variant name of the catalogue (`GIB`, its ablation `DDC`, `CLIB`, `SiMVC`, …).
Each round runs every method once, in turn (alternating, so that a slow spell of the machine
falls on all of them), as its own process: `python -m mmcbench train` with seed = round.
Printed per method: the median seconds per trained epoch over all rounds (the epoch as the
history records it: its steps and its evaluation pass), the ratio to SiMVC's median, the
share of the epochs spent on granular balls (history `ball_s`) and in the evaluation pass (the
record's `eval_share`),
and the start-up: seconds from launching the process to the start of its first epoch (the log
line of the untrained evaluation, epoch 0, which the loop writes just before epoch 1). CLIB
warms up for 1 epoch, so that both phases are timed; MFLVC, DealMVC, DIVIDE and COPER run each
of their stages for `--epochs` epochs and their median is the stages' medians weighted by their
default schedule (`STAGED`).

`--tree NAME=DIR` (repeatable) runs every method also from another checkout of the package
(e.g. a `git worktree` of an older commit), alternating with this one, and prints each tree's
rows: a before → after comparison measured in one sitting.

`--save` stores this checkout's rows in mmcbench/estimates/epoch_speed.csv (replacing the rows
of the same method, variant, dataset and device), with the machine's CPU model in each row;
`mmcbench estimate` and the train rule's SLURM runtime read it:

    for d in resources/hdf5/*.h5; do
        python benchmarks/epoch_speed.py $d --threads 1 --rounds 1 --epochs 3 --save \
            --methods GIB DDC DDC+Balls DDC+Samples CLIB IB+cluH SiMVC CoMVC MFLVC \
                DIVIDE DealMVC COPER
    done
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import pandas as pd

from mmcbench.core.atomic import store_rows
from mmcbench.planning import catalogue
from mmcbench.planning.runtime import TIMINGS_CSV

SAVED_FIELDS = [
    "method",
    "variant",
    "dataset",
    "n_samples",
    "device",
    "device_name",
    "cpu_model",
    "threads",
    "epochs",
    "rounds",
    "seconds_per_epoch",
    "ratio_to_simvc",
    "ball_share",
    "eval_share",
    "startup_s",
    "date",
]
HERE = "this checkout"
REPO = Path(__file__).resolve().parent.parent
FIRST_EPOCH_MARK = "epoch 0/"  # the loop's log line of the untrained evaluation


def cpu_model() -> str:
    """The machine's CPU model (from /proc/cpuinfo on Linux, else `platform.processor`)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def method_of(variant: str) -> str:
    """The deep method a variant belongs to (the first in catalogue order)."""
    for method in catalogue.deep_methods():
        if variant in catalogue.variants(method):
            return method
    raise SystemExit(f"epoch_speed: unknown method or variant {variant!r}")


# Methods whose epochs differ by stage: (the hyper-parameters of a short schedule that runs
# every stage for `epochs` epochs, the default schedule's epochs per stage); the median s/epoch
# is the stages' medians (history `stage`) weighted by the default schedule.
STAGED = {
    "MFLVC": (
        lambda e: {"mse_epochs": e, "con_epochs": e, "tune_epochs": e},
        lambda c: {1: c.mse_epochs, 2: c.con_epochs, 3: c.tune_epochs},
    ),
    "DealMVC": (
        lambda e: {"mse_epochs": e, "con_epochs": e, "tune_epochs": e},
        lambda c: {1: c.mse_epochs, 2: c.con_epochs, 3: c.tune_epochs},
    ),
    "DIVIDE": (  # plain InfoNCE, then the random walk's targets
        lambda e: {"epochs": 2 * e, "rectify_start_epoch": e, "warmup_epochs": 1},
        lambda c: {1: c.rectify_start_epoch, 2: c.epochs - c.rectify_start_epoch},
    ),
    "COPER": (  # stage I, II (soft CE), III (permuted CE)
        lambda e: {"epochs": 3 * e, "stage2_epoch": e, "stage3_epoch": 2 * e},
        lambda c: {
            1: c.stage2_epoch,
            2: c.stage3_epoch - c.stage2_epoch,
            3: c.epochs - c.stage3_epoch,
        },
    ),
}


def schedule_args(method: str, epochs: int) -> list[str]:
    """CLI arguments of a short schedule that times every phase of the method."""
    if method == "CLIB":
        return ["--epochs", str(epochs), "--set", "warmup_epochs=1"]
    if method in STAGED:
        return ["--hparams", json.dumps(STAGED[method][0](epochs))]
    return ["--epochs", str(epochs)]


def one_run(
    tree: Path | None, variant: str, data: Path, seed: int, args: argparse.Namespace, out: Path
) -> dict:
    """Train one run in a fresh process; its epoch times, timed parts and start-up."""
    method = method_of(variant)
    command = [sys.executable, "-m", "mmcbench", "train", "--method", method]
    command += ["--variant", variant, "--data", str(data), "--seed", str(seed)]
    command += ["--device", args.device, "--embeddings-at", "--out", str(out)]
    command += schedule_args(method, args.epochs)
    if args.batch_size:
        command += ["--set", f"batch_size={args.batch_size}"]
    if args.threads:
        command += ["--threads", str(args.threads)]
    # The package of `tree` (default: this checkout) first on the path; run outside any
    # checkout, as `python -m` puts the working folder before PYTHONPATH.
    env = dict(os.environ)
    package = str(tree or REPO)
    env["PYTHONPATH"] = os.pathsep.join([package, env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    start = time.perf_counter()
    startup = None
    log = []
    with subprocess.Popen(
        command,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        env=env,
        cwd=out.parent,
    ) as process:
        for line in process.stderr:
            if startup is None and FIRST_EPOCH_MARK in line:
                startup = time.perf_counter() - start
            log.append(line)
    if process.returncode != 0:
        raise SystemExit(f"epoch_speed: {' '.join(command)} failed:\n{''.join(log[-20:])}")
    history = pd.read_csv(out.with_suffix(".history.csv"))
    trained = history[history["epoch"] > 0].copy()
    if "epoch_s" not in trained:  # the run ended in its first epoch: nothing to time
        trained = trained.iloc[0:0]
    record = json.loads(out.read_text())
    eval_share = record["time"].get("eval_share")
    if eval_share is not None and not trained.empty:  # the record keeps the share, not epochs
        trained["eval_s"] = eval_share * trained["epoch_s"]
    status = record["status"]
    return {"method": method, "history": trained, "startup": startup, "status": status}


def per_epoch(method: str, runs: list[dict]) -> float:
    """Median s/epoch over the runs' trained epochs; a staged method's (`STAGED`) per-stage
    medians weighted by its default schedule."""
    epochs = pd.concat([r["history"] for r in runs])
    if method not in STAGED or "stage" not in epochs:
        return float(epochs["epoch_s"].median())
    weights = STAGED[method][1](catalogue.config_class(method)())
    medians = epochs.groupby("stage")["epoch_s"].median()
    return sum(weights[int(s)] * t for s, t in medians.items()) / sum(weights.values())


def share(runs: list[dict], part: str) -> float | None:
    """The share of the runs' epoch time spent in a timed part (None: never timed)."""
    epochs = pd.concat([r["history"] for r in runs])
    column = f"{part}_s"
    if column not in epochs:
        return None
    return float(epochs[column].sum() / epochs["epoch_s"].sum())


def summarise(
    variant: str, runs: list[dict], dataset: str, n_samples: int, args: argparse.Namespace
) -> dict:
    method = runs[0]["method"]
    startups = [r["startup"] for r in runs if r["startup"] is not None]
    return {
        "method": method,
        "variant": variant,
        "dataset": dataset,
        "n_samples": n_samples,
        "device": args.device,
        "device_name": f"{args.device} ({args.threads or 'default'} threads)",
        "cpu_model": cpu_model(),
        "threads": args.threads or "",
        "epochs": args.epochs,
        "rounds": len(runs),
        "seconds_per_epoch": per_epoch(method, runs),
        "ball_share": share(runs, "ball"),
        "eval_share": share(runs, "eval"),
        "startup_s": statistics.median(startups) if startups else None,
        "date": date.today().isoformat(),
    }


def _percent(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.0f}%"


def print_table(rows: list[dict]) -> None:
    print(
        f"{'tree':<14} {'dataset':<12} {'method':<12} {'s/epoch':>8} {'× SiMVC':>8} "
        f"{'balls':>6} {'eval':>6} {'start-up s':>10}"
    )
    for row in rows:
        ratio, startup = row["ratio_to_simvc"], row["startup_s"]
        print(
            f"{row['tree']:<14} {row['dataset']:<12} {row['variant']:<12} "
            f"{row['seconds_per_epoch']:8.3f} {'–' if ratio is None else f'{ratio:.2f}':>8} "
            f"{_percent(row['ball_share']):>6} {_percent(row['eval_share']):>6} "
            f"{'–' if startup is None else f'{startup:.1f}':>10}"
        )


def parse_trees(values: list[str]) -> dict[str, Path | None]:
    trees: dict[str, Path | None] = {HERE: None}
    for value in values:
        name, sep, folder = value.partition("=")
        path = Path(folder)
        if not sep or not name or not (path / "mmcbench" / "__init__.py").is_file():
            raise SystemExit(f"epoch_speed: --tree {value!r}: expected NAME=DIR of a checkout")
        trees[name] = path.resolve()
    return trees


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", nargs="+", type=Path, help="converted datasets (.h5)")
    parser.add_argument("--methods", nargs="+", default=["SiMVC", "GIB", "DDC", "CLIB"])
    parser.add_argument("--epochs", type=int, default=4, help="epochs per run (≥ 2)")
    parser.add_argument("--rounds", type=int, default=3, help="runs per method (seeds 0…)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument(
        "--batch-size",
        type=int,
        default=None,
        help="every method at this batch size (default: each method's own; SiMVC's is 100)",
    )
    parser.add_argument("--tree", action="append", default=[], metavar="NAME=DIR")
    parser.add_argument("--save", action="store_true", help=f"store the rows in {TIMINGS_CSV}")
    args = parser.parse_args()
    if args.epochs < 2 or args.rounds < 1 or (args.threads is not None and args.threads < 1):
        raise SystemExit("epoch_speed: --epochs ≥ 2, --rounds ≥ 1 and --threads ≥ 1")
    if args.batch_size is not None and (args.batch_size < 2 or args.save):
        raise SystemExit(
            "epoch_speed: --batch-size needs ≥ 2, and no --save (the stored timings are of "
            "each method's own batch size, the one its runs train with)"
        )
    args.data = [path.resolve() for path in args.data]
    for path in args.data:
        if not path.is_file():
            raise SystemExit(f"epoch_speed: {path}: no such dataset file")
    trees = parse_trees(args.tree)
    for variant in args.methods:
        method_of(variant)
    print(f"machine: {cpu_model()}, {os.cpu_count()} cores; python {platform.python_version()}")
    print(f"batch size: {args.batch_size or 'each method its own'}")

    from mmcbench.data.load import load_hdf5

    rows = []
    with tempfile.TemporaryDirectory(prefix="epoch_speed_") as scratch:
        for path in args.data:
            data = load_hdf5(path)
            runs: dict[tuple[str, str], list[dict]] = {}
            for seed in range(args.rounds):
                for variant in args.methods:
                    for tree_name, tree in trees.items():
                        out = Path(scratch) / f"{len(runs)}_{seed}_{variant}.json"
                        run = one_run(tree, variant, path, seed, args, out)
                        if run["history"].empty:  # ended before its first epoch finished
                            print(
                                f"  {data.name} round {seed + 1}/{args.rounds} {variant} "
                                f"({tree_name}): trained no epoch ({run['status']}); not timed",
                                flush=True,
                            )
                            continue
                        runs.setdefault((tree_name, variant), []).append(run)
                        print(
                            f"  {data.name} round {seed + 1}/{args.rounds} {variant} "
                            f"({tree_name}): {run['history']['epoch_s'].median():.3f} s/epoch, "
                            f"start-up {run['startup'] or float('nan'):.1f} s",
                            flush=True,
                        )
            for tree_name in trees:
                these = [
                    {
                        "tree": tree_name,
                        **summarise(v, runs[(tree_name, v)], data.name, len(data.labels), args),
                    }
                    for v in args.methods
                    if (tree_name, v) in runs
                ]
                simvc = [r["seconds_per_epoch"] for r in these if r["variant"] == "SiMVC"]
                for row in these:
                    row["ratio_to_simvc"] = row["seconds_per_epoch"] / simvc[0] if simvc else None
                rows.extend(these)
    print_table(rows)
    if args.save:
        mine = [{k: v for k, v in r.items() if k != "tree"} for r in rows if r["tree"] == HERE]
        store_rows(TIMINGS_CSV, mine, SAVED_FIELDS, key=timing_key)
        print(f"stored {len(mine)} rows in {TIMINGS_CSV}")


def timing_key(row: dict) -> tuple:
    """A stored timing's identity: a new measurement of the same key replaces it."""
    return (row["method"], row["variant"], row["dataset"], row["device"])


if __name__ == "__main__":
    from mmcbench.core.errors import run_script

    run_script("epoch_speed", main)
