"""`mmcbench tsne` and `mmcbench plot …`: figures from files written by runs and aggregation.

Every `plot` command reads CSV/NPZ files only and writes `<out-prefix>.png` and `.pdf`.
"""

from __future__ import annotations

import argparse
import logging
import math
from pathlib import Path

from mmcbench.cli.format import add_command
from mmcbench.core import atomic
from mmcbench.core.errors import MmcbenchError
from mmcbench.report.figures import GRID_STYLES

log = logging.getLogger("mmcbench")


def _saved(out_prefix: str, fig) -> int:
    from mmcbench.report.figures import style  # matplotlib and seaborn: only when drawing

    paths = style.save(fig, Path(out_prefix))
    log.info("wrote %s", ", ".join(str(p) for p in paths))
    return 0


def cmd_tsne(args: argparse.Namespace) -> int:
    from mmcbench.report.figures.tsne import tsne_coordinates

    coordinates = tsne_coordinates(
        args.embeddings, args.epochs, args.seed, args.perplexity, args.max_samples
    )
    with atomic.atomic_path(args.out) as tmp:
        coordinates.to_csv(tmp, index=False)
    log.info("wrote %s (%d points)", args.out, len(coordinates))
    return 0


def cmd_plot_grid(args: argparse.Namespace) -> int:
    from mmcbench.report.figures.grid import grid_figure, load_grid

    fig = grid_figure(
        load_grid(args.grid), args.method, args.dataset, args.metric, args.style, args.epochs
    )
    return _saved(args.out_prefix, fig)


def _histories(args: argparse.Namespace, command: str):
    """The seeds' histories of `--histories` (checked to be runs of --method, --dataset and
    --alpha/--beta where given) and the title's setting text."""
    from mmcbench.report.figures.convergence import load_histories

    given = {k: v for k, v in (("--alpha", args.alpha), ("--beta", args.beta)) if v is not None}
    if len(given) == 1:
        raise MmcbenchError(
            f"plot {command}: {next(iter(given))} given without "
            f"{({'--alpha', '--beta'} - set(given)).pop()}; the title names both or neither"
        )
    if bad := [f"{k} {v}" for k, v in given.items() if not math.isfinite(v)]:
        raise MmcbenchError(f"plot {command}: {', '.join(bad)} is not a finite number")
    expected = {"method": args.method, "dataset": args.dataset}
    expected |= {"alpha": args.alpha, "beta": args.beta} if given else {}
    histories = load_histories(args.histories, expected)
    return histories, f" (α = {args.alpha:g}, β = {args.beta:g})" if given else ""


def cmd_plot_convergence(args: argparse.Namespace) -> int:
    from mmcbench.report.figures.convergence import convergence_figure, run_identity, warmup_epochs

    histories, setting = _histories(args, "convergence")
    fig = convergence_figure(
        args.method,
        args.dataset,
        histories,
        warmup=warmup_epochs(args.histories[0]),
        setting=setting,
        variant=run_identity(args.histories[0])["variant"],
    )
    return _saved(args.out_prefix, fig)


def cmd_plot_dynamics(args: argparse.Namespace) -> int:
    from mmcbench.report.figures.convergence import HISTORY, run_identity
    from mmcbench.report.figures.dynamics import dynamics_figure
    from mmcbench.report.figures.inputs import read_record_beside
    from mmcbench.report.figures.names import view_names

    histories, setting = _histories(args, "dynamics")
    variant = run_identity(args.histories[0])["variant"]
    record = read_record_beside(args.histories[0], HISTORY)
    views = view_names(record, histories, args.dataset)
    fig = dynamics_figure(args.method, args.dataset, histories, setting, variant, views)
    return _saved(args.out_prefix, fig)


def cmd_plot_tsne(args: argparse.Namespace) -> int:
    from mmcbench.core.csv_input import TSNE, read_csv
    from mmcbench.report.figures.convergence import HISTORY
    from mmcbench.report.figures.inputs import read_record_beside
    from mmcbench.report.figures.tsne import tsne_figure
    from mmcbench.runs.histories import read_history

    needed = ["epoch", "x", "y", "label"]
    coordinates = read_csv(args.coordinates, "t-SNE coordinates CSV", needed, columns=TSNE)
    scores, record = None, None
    if args.history:
        record = read_record_beside(args.history, HISTORY)
        history = read_history(args.history, record)
        if missing := [c for c in ("ACC", "NMI") if c not in history]:
            raise MmcbenchError(f"{args.history}: the run history has no column {missing}")
        scores = history.set_index("epoch")
    data = (record or {}).get("data")
    total = data.get("n_samples") if isinstance(data, dict) else None
    run_seed = (record or {}).get("seed")
    fig = tsne_figure(
        coordinates,
        args.method,
        args.dataset,
        scores,
        seed=args.seed,
        n_samples=total if isinstance(total, int) else None,
        run_seed=run_seed if isinstance(run_seed, int) else None,
    )
    return _saved(args.out_prefix, fig)


