"""Runs per device-hour of the same training runs launched several ways, printed as a table.

    python benchmarks/pack_speed.py resources/hdf5/mfeat.h5 --method GIB --variant GIB \
        --runs 4 --epochs 10 --slots 2 [--batched 1 4 16 64] [--device cpu|cuda] [--save]

Each way trains the same runs (seeds 0 … runs-1) with `mmcbench train` on one allocation of
`--slots` CPU cores (and the one GPU with --device cuda), as a SLURM job would hold it:

- one process per run: the runs one after another, each a fresh `mmcbench train` process
  using the whole allocation (torch threads = slots). What one SLURM job per run gets from its
  allocation, before counting the scheduler's own wait between jobs (not timed here).
- concurrent: the same processes, `slots` at a time, one thread each: what a pack would gain
  if its runs shared the allocation at once. (A Snakemake job group under
  snakemake-executor-plugin-slurm 2.8 does not do this: its job step runs the group's jobs
  with --jobs 1, one after another, i.e. "one process per run" inside one SLURM job.)
- packs in series: one Python process trains all the runs in turn (torch threads = slots),
  paying the start-up once.
- batched pack K: one `mmcbench train-pack` process trains K runs (seeds 0 … K−1) at once as
  one stacked model (mmcbench/training/pack.py), for each K of `--batched` (K runs, not `--runs`); a
  K that does not fit in memory is reported as such and skipped.

Prints wall time, runs per device-hour (3600 × runs / wall), the ratio to one process per
run, and runs per hour per slot (per CPU core: compare `--slots 1`, what a pack of the SLURM
profiles holds on CPU, with `--slots N`). `--save` appends the rows to
mmcbench/estimates/packing.csv.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path

from mmcbench.core.atomic import store_rows
from mmcbench.planning.runtime import PACKING_CSV

FIELDS = [
    "way",
    "method",
    "variant",
    "dataset",
    "runs",
    "epochs",
    "slots",
    "device",
    "wall_s",
    "runs_per_hour",
    "ratio",
    "date",
]


def train_args(args: argparse.Namespace, seed: int, out_dir: Path, threads: int) -> list[str]:
    """`mmcbench train` arguments of one run (as the train rule calls it)."""
    return [
        "train",
        "--method",
        args.method,
        "--variant",
        args.variant,
        "--data",
        str(args.data),
        "--seed",
        str(seed),
        "--epochs",
        str(args.epochs),
        "--embeddings-at",
        "--device",
        args.device,
        "--threads",
        str(threads),
        "--out",
        str(out_dir / f"seed{seed}.json"),
    ]


def run_process(argv: list[str]) -> None:
    """One `mmcbench train` process; its output is kept only when it fails."""
    done = subprocess.run([sys.executable, "-m", "mmcbench", *argv], capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"mmcbench {' '.join(argv)} failed:\n{done.stderr[-2000:]}")


def one_process_per_run(args: argparse.Namespace, out: Path) -> None:
    for seed in range(args.runs):
        run_process(train_args(args, seed, out, args.slots))


def concurrent(args: argparse.Namespace, out: Path) -> None:
    with ThreadPoolExecutor(max_workers=args.slots) as pool:
        jobs = [
            pool.submit(run_process, train_args(args, seed, out, 1)) for seed in range(args.runs)
        ]
        for job in jobs:
            job.result()


def packs_in_series(args: argparse.Namespace, out: Path) -> None:
    runs = [train_args(args, seed, out, args.slots) for seed in range(args.runs)]
    code = (
        "import sys, json\n"
        "from mmcbench.cli import main\n"
        "for argv in json.loads(sys.argv[1]):\n"
        "    if main(argv) != 0:\n"
        "        sys.exit(1)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, json.dumps(runs)], capture_output=True, text=True
    )
    if done.returncode != 0:
        raise RuntimeError(f"packed process failed:\n{done.stderr[-2000:]}")


def batched(args: argparse.Namespace, out: Path, size: int) -> None:
    """One `mmcbench train-pack` process training `size` runs as one stacked model."""
    argv = train_args(args, 0, out, args.slots)
    at = argv.index("--seed")
    argv[at : at + 2] = ["--seeds", *map(str, range(size))]
    argv[0] = "train-pack"
    argv = [*argv[: argv.index("--out")], "--out"]
    argv += [str(out / f"seed{seed}.json") for seed in range(size)]
    run_process(argv)


WAYS = {
    "one process per run": one_process_per_run,
    "concurrent": concurrent,
    "packs in series": packs_in_series,
}


def measure(args: argparse.Namespace, way: str, launch, runs: int, tmp: str) -> float | None:
    """Wall seconds of one way (None: out of memory), after checking its records."""
    out = Path(tmp) / way.replace(" ", "_").replace("=", "")
    out.mkdir()
    start = time.perf_counter()
    try:
        launch(out)
    except RuntimeError as exc:
        if "out of memory" in str(exc).lower():
            return None
        raise
    wall = time.perf_counter() - start
    written = len(list(out.glob("seed*.json")))
    if written != runs:
        sys.exit(f"pack_speed: {way} wrote {written} of {runs} run records")
    return wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path, help="converted dataset (.h5)")
    parser.add_argument("--method", default="GIB", choices=["GIB", "CLIB"])
    parser.add_argument("--variant", default=None, help="default: the method itself")
    parser.add_argument("--runs", type=int, default=4, help="runs (seeds) per way")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--slots", type=int, default=2, help="CPU cores of the allocation")
    parser.add_argument(
        "--batched",
        type=int,
        nargs="*",
        default=[1, 4, 16, 64],
        help="pack sizes K of the batched way (none: skip it)",
    )
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--save", action="store_true", help=f"append rows to {PACKING_CSV}")
    args = parser.parse_args()
    args.variant = args.variant or args.method
    if any(k < 1 for k in args.batched):
        sys.exit("pack_speed: --batched sizes must be ≥ 1")
    if not args.data.is_file():
        sys.exit(f"pack_speed: {args.data}: no such file (convert the dataset first)")
    os.environ.setdefault("OMP_NUM_THREADS", "1")  # threads are set per process (--threads)

    rows = []
    print(
        f"{args.runs} × {args.method} {args.variant} on {args.data.stem}, {args.epochs} epochs, "
        f"{args.slots} slots, device {args.device}",
        flush=True,
    )
    header = f"{'way':<22} {'wall s':>8} {'runs/hour':>10} {'ratio':>6} {'per slot':>9}"
    print(header, flush=True)
    ways = [(way, lambda out, f=f: f(args, out), args.runs) for way, f in WAYS.items()]
    ways += [
        (f"batched pack K={k}", lambda out, k=k: batched(args, out, k), k) for k in args.batched
    ]
    with tempfile.TemporaryDirectory() as tmp:
        for way, launch, runs in ways:
            wall = measure(args, way, launch, runs, tmp)
            if wall is None:
                print(f"{way:<22} out of memory", flush=True)
                continue
            rate = 3600 * runs / wall
            ratio = rate / rows[0]["runs_per_hour"] if rows else 1.0
            rows.append(
                {
                    "way": way,
                    "method": args.method,
                    "variant": args.variant,
                    "dataset": args.data.stem,
                    "runs": runs,
                    "epochs": args.epochs,
                    "slots": args.slots,
                    "device": args.device,
                    "wall_s": round(wall, 1),
                    "runs_per_hour": round(rate, 1),
                    "ratio": round(ratio, 2),
                    "date": date.today().isoformat(),
                }
            )
            per_slot = rate / args.slots
            print(f"{way:<22} {wall:8.1f} {rate:10.1f} {ratio:6.2f} {per_slot:9.1f}", flush=True)
    if args.save:
        store_rows(PACKING_CSV, rows, FIELDS)
        print(f"appended {len(rows)} rows to {PACKING_CSV}")


if __name__ == "__main__":
    from mmcbench.core.errors import run_script

    run_script("pack_speed", main)
