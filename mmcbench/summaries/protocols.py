"""Selection protocols: which epoch of each run, and which runs, a reported number comes from.

A published number is the product of a method and of the protocol that chose it. Every deep
run's history has one row per epoch (scores, training loss terms, eval-mode loss terms
`eval_<term>`), so a protocol picks an epoch per run and reads that row; no weights are stored.

- `final` (the honest number, the default everywhere): each run's last epoch; mean ± std over
  the seeds. Reads no column to choose.
- `label_free`: per run the trained epoch with the lowest value of the method's clustering
  terms in eval mode (`DeepMethod.label_free_column`, declared in each method folder's entry:
  GIB and CLIB `eval_clustering`, their total without the compression term, whose value falls
  while σ grows; SiMVC and CoMVC `eval_ddc1`, what mvc's code monitors; others `eval_total`;
  ties → the earliest) among the epochs of the run's last stage (a history's `stage` column:
  MFLVC's reconstruction, contrastive and fine-tuning stages, CLIB's warm-up and calibration;
  no warm-up epoch is ever picked, and losses of different objectives are not compared); mean
  ± std over the seeds.
- `paper`: the method's own paper's protocol (`DeepMethod.paper_protocol`), one of
  - `best_run_final` (GIB §3.1 as protocol.md reads it: "ran the model 20 times ... converged
    after 100 epochs ... selected the model with the highest accuracy and lowest loss"; CLIB's
    too, assumed, since its slides say nothing): each run's last epoch, then the run with the
    highest ACC there (ties → the lowest training `total`, then the lowest seed). Uses labels.
  - `best_epoch_best_run` (the other reading, shown beside it as `paper_bound`, an upper
    bound: the group's public code reports the maximum over epochs): per run the trained
    epoch of highest ACC, ties → the lowest training `total`, then the earliest; then the one
    run with the highest such ACC (ties → lowest `total`, then the lowest seed). Uses labels.
  - `mvc` (SiMVC/CoMVC's code, spec/SiMVC-CoMVC.md "Evaluation and selection"): per run, under
    the run's `checkpoint_select`, the evaluated epoch (every 4th) with the lowest value of the
    method's `label_free_column` (SiMVC, CoMVC: `eval_ddc1`, what mvc's code monitors; ties →
    the earliest, as best.pt is saved on a new minimum only; no evaluated epoch → the last) or
    the last epoch; then the one run with the lowest eval loss its `run_select_loss` names
    (`DeepMethod.run_select_columns`: the method folder maps the setting's values to history
    columns; otherwise the same column). Label-free.
  - `fixed_seed_last` (MFLVC's code): the last epoch of the run with the spec's fixed seed for
    the dataset (`DeepMethod.paper_seeds`), or of the first seed when that one is not run.
  - `best_validation` (COPER's code, spec/COPER.md "Evaluation and selection"): per run the
    validation epoch (every `validation_every`-th of the run's params, default 10) of highest
    ACC, ties → the later; NMI and the others from that epoch; mean ± std over the seeds. Uses
    labels.
  - `final`: a method whose paper names no protocol.

A protocol that chooses without labels is handed only the history columns it may read
(`ALLOWED`: the epoch, the stage and the loss column it minimises), so that it cannot read a
label-derived one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from mmcbench.core.errors import MmcbenchError
from mmcbench.methods import PAPER_RULES

LABEL_COLUMNS = (
    "ACC",
    "NMI",
    "ARI",
    "ECE",
    "NLL",
    "Brier",
    "NMI_geometric",
)  # the loop's scores; a method's own label-derived columns are never read either (`_blind`)
MVC_EVAL_INTERVAL = 4  # mvc evaluates (and may save best.pt) every 4 epochs
RULES = ("label_free", *PAPER_RULES)
PROTOCOLS = ("final", "paper", "paper_bound", "label_free")  # rows of summary.csv per deep cell
ALLOWED = ("epoch", "stage")  # what a label-free rule reads besides the loss column it minimises
RULE_WORDS = {  # each rule in a table's legend
    "final": "the last epoch, mean over seeds (its paper names no selection)",
    "label_free": "per run the epoch of lowest evaluation loss of the clustering terms, after "
    "any warm-up, mean over seeds (no labels)",
    "best_run_final": "the run of highest ACC at the last epoch (ties: lowest loss; uses the "
    "labels)",
    "best_epoch_best_run": "per run the epoch of highest ACC (ties: lowest loss), then the best "
    "run (uses the labels; an upper bound)",
    "mvc": "per run the lowest evaluation DDC loss among every 4th epoch, then the run of lowest "
    "such loss (no labels)",
    "fixed_seed_last": "the last epoch of one fixed seed per dataset (no labels)",
    "best_validation": "per run the validation epoch of highest ACC (ties: the later), mean "
    "over seeds (uses the labels)",
}
VALIDATION_EVERY = 10  # COPER's `check_val_every_n_epoch` on generic data


class ProtocolError(MmcbenchError):
    """A run's history lacks what a protocol needs."""


