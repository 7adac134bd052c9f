"""Run records → `results/runs.csv` (tidy) and `results/summary.csv` (one row per cell).

runs.csv: one row per run × metric, with identity columns (method, variant, dataset, seed),
`status` (done / diverged / stopped / error: failed runs are rows, not gaps), `overrides`
(a resolution-
study point's change, `key=value`; empty for the configured setting), run health
(`clusters_used`, `collapsed`), hyper-parameters as `p_*`, provenance (versions as `v_*`, git
commit, device, host, wall time, peak memory from the Snakemake benchmark file when there is
one) and the record's path.

summary.csv: one row per (method, variant, dataset, metric, α, β, overrides) and `protocol`.
The honest row (`final`) has the three summaries of protocol.md: the mean ± std over seeds
(sample std, ddof = 1), the label-selected value (seed with the best final ACC, uses labels) and
the label-free value (seed with the lowest final loss, where the method has one). A deep cell
also has the row of its paper's selection protocol (`paper`, its `rule` named), of that
protocol's other reading where the method declares one (`paper_bound`) and of the label-free
protocol (`label_free`), from the runs' histories (`mmcbench.summaries.protocols`); every row
names its chosen `seeds` and `epochs`. And how many of the runs collapsed (`n_collapsed`,
`mmcbench.runs.health`: judged at the epoch each protocol reports), with the mean, std and n of the
runs that did not (`*_healthy`, what a calibration claim compares).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mmcbench.core import atomic
from mmcbench.core.errors import RecordError, first_few
from mmcbench.planning import run_paths
from mmcbench.planning.run_paths import point_dir
from mmcbench.runs import records
from mmcbench.runs.health import record_health
from mmcbench.summaries.protocol_rows import healthy_summary, protocol_rows, spelled
from mmcbench.summaries.protocols import PROTOCOLS

log = logging.getLogger(__name__)

IDENTITY = ["method", "variant", "dataset", "seed"]
CELL = ["method", "variant", "dataset", "metric"]
SETTING = ["p_alpha", "p_beta"]  # hyper-parameters that tell grid points apart
POINT = "overrides"  # tells resolution-study points apart ("" = the configured setting)


def overrides_text(overrides: dict[str, Any] | None) -> str:
    """A study point's changes as in its path: `key=value` (comma-joined if several)."""
    return ",".join(point_dir(k, v) for k, v in sorted((overrides or {}).items()))


