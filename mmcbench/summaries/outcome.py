"""The few lines Snakemake prints when the DAG finishes (`onsuccess`): what was made, how many
runs were done, failed or collapsed (naming the collapsed runs), and where to look. Torch- and
pandas-free."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from mmcbench.runs.health import COLLAPSE_RULE, record_health

NAMED_COLLAPSED = 10  # the summary names this many collapsed runs, then counts the rest


def count_runs(record_paths: Iterable[str | Path]) -> Counter[str]:
    """Runs by outcome: done, collapsed (done but using too few clusters), diverged, error,
    unreadable; and `missing` for records not (yet) written."""
    return tally_runs(record_paths)[0]


def run_name(path: str | Path, record: dict) -> str:
    """ "GIB DDC on mfeat, α 0.5 β 0.5, seed 0": a run as its record names it (the record's path
    where the record does not say)."""
    parts = [record.get(k) for k in ("method", "variant", "dataset", "seed")]
    if any(p is None for p in parts):
        return str(path)
    method, variant, dataset, seed = parts
    params = record.get("params") if isinstance(record.get("params"), dict) else {}
    setting = [
        f"{s} {params[k]:g}"
        for k, s in (("alpha", "α"), ("beta", "β"))
        if isinstance(params.get(k), (int, float))
    ]
    overrides = record.get("overrides") or {}
    setting += (
        [f"{k}={v}" for k, v in sorted(overrides.items())] if isinstance(overrides, dict) else []
    )
    name = method if variant in (None, method) else f"{method} {variant}"
    return f"{name} on {dataset}{', ' + ' '.join(setting) if setting else ''}, seed {seed}"


def tally_runs(record_paths: Iterable[str | Path]) -> tuple[Counter[str], list[str]]:
    """`count_runs`' counts and the collapsed runs, each named by `run_name` with the reason
    its record gives."""
    counts: Counter[str] = Counter()
    collapsed: list[str] = []
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
        health = record_health(record) if status == "done" else {}
        if health.get("collapsed"):
            counts["collapsed"] += 1
            reason = health.get("collapse_reason")
            collapsed.append(run_name(path, record) + (f" ({reason})" if reason else ""))
    return counts, collapsed


def dag_summary(
    record_paths: Iterable[str | Path], tables: Iterable[str | Path], config_files: Iterable[str]
) -> str:
    """One short paragraph: the runs, the tables that exist, and the report command."""
    paths = list(dict.fromkeys(str(p) for p in record_paths))  # a grid point can be a table run
    counts, collapsed = tally_runs(paths)
    made = sorted(str(t) for t in tables if Path(t).is_file() and str(t).endswith(".md"))
    failed = counts["diverged"] + counts["error"] + counts["unreadable"]
    lines = [
        f"mmcbench: {len(paths)} runs planned: {counts['done']} done "
        f"({counts['collapsed']} of them collapsed: {COLLAPSE_RULE}), {failed} failed "
        f"({counts['diverged']} diverged, {counts['error']} with an error)"
        + (f", {counts['missing']} not run" if counts["missing"] else "")
        + ".",
    ]
    if collapsed:
        more = len(collapsed) - NAMED_COLLAPSED
        lines.append(
            "Collapsed: "
            + "; ".join(collapsed[:NAMED_COLLAPSED])
            + (f"; and {more} more (results/runs.csv, column collapsed)" if more > 0 else "")
            + "."
        )
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