@dataclass(frozen=True)
class RunHistory:
    """One run as a protocol sees it: its seed, its history, its hyper-parameters."""

    seed: int
    history: pd.DataFrame
    params: Mapping[str, Any]
    name: str  # names the run in errors (its record's path)


@dataclass(frozen=True)
class Choice:
    """What a protocol chose: per chosen run its seed and epoch, and whether they are averaged
    (mean ± std) or one run is reported."""

    seeds: tuple[int, ...]
    epochs: tuple[int, ...]
    averaged: bool


def uses_labels(rule: str) -> bool:
    return rule in ("best_run_final", "best_epoch_best_run", "best_validation")


def _need(run: RunHistory, columns: Sequence[str], rule: str) -> None:
    missing = [c for c in columns if c not in run.history.columns]
    if missing:
        raise ProtocolError(
            f"{run.name}: the run's history has no column {', '.join(map(repr, missing))}, "
            f"which the selection protocol {rule!r} reads (histories written before the "
            "suite recorded eval-mode losses lack it: retrain the run)"
        )


def _trained(history: pd.DataFrame) -> pd.DataFrame:
    rows = history[history["epoch"] > 0]
    return rows if len(rows) else history


def _last_stage(rows: pd.DataFrame, params: Mapping[str, Any]) -> pd.DataFrame:
    """The rows of the last stage the run reached: by the history's `stage` column; in a
    history written before CLIB recorded it, the epochs after its warm-up (`warmup_epochs` of
    a run with warm-up, as the convergence figure marks it); else every row."""
    if "stage" in rows and rows["stage"].notna().any():
        return rows[rows["stage"] == rows["stage"].dropna().iloc[-1]]
    warmup = params.get("warmup_epochs")
    if warmup and params.get("warmup", True) and (rows["epoch"] > warmup).any():
        return rows[rows["epoch"] > warmup]
    return rows


def _lowest(rows: pd.DataFrame, column: str, run: RunHistory, rule: str) -> pd.Series:
    candidates = rows.dropna(subset=[column])
    if candidates.empty:
        raise ProtocolError(
            f"{run.name}: the run's history has no value of {column!r} at any candidate "
            f"epoch, which the selection protocol {rule!r} reads"
        )
    return candidates.sort_values([column, "epoch"], kind="stable").iloc[0]


def _last(run: RunHistory) -> pd.Series:
    return run.history.sort_values("epoch").iloc[-1]


def chosen_row(rule: str, run: RunHistory, column: str = "eval_total") -> pd.Series:
    """The row (epoch) `rule` picks in one run (`column`: what `label_free`, and `mvc` among
    its evaluated epochs, minimise: the method's `label_free_column`)."""
    if rule in ("final", "fixed_seed_last", "best_run_final"):
        if rule == "best_run_final":
            _need(run, ["ACC", "total"], rule)
        return _last(run)
    if rule == "label_free":
        blind = _blind(run, [column])
        _need(blind, [column], rule)
        rows = _last_stage(_trained(blind.history), run.params)
        return run.history.loc[_lowest(rows, column, run, rule).name]
    if rule == "best_epoch_best_run":
        _need(run, ["ACC", "total"], rule)
        rows = _trained(run.history).dropna(subset=["ACC"])
        if rows.empty:
            raise ProtocolError(f"{run.name}: no epoch with an ACC, which {rule!r} reads")
        order = rows.assign(_acc=-rows["ACC"], _total=rows["total"].fillna(np.inf))
        return run.history.loc[order.sort_values(["_acc", "_total", "epoch"]).index[0]]
    if rule == "mvc":
        if run.params.get("checkpoint_select") == "last":
            return _last(run)
        blind = _blind(run, [column])
        _need(blind, [column], rule)
        rows = blind.history
        evaluated = rows[(rows["epoch"] > 0) & (rows["epoch"] % MVC_EVAL_INTERVAL == 0)]
        if evaluated.dropna(subset=[column]).empty:
            return _last(run)
        return run.history.loc[_lowest(evaluated, column, run, rule).name]
    if rule == "best_validation":
        _need(run, ["ACC"], rule)
        every = int(run.params.get("validation_every") or VALIDATION_EVERY)
        rows = _trained(run.history)
        rows = rows[rows["epoch"] % every == 0].dropna(subset=["ACC"])
        if rows.empty:
            return _last(run)
        # highest ACC, ties → the later validation
        return run.history.loc[rows.sort_values(["ACC", "epoch"], kind="stable").index[-1]]
    raise ValueError(f"unknown selection rule {rule!r}; expected one of {list(RULES)}")


