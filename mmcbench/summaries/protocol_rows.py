"""summary.csv's rows per selection protocol (`mmcbench.summaries.protocols`) of the deep
methods' cells.

`summarise` (mmcbench.summaries.aggregate) writes each cell's honest row (`protocol` final);
this adds, per deep cell, the row of the method's own paper's protocol (`paper`, its `rule`
named), of its second reading where the method declares one (`paper_bound`: GIB's and CLIB's
`best_epoch_best_run`, an upper bound) and of the label-free protocol (`label_free`), read
from the runs' histories, each with the chosen seed(s) and epoch(s). A cell whose histories
lack a column a protocol reads gets that row with no value and the reason in
`protocol_note` (and a warning in the log), never a made-up value.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mmcbench.core.csv_input import CsvProblem
from mmcbench.core.errors import RecordError, first_few
from mmcbench.planning import catalogue
from mmcbench.runs import records
from mmcbench.runs.health import is_collapsed
from mmcbench.summaries import protocols

log = logging.getLogger(__name__)

CELL_RUN = ["method", "variant", "dataset"]


def spelled(values: tuple[int, ...]) -> str:
    """Seeds or epochs as summary.csv spells them: space-separated."""
    return " ".join(str(v) for v in values)


def read_history(record: str | Path) -> pd.DataFrame:
    """The history beside a run record (`<stem>.history.csv`), checked against the record
    (`mmcbench.runs.histories`): ProtocolError when it is missing (the cell's protocol rows then
    say so), CsvProblem when it is not the record's."""
    import json

    from mmcbench.runs.histories import read_history as checked_history

    path = records.side_files(record)[0]
    if not path.is_file():
        raise protocols.ProtocolError(f"{record}: its history {path} is missing")
    return checked_history(path, json.loads(Path(record).read_text()))


def healthy_summary(values: np.ndarray) -> dict[str, float | int]:
    """Mean, std and n of the values of a cell's runs that did not collapse (those a
    calibration claim compares: a collapsed run's uniform assignments score an ECE near 0)."""
    return {
        "n_healthy": int(values.size),
        "mean_healthy": float(values.mean()) if values.size else np.nan,
        "std_healthy": float(values.std(ddof=1)) if values.size > 1 else np.nan,
    }


def _run_select_columns(method: str) -> dict[str, str]:
    """The `mvc` rule's run selection of `method`: its `run_select_loss` values → the history
    columns they name (`DeepMethod.run_select_columns` of its folder's entry)."""
    return dict(catalogue.get(method).run_select_columns)


def _params(row: pd.Series) -> dict[str, Any]:
    return {k[2:]: v for k, v in row.items() if k.startswith("p_") and not _missing(v)}


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value))


def protocol_rows(
    runs: pd.DataFrame,
    setting: list[str],
    reader: Callable[[str | Path], pd.DataFrame] = read_history,
) -> pd.DataFrame:
    """The `final`, `paper`, `paper_bound` (a method with a second reading of its paper's
    rule) and `label_free` rows of every deep cell of runs.csv (`setting`: the columns that
    tell grid and study points apart)."""
    deep = runs[runs["method"].isin(catalogue.deep_methods())]
    deep = deep[deep["status"].isin(["done", "stopped"])]
    per_run = deep.drop_duplicates("record")
    rows: list[dict[str, Any]] = []
    notes: list[str] = []
    refused: list[str] = []  # histories that are not their records'
    for key, group in per_run.groupby(CELL_RUN + setting, sort=True, dropna=False):
        cell = dict(zip(CELL_RUN + setting, key, strict=True))
        method = cell["method"]
        try:
            histories = [
                protocols.RunHistory(int(r["seed"]), reader(r["record"]), _params(r), r["record"])
                for _, r in group.sort_values("seed").iterrows()
            ]
        except protocols.ProtocolError as exc:
            histories, note = [], str(exc)
        except CsvProblem as exc:
            refused.append(str(exc))
            continue
        else:
            note = None
        entry = catalogue.get(method)
        rules = {"final": "final", "paper": entry.paper_protocol}
        if entry.paper_bound:
            rules["paper_bound"] = entry.paper_bound
        rules["label_free"] = "label_free"
        for name, rule in rules.items():
            choice, why = None, note
            if histories:
                try:
                    choice = protocols.choose(
                        rule,
                        histories,
                        catalogue.paper_seed(method, cell["dataset"]),
                        entry.label_free_column,
                        _run_select_columns(method),
                    )
                except protocols.ProtocolError as exc:
                    why = str(exc)
            if why is not None:
                notes.append(f"{method} {cell['variant']} on {cell['dataset']}, {name}: {why}")
            k = int(group["n_clusters"].iloc[0])
            rows += _metric_rows(cell, name, rule, choice, histories, why, len(group), k)
    if refused:
        raise RecordError(
            f"{len(refused)} run history file(s) cannot be aggregated: {first_few(refused)}. "
            "Nothing was written."
        )
    if notes:
        log.warning(
            "%d protocol row(s) of summary.csv have no value (their reason is in column "
            "protocol_note), e.g. %s",
            len(notes),
            notes[0],
        )
    return pd.DataFrame(rows)


def _collapsed_at(
    choice: protocols.Choice | None, histories: list[protocols.RunHistory], n_clusters: int
) -> np.ndarray:
    """Per chosen (seed, epoch): collapsed there (`mmcbench.runs.health`, from the history's
    `clusters_effective`; a history without it tells only a one-cluster epoch)."""
    if not choice:
        return np.zeros(0, dtype=bool)
    effective = protocols.values_at(choice, histories, "clusters_effective")
    used = protocols.values_at(choice, histories, "clusters")
    return np.array(
        [
            bool(is_collapsed(None if np.isnan(e) else e, n_clusters, None if np.isnan(u) else u))
            for e, u in zip(effective, used, strict=True)
        ],
        dtype=bool,
    )


def _metric_rows(
    cell: dict[str, Any],
    protocol: str,
    rule: str,
    choice: protocols.Choice | None,
    histories: list[protocols.RunHistory],
    note: str | None,
    n_runs: int,
    n_clusters: int,
) -> list[dict[str, Any]]:
    out = []
    clusters = np.array(protocols.values_at(choice, histories, "clusters") if choice else [])
    collapsed = _collapsed_at(choice, histories, n_clusters)
    for metric in records.METRICS:
        values = np.array(protocols.values_at(choice, histories, metric, rule) if choice else [])
        why = note or (protocols.missing_score(rule, histories, metric) if choice else None)
        known = values[~np.isnan(values)] if values.size else values
        healthy = values[~np.isnan(values) & ~collapsed] if values.size else values
        out.append(
            {
                **cell,
                "metric": metric,
                "protocol": protocol,
                "rule": rule,
                "n": int(known.size),
                "n_runs": n_runs,
                "mean": float(known.mean()) if known.size else np.nan,
                "std": float(known.std(ddof=1)) if known.size > 1 else np.nan,
                "median": float(np.median(known)) if known.size else np.nan,
                "min": float(known.min()) if known.size else np.nan,
                "max": float(known.max()) if known.size else np.nan,
                "n_collapsed": int(collapsed.sum()),
                **healthy_summary(healthy),
                "clusters_used_mean": float(np.nanmean(clusters))
                if clusters.size and not np.isnan(clusters).all()
                else np.nan,
                "seeds": spelled(choice.seeds) if choice else "",
                "epochs": spelled(choice.epochs) if choice else "",
                "uses_labels": protocols.uses_labels(rule),
                "protocol_note": why or "",
            }
        )
    return out