def _flatten_params(params: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for key, value in params.items():
        if isinstance(value, dict | list):
            value = str(value)
        out[f"p_{key}"] = value
    return out


def _max_rss_mb(benchmark_file: Path | None) -> float | None:
    if benchmark_file is None or not benchmark_file.is_file():
        return None
    try:
        table = pd.read_csv(benchmark_file, sep="\t")
        return float(table["max_rss"].iloc[0])
    except (ValueError, KeyError, IndexError, pd.errors.ParserError):
        return None


def record_rows(
    record: dict[str, Any], path: Path, benchmark_file: Path | None = None
) -> list[dict[str, Any]]:
    """The tidy rows of one record (one per metric)."""
    env = record["environment"]
    loss = record.get("loss") or {}
    health = record_health(record)
    base = {
        "method": record["method"],
        "variant": record["variant"],
        "dataset": record["dataset"],
        "seed": record["seed"],
        "status": record["status"],
        POINT: overrides_text(record.get("overrides")),
        "clusters_used": health["clusters_used"],
        "n_clusters": health["n_clusters"],
        "collapsed": health["collapsed"],
        "view_name": record["params"].get("view_name", ""),
        "loss_name": loss.get("name"),
        "loss": loss.get("value"),
        **_flatten_params(record["params"]),
        "wall_s": record["time"]["wall_s"],
        "max_rss_mb": _max_rss_mb(benchmark_file),
        "device": env["device"],
        "hostname": env["hostname"],
        "slurm_job_id": env.get("slurm_job_id"),
        "git_commit": env["git_commit"],
        "git_dirty": env.get("git_dirty"),
        **{f"v_{k}": v for k, v in env["versions"].items()},
        "error": (record.get("error") or "").splitlines()[0] if record.get("error") else "",
        "record": str(path),
    }
    return [{**base, "metric": m, "value": record["metrics"].get(m)} for m in records.METRICS]


def benchmark_file_for(record_path: Path, runs_root: Path, bench_root: Path) -> Path | None:
    """Snakemake benchmark file of a run: same relative path under `bench_root`, `.tsv`."""
    parts = run_paths.relative_parts(record_path, runs_root)
    return None if parts is None else bench_root / Path(*parts).with_suffix(".tsv")


def runs_table(
    record_paths: Iterable[str | Path],
    runs_root: Path | None = None,
    bench_root: Path | None = None,
) -> pd.DataFrame:
    """Tidy table of every record. Each is validated (schema, metric ranges) and, below
    `runs_root`, must follow the run-path grammar with an identity matching its path; every
    record that fails is named in one RecordError, and nothing is written."""
    rows: list[dict[str, Any]] = []
    problems: list[str] = []
    runs: dict[tuple, Path] = {}  # identity → the record that holds it
    for path in _distinct_files(record_paths):
        bench = (
            benchmark_file_for(path, runs_root, bench_root)
            if runs_root is not None and bench_root is not None
            else None
        )
        try:
            record = records.read(path)
            check_identity(record, path, runs_root)
        except RecordError as exc:
            problems.append(str(exc))
            continue
        identity = run_identity(record)
        if identity in runs:
            problems.append(
                f"{path}: the same run as {runs[identity]} (method, dataset, variant, seed, "
                "α, β, study point): a run is counted once; remove the copy"
            )
            continue
        runs[identity] = path
        rows.extend(record_rows(record, path, bench))
    if problems:
        raise RecordError(
            f"{len(problems)} run record(s) cannot be aggregated: {first_few(problems)}. Fix or "
            "remove them "
            "(Snakemake retrains a deleted record); nothing was written."
        )
    table = pd.DataFrame(rows)
    if table.empty:
        return table
    leading = [*IDENTITY, "status", "metric", "value", POINT, "clusters_used", "collapsed"]
    leading += ["view_name", "loss_name", "loss"]
    rest = [c for c in table.columns if c not in leading]
    table = table[leading + rest]
    return table.sort_values([*IDENTITY[:3], "metric", "seed"], kind="stable").reset_index(
        drop=True
    )


def check_identity(record: dict[str, Any], path: Path, runs_root: Path | None) -> None:
    """Below `runs_root`, a record's path follows the run-path grammar and says who the record
    is (method, dataset, variant, seed, α, β, study point): RecordError naming it otherwise."""
    if runs_root is None or not _is_below(path, runs_root):
        return
    expected = run_paths.parse_run_path(path, runs_root)
    if expected is None:
        raise RecordError(
            f"{path}: not a run-record path below {runs_root} "
            "(<method>/<dataset>/<variant>/[a<α>_b<β>/[<key>=<value>/]]seed<N>.json, each value "
            "spelled as the suite writes it: a1_b0.5, grad_clip=5, lr=0.00001, seed3)"
        )
    if mismatch := run_paths.identity_mismatch(record, expected):
        raise RecordError(f"{path}: the record is not the run its path names: {mismatch}")


def _is_below(path: Path, root: Path) -> bool:
    return run_paths.relative_parts(path, root) is not None


def _distinct_files(paths: Iterable[str | Path]) -> list[Path]:
    """The paths, each file once (the same file named twice, or through `./`, counts once)."""
    seen, distinct = set(), []
    for raw in paths:
        path = Path(raw)
        key = path.resolve()
        if key not in seen:
            seen.add(key)
            distinct.append(path)
    return distinct


def run_identity(record: dict[str, Any]) -> tuple:
    """What makes a run the run it is, for counting it once."""
    params = record.get("params") or {}
    return (
        *(record[k] for k in IDENTITY),
        params.get("alpha"),
        params.get("beta"),
        overrides_text(record.get("overrides")),
    )


def _select(done: pd.DataFrame, by: str, best: str) -> tuple[Any, Any]:
    """(seed, index) of the run chosen by column `by` (max or min; ties → lowest seed)."""
    candidates = done.dropna(subset=[by])
    if candidates.empty:
        return None, None
    ascending = best == "min"
    chosen = candidates.sort_values([by, "seed"], ascending=[ascending, True]).iloc[0]
    return int(chosen["seed"]), chosen.name


def summarise(runs: pd.DataFrame, with_protocols: bool = False) -> pd.DataFrame:
    """One row per (method, variant, dataset, metric, α, β, overrides) and protocol: the honest
    row (`final`: mean ± std over seeds, the best-final-ACC and lowest-final-loss seeds) and,
    for the deep methods and `with_protocols`, the rows of their paper's protocol and of the
    label-free protocol with the chosen seeds and epochs (`mmcbench.summaries.protocols`)."""
    if runs.empty:
        return pd.DataFrame()
    setting = [c for c in SETTING if c in runs.columns] + [POINT]
    acc_of_run = runs[runs["metric"] == "ACC"].set_index("record")["value"]
    rows = []
    for key, group in runs.groupby(CELL + setting, sort=True, dropna=False):
        group = group.assign(acc=group["record"].map(acc_of_run))
        # a run its method stopped (CoMVC's empty negative sampling) keeps its last evaluation,
        # as the authors' code keeps its last checkpoint
        done = group[group["status"].isin(["done", "stopped"])]
        values = done["value"].dropna().astype(float)
        healthy = done.loc[done["collapsed"] != True, "value"].dropna().astype(float)  # noqa: E712
        acc_seed, _ = _select(done, "acc", "max")
        loss_seed, _ = _select(done, "loss", "min")

        def value_at(seed: Any, frame: pd.DataFrame = done) -> float | None:
            if seed is None:
                return None
            hit = frame.loc[frame["seed"] == seed, "value"].dropna()
            return float(hit.iloc[0]) if len(hit) else None

        rows.append(
            {
                **dict(zip(CELL + setting, key, strict=True)),
                "protocol": "final",
                "rule": "final",
                "seeds": spelled(tuple(sorted(int(s) for s in done["seed"].unique()))),
                "view_name": group["view_name"].iloc[0],
                "n": int(values.size),
                "n_runs": int(group["seed"].nunique()),
                "n_diverged": int((group["status"] == "diverged").sum()),
                "n_stopped": int((group["status"] == "stopped").sum()),
                "n_error": int((group["status"] == "error").sum()),
                "n_collapsed": int((done["collapsed"] == True).sum()),  # noqa: E712 (None, NaN)
                "clusters_used_mean": float(done["clusters_used"].astype(float).mean())
                if done["clusters_used"].notna().any()
                else np.nan,
                "mean": float(values.mean()) if values.size else np.nan,
                "std": float(values.std(ddof=1)) if values.size > 1 else np.nan,
                "median": float(values.median()) if values.size else np.nan,
                "min": float(values.min()) if values.size else np.nan,
                "max": float(values.max()) if values.size else np.nan,
                **healthy_summary(healthy.to_numpy()),
                "label_selected": value_at(acc_seed),
                "label_selected_seed": acc_seed,
                "loss_selected": value_at(loss_seed),
                "loss_selected_seed": loss_seed,
                "loss_name": done["loss_name"].dropna().iloc[0]
                if done["loss_name"].notna().any()
                else None,
                "wall_s_mean": float(group["wall_s"].mean()),
            }
        )
    summary = pd.DataFrame(rows)
    if with_protocols:
        summary = _with_protocols(summary, runs, setting)
    for column in ("label_selected_seed", "loss_selected_seed"):
        summary[column] = summary[column].astype("Int64")
    return summary


def _with_protocols(summary: pd.DataFrame, runs: pd.DataFrame, setting: list[str]) -> pd.DataFrame:
    """The deep cells' rows of the other protocols after the honest ones, and the honest rows'
    epochs (`mmcbench.summaries.protocol_rows`)."""
    selected = protocol_rows(runs, setting)
    if selected.empty:
        return summary.assign(epochs="", uses_labels=False, protocol_note="")
    key = CELL + setting
    final = selected[selected["protocol"] == "final"][[*key, "epochs", "protocol_note"]]
    summary = summary.merge(final, on=key, how="left")
    summary["epochs"] = summary["epochs"].fillna("")
    summary["protocol_note"] = summary["protocol_note"].fillna("")
    summary["uses_labels"] = False
    others = selected[selected["protocol"] != "final"]
    order = {p: i for i, p in enumerate(PROTOCOLS)}
    both = pd.concat([summary, others], ignore_index=True)
    both["_order"] = both["protocol"].map(order)
    both = both.sort_values([*key, "_order"], kind="stable", na_position="first")
    return both.drop(columns="_order").reset_index(drop=True)


def _scales_itself(method: Any) -> bool:
    """Whether a deep method's settings choose its views' scaling (`scaling()` not None)."""
    from mmcbench.planning import catalogue

    if not isinstance(method, str) or method not in catalogue.deep_methods():
        return False
    return catalogue.config_class(method)().scaling() is not None


def check_one_scaling(runs: pd.DataFrame) -> None:
    """A summary compares methods on the same inputs: records whose views were scaled
    differently (`preprocessing.scaling`) are refused, naming one record of each; a method's
    own scaling (its `preprocess` key, DIVIDE's `data_norm`) is the exception its spec makes."""
    if "p_scaling" not in runs:
        return
    # A run whose method scales its views itself (SiMVC, CoMVC, MFLVC, DealMVC, COPER: their
    # `preprocess` key; DIVIDE: z-scoring, `data_norm`; spec "Resolved": their authors' code's
    # choice) got the scaling its settings ask for, by design.
    if "p_preprocess" in runs:
        runs = runs[runs["p_preprocess"].isna()]
    if "method" in runs:
        runs = runs[~runs["method"].map(_scales_itself).astype(bool)]
    known = runs.dropna(subset=["p_scaling"]).drop_duplicates("p_scaling")
    if len(known) > 1:
        examples = "; ".join(f"{r.record} ({r.p_scaling})" for r in known.itertuples())
        raise RecordError(
            f"the run records mix scalings of the views ({examples}): a table would compare "
            "methods on different inputs. Rerun them with one preprocessing.scaling (Snakemake "
            "reruns every run when the key changes), or aggregate each scaling on its own."
        )


def aggregate(
    record_paths: Iterable[str | Path],
    runs_csv: Path | None,
    summary_csv: Path,
    runs_root: Path | None = None,
    bench_root: Path | None = None,
    with_protocols: bool = True,
    comparison_csv: Path | None = None,
) -> pd.DataFrame:
    """Write runs.csv (unless None), summary.csv and comparison.csv (where given: every paper
    table's cells, published vs reproduced, `mmcbench.report.comparison`) atomically, only
    once every record has been read and checked (a failure leaves the previous files as they
    were); return the summary."""
    for output in (runs_csv, summary_csv, comparison_csv):
        if output is not None:
            atomic.check_writable(output)
    runs = runs_table(record_paths, runs_root, bench_root)
    if runs.empty:
        raise RecordError("no run records to aggregate")
    check_one_scaling(runs)
    summary = summarise(runs, with_protocols)
    compared = None
    if comparison_csv is not None:  # the report's one input, drawn from this summary
        from mmcbench.report.comparison import comparison_table
        from mmcbench.report.tables import load_published

        compared = comparison_table(summary, load_published())
    with contextlib.ExitStack() as stack:  # all written, then all renamed
        if runs_csv is not None:
            runs.to_csv(stack.enter_context(atomic.atomic_path(runs_csv)), index=False)
        summary.to_csv(stack.enter_context(atomic.atomic_path(summary_csv)), index=False)
        if compared is not None:
            compared.to_csv(stack.enter_context(atomic.atomic_path(comparison_csv)), index=False)
    unique = runs.drop_duplicates("record")  # one run per record file (α, β included)
    log.info(
        "aggregated %d runs (%d done) into %s",
        unique.shape[0],
        int((unique["status"] == "done").sum()),
        ", ".join(str(p) for p in (runs_csv, summary_csv, comparison_csv) if p is not None),
    )
    return summary


def aggregate_grid(
    record_paths: Iterable[str | Path],
    grid_csv: Path,
    runs_root: Path | None = None,
    bench_root: Path | None = None,
) -> pd.DataFrame:
    """Write grid.csv atomically: the summary of exactly the α/β grid's runs.

    A grid cell summarises the grid's own seeds, so the cell at the default (α, β) averages the
    same number of seeds as every other cell, even though the tables' runs there have more.
    """
    return aggregate(record_paths, None, grid_csv, runs_root, bench_root, with_protocols=False)
