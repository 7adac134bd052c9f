"""`mmcbench estimate`, `config-keys` and `sys-info`: what a config costs before launch, which
keys it takes, and this machine."""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

from mmcbench.cli.common import print_lines
from mmcbench.core.errors import MmcbenchError

log = logging.getLogger("mmcbench")


def config_key_lines(schema: dict, section: str | None) -> list[str]:
    """One line per config key of `schema` (or of its `section`): the dotted key, its default
    and its description, as the validator reads them."""
    properties = schema["properties"]
    if section is not None:
        if section not in properties:
            known = ", ".join(sorted(properties))
            raise MmcbenchError(f"no section {section!r} in the config schema (sections: {known})")
        properties = {section: properties[section]}
    lines: list[str] = []

    def walk(prefix: str, rules: dict) -> None:
        nested = rules.get("properties")
        if nested and rules.get("type") == "object":
            for key, sub in nested.items():
                walk(f"{prefix}.{key}" if prefix else key, sub)
            return
        default = json.dumps(rules["default"]) if "default" in rules else "(no default)"
        description = " ".join(str(rules.get("description", "")).split())
        lines.append(
            f"{prefix} = {default}  # {description}" if description else f"{prefix} = {default}"
        )

    for key, rules in properties.items():
        walk(key, rules)
    return lines


def cmd_config_keys(args: argparse.Namespace) -> int:
    from mmcbench.planning.config import config_schema

    schema = config_schema()
    if args.json:
        chosen = schema if args.section is None else schema["properties"].get(args.section)
        if chosen is None:
            config_key_lines(schema, args.section)  # raises the error naming the sections
        return print_lines(json.dumps(chosen, indent=1, ensure_ascii=False).splitlines())
    return print_lines(config_key_lines(schema, args.section))


def cmd_estimate(args: argparse.Namespace) -> int:
    from mmcbench.planning import estimate
    from mmcbench.planning.runtime import PACKING_CSV, load_packing, load_timings

    directory = Path(args.directory)
    if not directory.is_dir():
        problem = "is not a folder" if directory.exists() else "does not exist"
        raise MmcbenchError(
            f"estimate: --directory {directory} {problem}; give the working folder whose runs "
            "count as done (it is not created)"
        )
    if args.snakefile:
        snakefile, which = Path(args.snakefile), "--snakefile"
    else:
        snakefile, which = estimate.default_snakefile(directory)
    if not snakefile.is_file():
        raise MmcbenchError(f"estimate: {snakefile}: no such Snakefile (give --snakefile)")
    for path in args.configfile:
        if not Path(path).is_file():
            raise MmcbenchError(f"estimate: {path}: no such config file")
    config = estimate.load_config(snakefile, args.configfile)
    timings = load_timings(Path(args.timings))
    packing = load_packing(Path(args.packing or PACKING_CSV), required=bool(args.packing))
    device = args.device or ("cuda" if any(row["device"] == "cuda" for row in timings) else "cpu")
    notes = [f"Snakefile: {snakefile} ({which})"]
    if device == "cpu" and not args.device:
        notes.append(
            "No GPU timing stored (run benchmarks/epoch_speed.py DATA.h5 --device cuda --save "
            "on a GPU node): the hours below are CPU hours."
        )
    elif not any(row["device"] == device for row in timings):
        notes.append(
            f"No {device} timing stored in {args.timings}: the deep runs are counted but not "
            f"costed (run benchmarks/epoch_speed.py DATA.h5 --device {device} --save on such a "
            "node)."
        )
    if status := print_lines(notes):
        return status
    runs = estimate.planned_runs(config, directory, snakefile, args.configfile)
    lines = estimate.cost_lines(runs, config, timings, device)
    return print_lines(
        [
            estimate.render(lines, device, details=args.details),
            estimate.render_packs(lines, estimate.batched_speedups(packing, device), device),
        ]
    )


def cmd_sys_info(args: argparse.Namespace) -> int:
    from mmcbench.runs.provenance import system_report

    report = system_report()
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    for key, value in report.items():
        if isinstance(value, dict):
            print(f"{key}:")
            for name, item in value.items():
                print(f"  {name:<14} {item}")
        else:
            print(f"{key:<22} {value}")
    return 0


def add_parsers(sub: argparse._SubParsersAction) -> None:
    """The plan commands' parsers."""
    from mmcbench.cli.format import add_command
    from mmcbench.planning.runtime import PACKING_CSV, TIMINGS_CSV

    p = add_command(
        sub,
        "estimate",
        "runs per rule and device-hours of a config's DAG, before launch",
        "Checks the config as the Snakefile does, plans its runs as the Snakefile does "
        "(runs already done in --directory are not counted) and prices each run from the "
        "stored timings (benchmarks/epoch_speed.py --save): a summary per method, the "
        "details with --details.",
    )
    p.add_argument("--configfile", nargs="+", required=True, help="the config file(s) to run")
    p.add_argument("--device", choices=["cpu", "cuda"], help="default: cuda if timed, else cpu")
    p.add_argument(
        "--snakefile",
        default=None,
        help="the suite's Snakefile (default: the --directory's own Snakefile if it has one, "
        "as snakemake would run there, else this checkout's); the estimate says which",
    )
    p.add_argument(
        "--directory", default=".", help="working folder, must exist (runs done there count)"
    )
    p.add_argument("--timings", default=str(TIMINGS_CSV), help="stored seconds per epoch")
    p.add_argument(
        "--packing",
        default=None,
        help=f"stored speed-ups of batched packs (default: {PACKING_CSV}, if present)",
    )
    p.add_argument(
        "--details",
        action="store_true",
        help="also one row per method, dataset and variant, with the basis of each price",
    )
    p.set_defaults(func=cmd_estimate)

    p = add_command(
        sub,
        "config-keys",
        "every config key, its default and description (methods' from their settings)",
        "The config schema the DAG validates against: workflow/schemas/config.schema.yaml with "
        "each deep method's section generated from its settings class (one line per key: the "
        "dotted key, its default, its description).",
    )
    p.add_argument("--section", default=None, help="one section only (e.g. gib, clib, figures)")
    p.add_argument("--json", action="store_true", help="the schema itself, as JSON")
    p.set_defaults(func=cmd_config_keys)

    p = add_command(
        sub,
        "sys-info",
        "versions, device, CUDA and threads, for bug reports",
        "Paste its output into a bug report: the suite's and its libraries' versions, the "
        "platform and CPU, torch's threads, whether CUDA is available and which GPUs it sees, "
        "and the checkout's git commit.",
    )
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_sys_info)
