"""The `mmcbench` command (also `python -m mmcbench`, which is what the workflow rules call):
the top-level parser and `main`; each command group's commands live in their own module
(data, runs, results, plan; figures in mmcbench.report.figures.commands).

Subcommands: datasets, fetch, convert, baseline, train, aggregate, render, reliability,
estimate, sys-info, tsne, plot. Errors in the input (missing or corrupt files, bad arguments)
print one paragraph and exit with status 2.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from mmcbench.core.errors import MmcbenchError, user_error

TOP_HELP = """\
Reproduce GIB and CLIB against the classical baselines on multi-view clustering.

The benchmark is a Snakemake DAG, run from the checkout:
  snakemake --cores 2 --configfile config/demo.yaml   embedded default: offline, minutes
  snakemake --cores 8 --use-conda all                 the papers' setting (config/config.yaml)
  snakemake --cores 2 --configfile config/demo.yaml --report results/report.html
                                                      every table and figure in one page
  mmcbench estimate --configfile config/config.yaml   runs and device-hours, before launching
Its rules call the subcommands below, which also work on their own. Mistakes in your input
(files, options, config) print one paragraph and exit with status 2."""

TOP_EPILOG = """\
`mmcbench COMMAND --help` shows a command's options and defaults. Config keys:
workflow/schemas/config.schema.yaml; config files: config/README.md."""


def build_parser() -> argparse.ArgumentParser:
    import mmcbench
    from mmcbench.cli import data, plan, results, runs
    from mmcbench.cli.format import HelpFormatter
    from mmcbench.report.figures.commands import add_parsers as figure_parsers

    parser = argparse.ArgumentParser(
        prog="mmcbench", description=TOP_HELP, epilog=TOP_EPILOG, formatter_class=HelpFormatter
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    parser.add_argument("--version", action="version", version=f"mmcbench {mmcbench.__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for group in (data, runs, results, plan):
        group.add_parsers(sub)
    figure_parsers(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("fontTools").setLevel(logging.WARNING)  # PDF font subsetting chatter
    try:
        return args.func(args)
    except (MmcbenchError, OSError) as exc:  # OSError: a file the user named (disk full, …)
        print(f"mmcbench {args.command}: error: {user_error(exc)}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
