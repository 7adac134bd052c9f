"""`mmcbench aggregate`, `render`, `claims`, `published-audit`, `paper-checks` and
`reliability`: run records into results, and results into what a reader sees."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from mmcbench.core import atomic
from mmcbench.core.errors import MmcbenchError

log = logging.getLogger("mmcbench")


def cmd_aggregate(args: argparse.Namespace) -> int:
    from mmcbench.planning.run_paths import find_records
    from mmcbench.summaries.aggregate import aggregate

    paths = list(args.records)
    if args.records_from:
        paths += [p for p in Path(args.records_from).read_text().split() if p]
    if args.runs_dir:
        if not Path(args.runs_dir).is_dir():
            raise MmcbenchError(f"aggregate: --runs-dir {args.runs_dir}: no such folder")
        found, strays = find_records(args.runs_dir)
        if strays:
            log.warning(
                "not counted: %d .json file(s) under %s that are not named as run records "
                "(<method>/<dataset>/<variant>/[a<α>_b<β>/[<key>=<value>/]]seed<N>.json): %s",
                len(strays),
                args.runs_dir,
                ", ".join(str(p) for p in strays[:10]) + (" …" if len(strays) > 10 else ""),
            )
        paths += [str(p) for p in found]
    if not paths:
        where = f"under {args.runs_dir}" if args.runs_dir else "given (use --runs-dir or paths)"
        raise MmcbenchError(f"aggregate: no run records {where}")
    runs_root = Path(args.runs_dir or "results/runs")
    if args.resolutions_csv:
        from mmcbench.summaries.resolutions import write_study_csv

        write_study_csv(paths, Path(args.resolutions_csv), runs_root=runs_root)
        return 0
    # --grid-csv: a grid's summary only (aggregate_grid), no runs.csv.
    aggregate(
        paths,
        None if args.grid_csv else Path(args.runs_csv),
        Path(args.grid_csv or args.summary_csv),
        runs_root=runs_root,
        bench_root=Path(args.benchmarks_dir),
        comparison_csv=None
        if args.grid_csv or not args.comparison_csv
        else Path(args.comparison_csv),
    )
    return 0


def cmd_render(args: argparse.Namespace) -> int:
    from mmcbench.core.settings import IBSettings
    from mmcbench.report.tables import (
        TABLES,
        load_published,
        read_summary,
        render,
        settings_from_options,
        table_methods,
    )

    if args.table == "resolutions":
        given = [
            option
            for option, value, default in (
                ("--alpha", args.alpha, IBSettings.alpha),
                ("--beta", args.beta, IBSettings.beta),
                ("--setting", args.setting, None),
                ("--published", args.published, None),
                ("--level", args.level, 0.05),
            )
            if value != default
        ]
        if given:
            raise MmcbenchError(
                f"render resolutions: {', '.join(given)} "
                f"{'does' if len(given) == 1 else 'do'} not apply to the resolution study's "
                "table (it shows every study point against the default setting)"
            )
        from mmcbench.summaries.resolutions import read_study, render_study

        render_study(read_study(args.summary), Path(args.out_prefix))
        log.info("wrote %s.{md,html,tex,csv}", args.out_prefix)
        return 0
    if args.comparison:
        return _render_comparison(args)
    settings = settings_from_options(args.alpha, args.beta, args.setting)
    spec = TABLES[args.table]
    for method in sorted(set(settings) - set(table_methods(spec))):
        log.warning(
            "render %s: --setting %s does not apply: this table has no %s rows",
            args.table,
            method,
            method,
        )
    summary = read_summary(args.summary)
    published = load_published(args.published)
    render(
        summary,
        published,
        spec,
        Path(args.out_prefix),
        args.alpha,
        args.beta,
        settings=settings,
        level=args.level,
    )
    log.info("wrote %s.{md,html,tex,csv}", args.out_prefix)
    return 0


def _render_comparison(args: argparse.Namespace) -> int:
    """`render <table> --comparison`: the table from comparison.csv, at its rows' (α, β)."""
    from mmcbench.core.settings import IBSettings
    from mmcbench.report.comparison import read_comparison, render_from_comparison
    from mmcbench.report.tables import TABLES, load_published

    given = [
        option
        for option, value, default in (
            ("--alpha", args.alpha, IBSettings.alpha),
            ("--beta", args.beta, IBSettings.beta),
            ("--setting", args.setting, None),
        )
        if value != default
    ]
    if given:
        raise MmcbenchError(
            f"render {args.table}: {', '.join(given)} do(es) not apply with --comparison: its "
            "rows show the (α, β) of the runs aggregated; render from --summary to choose one"
        )
    table = read_comparison(args.comparison)
    published = load_published(args.published)
    spec = TABLES[args.table]
    render_from_comparison(table, published, spec, Path(args.out_prefix), args.level)
    log.info("wrote %s.{md,html,tex,csv}", args.out_prefix)
    return 0


