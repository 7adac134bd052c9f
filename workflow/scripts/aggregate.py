"""Snakemake script for rules `aggregate` (runs.csv, summary.csv, comparison.csv), `grid_summary`
(grid.csv)
and `resolution_summary` (resolutions.csv, with the study's plan from the rule's params).

A script rather than a shell command so that thousands of record paths need no command line.
"""

import logging
import sys
from pathlib import Path

smk = globals()["snakemake"]  # injected by Snakemake
sys.path.insert(0, str(Path(smk.scriptdir).resolve().parents[1]))  # the checkout's package

from mmcbench.core.errors import MmcbenchError  # noqa: E402
from mmcbench.summaries.aggregate import aggregate, aggregate_grid  # noqa: E402
from mmcbench.summaries.resolutions import write_study_csv  # noqa: E402

logging.basicConfig(
    filename=smk.log[0],
    level=logging.INFO,
    format="%(asctime)s %(levelname)s %(name)s: %(message)s",
)
roots = {"runs_root": Path("results/runs"), "bench_root": Path("logs/benchmarks")}
try:
    if smk.rule == "grid_summary":
        aggregate_grid(smk.input.records, Path(smk.output.grid), **roots)
    elif smk.rule == "resolution_summary":
        write_study_csv(
            smk.input.records,
            Path(smk.output.study),
            smk.params.plan,
            smk.params.datasets,
            roots["runs_root"],
        )
    else:
        aggregate(
            smk.input.records,
            Path(smk.output.runs),
            Path(smk.output.summary),
            comparison_csv=Path(smk.output.comparison),
            **roots,
        )
except MmcbenchError as exc:  # a bad record: one paragraph (and the previous files kept)
    logging.error("%s", exc)
    print(f"mmcbench {smk.rule}: error: {exc}", file=sys.stderr)
    sys.exit(2)
