"""`mmcbench baseline`, `train` and `train-pack`: one run, or a pack of runs, to its record."""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mmcbench.cli.common import SEED_MAX, seed_value
from mmcbench.core import atomic
from mmcbench.core.errors import ConfigError, MmcbenchError
from mmcbench.planning.catalogue import RUN_OPTIONS  # run settings, not hyper-parameters

log = logging.getLogger("mmcbench")


def cmd_baseline(args: argparse.Namespace) -> int:
    from mmcbench.planning.config import check_baseline_arguments
    from mmcbench.runs import records
    from mmcbench.training.baseline_run import BaselineParams, run

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
    from mmcbench.runs import records

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

    from mmcbench.planning.study import NOT_STUDIED, parse_assignment

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


def _train_values(args: argparse.Namespace, config_class: type) -> tuple[dict, dict, dict]:
    """The run's hyper-parameters (--hparams, --set, --alpha, --beta, --epochs) and settings
    (--embeddings-at, --device, --threads), checked by the config schema's rules; returns
    (hyper-parameters, settings, the --set overrides)."""
    from mmcbench.planning.config import check_train_arguments

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

    from mmcbench.planning import catalogue

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
    from mmcbench.training.train import run_scaling

    own = config.scaling()
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
    from mmcbench.runs import records

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
    from mmcbench.data.load import load_hdf5
    from mmcbench.runs import records
    from mmcbench.training.train import recorded_params, run_scaling

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

    from mmcbench.runs import records

    for out in outs:
        for path in (out, *records.side_files(out)):
            atomic.check_writable(path)
    if args.threads:
        torch.set_num_threads(args.threads)
    set_precision(args.precision)


def cmd_train(args: argparse.Namespace) -> int:
    from mmcbench.planning import catalogue
    from mmcbench.runs import records
    from mmcbench.training.train import run_from_file

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
    from mmcbench.planning import catalogue

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
    from mmcbench.planning import catalogue
    from mmcbench.runs import records
    from mmcbench.training.pack import Member, check_members, pack_from_file

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


def deep_method_name(text: str) -> str:
    """A deep method of the catalogue (argparse type): else what is wrong with the method
    folder that would declare it, or the known deep methods."""
    from mmcbench.planning import catalogue

    if text in catalogue.deep_methods():
        return text
    problem = catalogue.broken_problem(text)
    raise argparse.ArgumentTypeError(
        problem or f"unknown deep method {text!r} (known: {', '.join(catalogue.deep_methods())})"
    )


def deep_run_options(p: argparse.ArgumentParser, pack: bool) -> None:
    """Options of `train` (one run) and `train-pack` (`pack`: lists of seeds, α, β, out)."""
    from mmcbench.core.settings import IBSettings
    from mmcbench.planning import catalogue

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


def add_parsers(sub: argparse._SubParsersAction) -> None:
    """The runs commands' parsers."""
    from mmcbench.cli.format import add_command
    from mmcbench.planning import catalogue

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
        "defaults (each method's section of the config schema), and are checked by its rules.",
    )
    deep_run_options(p, pack=False)
    p.set_defaults(func=cmd_train)

    p = add_command(
        sub,
        "train-pack",
        "train K deep runs of one setting at once (seeds and/or α, β), one stacked model",
        "Trains the runs together in one process: one vmapped forward and backward per step "
        "for all of them (mmcbench.training.pack). Each run keeps its own seed (initial "
        "weights, batch order, noise, balls) and writes the record, history and embeddings "
        "`train` writes for it alone, with the same numbers (to float rounding).",
    )
    deep_run_options(p, pack=True)
    p.set_defaults(func=cmd_train_pack)