def claims_level(text: str) -> float:
    """argparse type of --level: a number in (0, 0.5)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 < value < 0.5:
        raise argparse.ArgumentTypeError(f"{text} is not in (0, 0.5)")
    return value


def add_level(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--level",
        type=claims_level,
        default=0.05,
        help="level of the claims' one-sided Welch t-test (config claims.level), in (0, 0.5)",
    )


def cmd_claims(args: argparse.Namespace) -> int:
    from mmcbench.core.csv_input import TABLE, distinct_paths, read_csv
    from mmcbench.report.claims import VERDICTS, claims, verdict_counts, write_claims
    from mmcbench.report.tables import load_published

    out = Path(args.out)
    if out.suffix != ".csv":
        raise MmcbenchError(f"claims: --out {out} must be a .csv file")
    if bool(args.tables) == bool(args.comparison):
        raise MmcbenchError("claims: give either --comparison or --tables (not both)")
    needed = ("paper", "paper_table", "dataset", "label", "method", "metric", "published")
    what = "rendered table CSV (mmcbench render)"
    if args.comparison:
        from mmcbench.report.comparison import read_comparison, table_parts

        tables = table_parts(read_comparison(args.comparison))
    else:
        tables = [
            read_csv(path, what, (*needed, "mean", "std", "n"), columns=TABLE)
            for path in distinct_paths(args.tables, "claims", "--tables")
        ]
    published = load_published(args.published)
    table = claims(tables, published, level=args.level)
    write_claims(table, out)
    for _, row in verdict_counts(table).iterrows():
        log.info(
            "%s: %s claimed cells, reading %s, %s protocol: %s (level %g)",
            out,
            row["paper"],
            row["reading"] or "configured",
            row["protocol"],
            ", ".join(f"{v} {int(row[v])}" for v in VERDICTS),
            args.level,
        )
    extra = int((table["claimed"] != True).sum())  # noqa: E712
    log.info("wrote %s: %d rows (%d of them not claimed by a paper)", out, len(table), extra)
    return 0


def cmd_published_audit(args: argparse.Namespace) -> int:
    from mmcbench.report.claims import load_printed
    from mmcbench.report.published_audit import audit, write_audit
    from mmcbench.report.tables import load_published

    out = Path(args.out)
    if out.suffix != ".csv":
        raise MmcbenchError(f"published-audit: --out {out} must be a .csv file")
    published = load_published(args.published)
    findings = audit(published, load_printed(args.printed))
    write_audit(findings, published, out)
    for check, rows in findings.groupby("check", sort=False):
        log.info("%s: %d finding(s), e.g. %s", check, len(rows), rows["note"].iloc[0])
    log.info("wrote %s (and .md, .html): %d findings", out, len(findings))
    return 0


def cmd_paper_checks(args: argparse.Namespace) -> int:
    import pandas as pd

    from mmcbench.core.csv_input import SUMMARY, read_csv
    from mmcbench.report.paper_checks import paper_checks, write_paper_checks
    from mmcbench.summaries.protocol_rows import read_history

    out = Path(args.out)
    if out.suffix != ".csv":
        raise MmcbenchError(f"paper-checks: --out {out} must be a .csv file")
    if not args.max_spread > 0:
        raise MmcbenchError(f"paper-checks: --max-spread {args.max_spread:g} must be > 0")
    atomic.check_writable(out)
    needed = ("method", "variant", "dataset", "status", "record")
    runs = read_csv(args.runs, "runs table (runs.csv of mmcbench aggregate)", needed)
    grid = pd.DataFrame(columns=["method", "dataset", "metric", "p_alpha", "p_beta", "mean"])
    if args.grid:
        what = "grid summary (grid.csv of mmcbench aggregate --grid-csv)"
        grid = read_csv(
            args.grid,
            what,
            ("method", "dataset", "metric", "p_alpha", "p_beta", "mean", "n_runs"),
            columns=SUMMARY,
        )
    table = paper_checks(grid, runs, read_history, args.max_spread)
    write_paper_checks(table, out)
    return 0


def cmd_reliability(args: argparse.Namespace) -> int:
    from mmcbench.report.figures.reliability import check_figure_path, reliability_figure

    check_figure_path(args.out)
    runs: dict[str, list[str]] = {}
    for method, *paths in args.runs:
        if not paths:
            raise MmcbenchError(f"reliability: --runs {method} names no embeddings file")
        runs.setdefault(method, []).extend(paths)
    reliability_figure(args.dataset, runs, Path(args.out))
    log.info("wrote %s", args.out)
    return 0


def add_parsers(sub: argparse._SubParsersAction) -> None:
    """The results commands' parsers."""
    from mmcbench.cli.format import add_command
    from mmcbench.core.settings import IBSettings

    p = add_command(
        sub,
        "aggregate",
        "run records → runs.csv and summary.csv",
        "runs.csv has one row per run and metric; summary.csv one row per method, variant, "
        "dataset, metric and setting: mean ± std over seeds, the label- and loss-selected "
        "seeds, and how many runs diverged, failed or collapsed.",
    )
    p.add_argument("records", nargs="*", help="record files")
    p.add_argument("--records-from", help="file listing record paths")
    p.add_argument("--runs-dir", help="aggregate every record under this folder")
    p.add_argument("--benchmarks-dir", default="logs/benchmarks", help="Snakemake benchmark TSVs")
    p.add_argument("--runs-csv", default="results/runs.csv", help="one row per run and metric")
    p.add_argument("--summary-csv", default="results/summary.csv", help="one row per cell")
    p.add_argument(
        "--grid-csv",
        default=None,
        help="instead: summarise the given records (an α/β grid) into this grid.csv only",
    )
    p.add_argument(
        "--resolutions-csv",
        default=None,
        help="instead: the given records are a resolution study; write its resolutions.csv",
    )
    p.add_argument(
        "--comparison-csv",
        default=None,
        help="also write this comparison.csv: every paper table's cells, published vs "
        "reproduced, at the (α, β) of the runs (what render --comparison and claims read)",
    )
    p.set_defaults(func=cmd_aggregate)

    p = add_command(
        sub,
        "render",
        "render a table from summary.csv (the study's from resolutions.csv)",
        "Writes <prefix>.md, .tex and .csv: the published value, the reproduced mean ± std (n), "
        "Δ and the ✓ verdict (|Δ| ≤ 2 points) per cell; collapsed runs are counted in the cell.",
    )
    p.add_argument(
        "table",
        choices=["table1", "table2", "clib_results", "clib_ablation", "resolutions"],
        help="which table",
    )
    p.add_argument(
        "--alpha",
        type=float,
        default=IBSettings.alpha,
        help="deep methods' α shown in the table, in [0, 1]",
    )
    p.add_argument(
        "--beta",
        type=float,
        default=IBSettings.beta,
        help="deep methods' β shown in the table, in [0, 1]",
    )
    p.add_argument(
        "--setting",
        nargs=3,
        action="append",
        metavar=("METHOD", "ALPHA", "BETA"),
        help="(α, β) shown for one deep method (GIB, CLIB), overriding --alpha/--beta",
    )
    p.add_argument(
        "--summary",
        default="results/summary.csv",
        help="the CSV the table is drawn from: summary.csv, or resolutions.csv for the "
        "resolution study",
    )
    p.add_argument(
        "--comparison",
        default=None,
        help="instead of --summary: draw the table from comparison.csv (mmcbench aggregate "
        "--comparison-csv), at the (α, β) of its rows",
    )
    p.add_argument("--published", default=None, help="published numbers (default: bundled)")
    add_level(p)
    p.add_argument("--out-prefix", required=True, help="writes <prefix>.md, .tex and .csv")
    p.set_defaults(func=cmd_render)

    p = add_command(
        sub,
        "claims",
        'the papers\' "Ours vs Best Compared", reproduced, from comparison.csv',
        "Per paper table, dataset and metric: the paper's method (GIB, CLIB) minus the best "
        "of the competing methods the suite runs (baselines included), with a one-sided Welch "
        "t-test (holds, does not hold, undecided), n and failed and collapsed runs on both "
        "sides, and the published margins (like for like, overall, GIB's printed row).",
    )
    p.add_argument("--comparison", default=None, help="comparison.csv of mmcbench aggregate")
    p.add_argument("--tables", nargs="+", help="instead: CSVs of mmcbench render")
    p.add_argument("--published", default=None, help="published numbers (default: bundled)")
    add_level(p)
    p.add_argument("--out", required=True, help="the claims CSV to write")
    p.set_defaults(func=cmd_claims)

    p = add_command(
        sub,
        "published-audit",
        "what the papers' published numbers disagree on",
        "GIB's printed \"Ours vs Best Compared\" cells that are not their table's margin, the "
        "cells GIB's Table 1 and CLIB's results table both print and print differently, and "
        "identical shared rows of datasets the papers state different views of. Writes the CSV "
        "and beside it a Markdown and an HTML section.",
    )
    p.add_argument("--published", default=None, help="published numbers (default: bundled)")
    p.add_argument("--printed", default=None, help="GIB's printed margins (default: bundled)")
    p.add_argument("--out", required=True, help="the audit CSV to write")
    p.set_defaults(func=cmd_published_audit)

    p = add_command(
        sub,
        "paper-checks",
        "GIB's Fig. 4 (α/β insensitivity) and Fig. 5 (convergence) as claims, checked",
        "Per method (GIB; CLIB with GIB's sentences), reading of the compression term and "
        "dataset: the ACC spread over the α/β grid against --max-spread points, and the drops "
        "of ACC and NMI from their best epoch to the last and the loss's change over the last "
        "10 epochs, each with the paper's sentence and a verdict by the stated rule. Writes the "
        "CSV and beside it a Markdown and an HTML page.",
    )
    p.add_argument("--runs", required=True, help="runs.csv of mmcbench aggregate")
    p.add_argument("--grid", default=None, help="grid.csv of mmcbench aggregate --grid-csv")
    p.add_argument(
        "--max-spread",
        type=float,
        default=10.0,
        help="Fig. 4's threshold: the largest ACC spread over the grid, in points, that holds",
    )
    p.add_argument("--out", required=True, help="the checks CSV to write")
    p.set_defaults(func=cmd_paper_checks)

    p = add_command(
        sub,
        "reliability",
        "draw a reliability diagram from saved assignments",
        "Confidence against accuracy per bin, from the final soft assignments each run saves in "
        "its .embeddings.npz (no retraining); one panel per method.",
    )
    p.add_argument("--dataset", required=True, help="dataset name (for the title)")
    p.add_argument(
        "--runs",
        nargs="+",
        action="append",
        required=True,
        metavar="METHOD_OR_FILE",
        help="a panel: its name, then the embeddings files (.npz) of its seeds; repeatable",
    )
    p.add_argument("--out", required=True, help="figure file (.png, .pdf or .svg)")
    p.set_defaults(func=cmd_reliability)
