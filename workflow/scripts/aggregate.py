"""Snakemake script for rules `aggregate` (runs.csv, summary.csv) and `grid_summary` (grid.csv).

A script rather than a shell command so that thousands of record paths need no command line.
"""

import logging
import sys
from pathlib import Path

smk = globals()["snakemake"]  # injected by Snakemake
sys.path.insert(0, str(Path(smk.scriptdir).resolve().parents[1]))  # the checkout's package

from benchmark.aggregate import aggregate, aggregate_grid  # noqa: E402

logging.basicConfig(
    filename=smk.log[0],
    level=logging.INFO,
    format="%(asctime)s %(levelname)s %(name)s: %(message)s",
)
roots = {"runs_root": Path("results/runs"), "bench_root": Path("logs/benchmarks")}
if smk.rule == "grid_summary":
    aggregate_grid(smk.input.records, Path(smk.output.grid), **roots)
else:
    aggregate(smk.input.records, Path(smk.output.runs), Path(smk.output.summary), **roots)