def cmd_plot_paper(args: argparse.Namespace) -> int:
    from mmcbench.report.figures.paper_vs_reproduced import (
        load_comparisons,
        paper_vs_reproduced_figure,
    )

    return _saved(args.out_prefix, paper_vs_reproduced_figure(load_comparisons(args.tables)))


def cmd_plot_resolutions(args: argparse.Namespace) -> int:
    from mmcbench.report.figures.resolutions import resolutions_figure
    from mmcbench.summaries.resolutions import read_study

    return _saved(args.out_prefix, resolutions_figure(read_study(args.resolutions), args.metric))


def add_parsers(sub: argparse._SubParsersAction) -> None:
    """Register `tsne` and `plot` on the main parser's subcommands."""
    p = add_command(
        sub,
        "tsne",
        "t-SNE coordinates of a run's saved fused embeddings",
        "Reads the epochs a run saved in its .embeddings.npz and writes a CSV of 2-D "
        "coordinates per epoch (the input of `mmcbench plot tsne`).",
    )
    p.add_argument("--embeddings", required=True, help="a run's .embeddings.npz")
    p.add_argument("--epochs", type=int, nargs="*", default=None, help="default: every saved")
    p.add_argument("--seed", type=int, default=0, help="t-SNE and subsampling seed")
    p.add_argument("--perplexity", type=float, default=30.0, help="> 0; capped at (n − 1) / 3")
    p.add_argument(
        "--max-samples", type=int, default=5000, help="random subsample above this (at least 2)"
    )
    p.add_argument("--out", required=True, help="coordinates CSV (epoch, sample, x, y, label)")
    p.set_defaults(func=cmd_tsne)

    plot = add_command(
        sub,
        "plot",
        "draw a figure (PNG + PDF) from CSV/NPZ files",
        "Figures are drawn from the files runs and aggregation wrote, never by retraining: "
        "restyling a figure reruns only its plot.",
    )
    kinds = plot.add_subparsers(dest="figure", required=True, metavar="FIGURE")

    def common(q: argparse.ArgumentParser, method: bool = True) -> None:
        if method:
            q.add_argument("--method", required=True, help="GIB or CLIB")
            q.add_argument("--dataset", required=True)
        q.add_argument("--out-prefix", required=True, help="writes <prefix>.png and .pdf")

    q = add_command(kinds, "grid", "α/β grid heatmap (or 3-D bars) from grid.csv")
    q.add_argument("--grid", default="results/grid.csv", help="the grids' summary")
    q.add_argument("--metric", required=True, help="ACC, NMI, ARI or ECE")
    q.add_argument("--style", default="heatmap", choices=GRID_STYLES, help="heatmap or 3-D bars")
    q.add_argument(
        "--epochs", type=int, default=None, help="the grid runs' epochs (named in the title)"
    )
    common(q)
    q.set_defaults(func=cmd_plot_grid)

    q = add_command(kinds, "convergence", "loss/ACC/NMI(/ECE) against epoch, mean ± std")
    q.add_argument("--histories", nargs="+", required=True, help="history CSVs, one per seed")
    q.add_argument("--alpha", type=float, default=None, help="(title; checked against the records)")
    q.add_argument("--beta", type=float, default=None, help="(title; checked against the records)")
    common(q)
    q.set_defaults(func=cmd_plot_convergence)

    q = add_command(
        kinds, "dynamics", "scores, every loss term and per-view σ/|μ| against epoch, mean ± std"
    )
    q.add_argument("--histories", nargs="+", required=True, help="history CSVs, one per seed")
    q.add_argument("--alpha", type=float, default=None, help="(title; checked against the records)")
    q.add_argument("--beta", type=float, default=None, help="(title; checked against the records)")
    common(q)
    q.set_defaults(func=cmd_plot_dynamics)

    q = add_command(kinds, "tsne", "t-SNE panels per epoch from `mmcbench tsne` output")
    q.add_argument("--coordinates", required=True, help="the CSV `mmcbench tsne` wrote")
    q.add_argument("--history", default=None, help="the run's history CSV (ACC/NMI in titles)")
    q.add_argument(
        "--seed", type=int, default=None, help="the seed `mmcbench tsne` ran with (in the title)"
    )
    common(q)
    q.set_defaults(func=cmd_plot_tsne)

    q = add_command(
        kinds, "resolutions", "resolution study: Δ against the default per key and dataset"
    )
    q.add_argument("--resolutions", default="results/resolutions.csv", help="the study's CSV")
    q.add_argument("--metric", default="ACC", choices=["ACC", "NMI", "ECE"], help="drawn metric")
    common(q, method=False)
    q.set_defaults(func=cmd_plot_resolutions)

    q = add_command(kinds, "paper-vs-reproduced", "published vs reproduced, every table")
    q.add_argument("--tables", nargs="+", required=True, help="results/tables/<table>.csv")
    common(q, method=False)
    q.set_defaults(func=cmd_plot_paper)