def _blind(run: RunHistory, columns: Sequence[str]) -> RunHistory:
    """The run with only the columns a label-free rule may read: `ALLOWED` and `columns`."""
    keep = [c for c in (*ALLOWED, *columns) if c in run.history.columns]
    return RunHistory(run.seed, run.history[keep], run.params, run.name)


def choose(
    rule: str,
    runs: Sequence[RunHistory],
    paper_seed: int | None = None,
    label_free_column: str = "eval_total",
    run_select_columns: Mapping[str, str] | None = None,
) -> Choice:
    """The epochs and runs `rule` reports from `runs` (one cell's seeds): `label_free_column`
    and `run_select_columns` as the method's entry declares them (`DeepMethod`)."""
    if not runs:
        return Choice((), (), averaged=rule in ("final", "label_free", "best_validation"))
    rows = [chosen_row(rule, run, label_free_column) for run in runs]
    if rule in ("final", "label_free", "best_validation"):
        return Choice(
            tuple(r.seed for r in runs), tuple(int(row["epoch"]) for row in rows), averaged=True
        )
    if rule == "fixed_seed_last":
        seeds = [r.seed for r in runs]
        pick = seeds.index(paper_seed) if paper_seed in seeds else seeds.index(min(seeds))
    elif rule in ("best_run_final", "best_epoch_best_run"):
        keys = [
            (-_finite(row["ACC"], -np.inf), _finite(row.get("total")), run.seed)
            for run, row in zip(runs, rows, strict=True)
        ]
        pick = min(range(len(runs)), key=keys.__getitem__)
    else:  # mvc
        setting = runs[0].params.get("run_select_loss")
        column = dict(run_select_columns or {}).get(setting, label_free_column)
        for run in runs:
            _need(_blind(run, [column]), [column], rule)
        keys = [(_finite(row.get(column)), run.seed) for run, row in zip(runs, rows, strict=True)]
        pick = min(range(len(runs)), key=keys.__getitem__)
    return Choice((runs[pick].seed,), (int(rows[pick]["epoch"]),), averaged=False)


def _finite(value: Any, missing: float = np.inf) -> float:
    """`value` as a float; `missing` where it is none or not finite (it then sorts last)."""
    try:
        value = float(value)
    except (TypeError, ValueError):
        return missing
    return value if np.isfinite(value) else missing


def score_column(rule: str, params: Mapping[str, Any], metric: str) -> str:
    """The history column a rule reports `metric` from: NMI with mvc's geometric normalisation
    (`NMI_geometric`) under the `mvc` rule of a run whose `nmi_average` is geometric (SiMVC's
    and CoMVC's default, spec/SiMVC-CoMVC.md), else the metric's own column."""
    if rule == "mvc" and metric == "NMI" and params.get("nmi_average") == "geometric":
        return "NMI_geometric"
    return metric


def values_at(
    choice: Choice, runs: Sequence[RunHistory], metric: str, rule: str = "final"
) -> list[float]:
    """`metric` at each chosen (seed, epoch), as `rule` reports it (`score_column`)."""
    by_seed = {run.seed: run for run in runs}
    out = []
    for seed, epoch in zip(choice.seeds, choice.epochs, strict=True):
        run = by_seed[seed]
        history, column = run.history, score_column(rule, run.params, metric)
        hit = history.loc[history["epoch"] == epoch, column] if column in history else []
        out.append(float(hit.iloc[0]) if len(hit) else np.nan)
    return out


def missing_score(rule: str, runs: Sequence[RunHistory], metric: str) -> str | None:
    """Why `rule` has no `metric` for these runs: a history without the column it reads."""
    for run in runs:
        column = score_column(rule, run.params, metric)
        if column not in run.history:
            return (
                f"{run.name}: the run's history has no column {column!r}, which {rule!r} reports "
                f"{metric} from (histories written before the suite recorded it lack it: "
                "retrain the run)"
            )
    return None
