"""The few lines Snakemake prints when the DAG finishes (`onsuccess`): what was made, how many
runs were done, failed or collapsed, and where to look. Torch- and pandas-free."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from benchmark.health import COLLAPSE_RULE, record_health


def count_runs(record_paths: Iterable[str | Path]) -> Counter[str]:
    """Runs by outcome: done, collapsed (done but using too few clusters), diverged, error,
    unreadable; and `missing` for records not (yet) written."""
    counts: Counter[str] = Counter()
    for path in record_paths:
        try:
            record = json.loads(Path(path).read_text())
        except FileNotFoundError:
            counts["missing"] += 1
            continue
        except (OSError, ValueError):
            counts["unreadable"] += 1
            continue
        status = record.get("status", "unreadable")
        counts[status] += 1
        if status == "done" and record_health(record).get("collapsed"):
            counts["collapsed"] += 1
    return counts


def dag_summary(
    record_paths: Iterable[str | Path], tables: Iterable[str | Path], config_files: Iterable[str]
) -> str:
    """One short paragraph: the runs, the tables that exist, and the report command."""
    paths = list(dict.fromkeys(str(p) for p in record_paths))  # a grid point can be a table run
    counts = count_runs(paths)
    made = sorted(str(t) for t in tables if Path(t).is_file() and str(t).endswith(".md"))
    failed = counts["diverged"] + counts["error"] + counts["unreadable"]
    lines = [
        f"mmcbench: {len(paths)} runs planned: {counts['done']} done "
        f"({counts['collapsed']} of them collapsed: {COLLAPSE_RULE}), {failed} failed "
        f"({counts['diverged']} diverged, {counts['error']} with an error)"
        + (f", {counts['missing']} not run" if counts["missing"] else "")
        + ".",
    ]
    if made:
        lines.append("Tables: " + ", ".join(made) + " (also .html, .tex, .csv).")
    configs = " ".join(config_files)
    lines.append(
        "Report: snakemake --report results/report.html"
        + (f" --configfile {configs}" if configs else "")
        + "; every run's scores: results/summary.csv, results/runs.csv."
    )
    if failed or counts["collapsed"]:
        lines.append("Failed and collapsed runs are counted in every table cell they belong to.")
    return "\n".join(lines)
