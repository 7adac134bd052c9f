"""Reading the suite's CSV files (summaries, rendered tables, histories, coordinates, published
numbers) with the checks a run record gets: every file through `read_csv`, which names the file,
the line and the column of the first problem in one clear error.

A file's `Columns` say what its columns hold: text, whole numbers, numbers (finite, or empty
where a value may be missing), scores in the range of their metric (ACC, NMI, ECE 0…100, ARI
−100…100: the record schema's), spreads (≥ 0), flags, and the columns that identify a row (a
second row with the same identity is refused: no "first one wins"). The schemas of the files the
suite writes are here, beside the reader: SUMMARY, TABLE, HISTORY, TSNE, PUBLISHED, STUDY.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from mmcbench.core.errors import MmcbenchError
from mmcbench.runs import records

# Each metric's range, as the run-record schema states it (one place).
METRIC_RANGES = {
    metric: (float(rule["minimum"]), float(rule["maximum"]))
    for metric, rule in records.schema()["properties"]["metrics"]["properties"].items()
}
SCORE_RANGES = ", ".join(f"{m} {lo:g}…{hi:g}" for m, (lo, hi) in METRIC_RANGES.items())


@dataclass(frozen=True)
class Columns:
    """What the columns of one kind of CSV hold (a column listed but absent is not checked:
    `required` says which must be there).

    `scores`: numbers in their metric's range, the metric named by the row's `metric` column,
    or by the column's own name when `metric` is None (a history's ACC). `spreads`: numbers ≥ 0
    no wider than the metric's range. `bounded`: numbers within (low, high). `integers`: whole
    numbers ≥ 0. `numbers`: any other finite numbers. `other_numbers`: every column named
    nowhere else holds numbers, which may be ±inf (a history's loss terms: a loss evaluated in
    eval mode can be infinite). `key`: the columns that identify a row (duplicates refused; a
    key column a file does not have is left out of the key)."""

    text: tuple[str, ...] = ()
    numbers: tuple[str, ...] = ()
    integers: tuple[str, ...] = ()
    scores: tuple[str, ...] = ()
    spreads: tuple[str, ...] = ()
    bounded: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    flags: tuple[str, ...] = ()
    key: tuple[str, ...] = ()
    metric: str | None = "metric"
    other_numbers: bool = False


class CsvProblem(MmcbenchError):
    """A CSV the suite reads is not what it should be (the message names file, line, column)."""


def distinct_paths(paths: Iterable[str | Path], command: str, option: str) -> list[Path]:
    """The files an option names, each once: a file named twice (or by two spellings, or a copy
    with the same bytes) is refused, as it would be counted twice."""
    import hashlib

    seen: dict[object, Path] = {}
    out = []
    for raw in paths:
        path = Path(raw)
        keys: list[object] = [path.resolve()]
        if path.is_file():
            keys.append(hashlib.sha256(path.read_bytes()).hexdigest())
        for key in keys:
            if key in seen:
                how = "the same file" if isinstance(key, Path) else "a copy of the same bytes"
                raise MmcbenchError(
                    f"{command}: {option} names {seen[key]} and {path}, {how}: each file is "
                    "counted once; give it once"
                )
        seen.update(dict.fromkeys(keys, path))
        out.append(path)
    return out


def read_csv(
    path: str | Path,
    what: str,
    required: Iterable[str] = (),
    if_empty: pd.DataFrame | None = None,
    columns: Columns | None = None,
) -> pd.DataFrame:
    """`path` as a DataFrame, checked by `columns`; `if_empty` for a file with no data (else
    that is an error too). The text columns (`columns.text`) are read as text,
    never as missing values ("null", "NA" are values there).

    Raises CsvProblem naming the file (and the line and column) when it cannot be read, lacks a
    required column, or holds a value its column cannot hold."""
    text_columns = columns.text if columns else ()
    try:
        frame = pd.read_csv(path)
        text = [c for c in dict.fromkeys(text_columns) if c in frame.columns]
        if text and not frame.empty:
            raw = pd.read_csv(path, usecols=text, dtype=str, keep_default_na=False)
            frame[text] = raw[text]
    except pd.errors.EmptyDataError as exc:
        if if_empty is not None:
            return if_empty
        raise CsvProblem(f"{path}: cannot read the {what} ({exc})") from exc
    except UnicodeDecodeError:
        raise CsvProblem(f"{path}: cannot read the {what}: not a text file") from None
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        raise CsvProblem(f"{path}: cannot read the {what} ({exc})") from exc
    if missing := [c for c in dict.fromkeys(required) if c not in frame.columns]:
        raise CsvProblem(f"{path}: not a {what}, missing columns {missing}")
    if frame.empty and if_empty is None and columns is not None:
        raise CsvProblem(f"{path}: the {what} has no rows")
    if columns is not None:
        check_frame(frame, columns, f"{path}: the {what}")
    return frame


def check_frame(frame: pd.DataFrame, columns: Columns, where: str) -> None:
    """Check (and convert to numbers, in place) the columns of `frame` as `columns` says;
    CsvProblem naming `where`, the line and the column otherwise."""
    present = set(frame.columns)
    finite = {
        *columns.numbers,
        *columns.integers,
        *columns.scores,
        *columns.spreads,
        *columns.bounded,
    }
    rest = present - finite - set(columns.text) - set(columns.flags)
    for column in frame.columns:
        if column in finite or (columns.other_numbers and column in rest):
            frame[column] = _numbers(frame[column], column, where, infinite=column in rest)
    if columns.metric in present and (columns.scores or columns.spreads):
        names = frame[columns.metric]
        bad = names.notna() & ~names.isin(list(METRIC_RANGES))
        _refuse(frame, bad, columns.metric, where, f"one of {', '.join(METRIC_RANGES)}")
    for column in [c for c in columns.integers if c in present]:
        values = frame[column]
        bad = values.notna() & ((values < 0) | (values != values.round()))
        _refuse(frame, bad, column, where, "a whole number ≥ 0")
    for column, (low, high) in columns.bounded.items():
        if column in present:
            values = frame[column]
            bad = values.notna() & ((values < low) | (values > high))
            _refuse(frame, bad, column, where, f"a number in {low:g}…{high:g}")
    for column in [c for c in columns.scores if c in present]:
        low, high = _ranges(frame, column, columns.metric)
        values = frame[column]
        bad = values.notna() & ((values < low) | (values > high))
        _refuse(frame, bad, column, where, f"a score in the range of its metric ({SCORE_RANGES})")
    for column in [c for c in columns.spreads if c in present]:
        low, high = _ranges(frame, column, columns.metric)
        values = frame[column]
        bad = values.notna() & ((values < 0) | (values > high - low))
        _refuse(frame, bad, column, where, "a spread: ≥ 0 and no wider than its metric's range")
    for column in [c for c in columns.flags if c in present]:
        text = frame[column].astype(str).str.strip().str.lower()
        bad = frame[column].notna() & ~text.isin(["true", "false", "", "nan", "none"])
        _refuse(frame, bad, column, where, "True or False")
    if key := [c for c in columns.key if c in present]:
        duplicated = frame.duplicated(subset=key, keep=False)
        if duplicated.any():
            lines = [int(i) + 2 for i in frame.index[duplicated][:4]]
            raise CsvProblem(
                f"{where}: lines {', '.join(map(str, lines))} are one row twice (the same "
                f"{', '.join(key)}): a row is there once; fix or remove the copies"
            )


def _numbers(values: pd.Series, column: str, where: str, infinite: bool) -> pd.Series:
    """`values` as floats: a non-empty value that is no number, or an infinity where the column
    may not hold one, is refused (empty = missing)."""
    if values.dtype == bool:
        return values.astype(float)
    numbers = pd.to_numeric(values, errors="coerce")
    given = values.notna() & (values.astype(str).str.strip() != "")
    not_numbers = given & numbers.isna() & ~values.astype(str).str.strip().str.lower().isin(["nan"])
    if not_numbers.any():
        i = numbers.index[not_numbers][0]
        raise CsvProblem(
            f"{where}: line {int(i) + 2}, column {column}: {_shown(values[i])} is not a number"
        )
    numbers = numbers.astype(float)
    if not infinite and np.isinf(numbers).any():
        i = numbers.index[np.isinf(numbers)][0]
        raise CsvProblem(
            f"{where}: line {int(i) + 2}, column {column}: {_shown(values[i])} is not a finite "
            "number"
        )
    return numbers


def _ranges(frame: pd.DataFrame, column: str, metric: str | None) -> tuple[pd.Series, pd.Series]:
    """Per row the (low, high) range of the metric of `column`."""
    if metric is None or metric not in frame.columns:
        low, high = METRIC_RANGES.get(column, (-np.inf, np.inf))
        return pd.Series(low, index=frame.index), pd.Series(high, index=frame.index)
    names = frame[metric]
    low = names.map(lambda m: METRIC_RANGES.get(m, (-np.inf, np.inf))[0]).astype(float)
    high = names.map(lambda m: METRIC_RANGES.get(m, (-np.inf, np.inf))[1]).astype(float)
    return low, high


def _refuse(frame: pd.DataFrame, bad: pd.Series, column: str, where: str, expected: str) -> None:
    if bad.any():
        i = frame.index[bad][0]
        shown = _shown(frame.at[i, column])
        raise CsvProblem(f"{where}: line {int(i) + 2}, column {column}: {shown} is not {expected}")


def _shown(value: object) -> str:
    """A cell's value in a message: a number as %g, text quoted."""
    if isinstance(value, int | float | np.number) and not isinstance(value, bool):
        return f"{float(value):g}"
    return repr(value)


# ------------------------------------------------------------ the CSVs the suite writes
# summary.csv and grid.csv (mmcbench.summaries.aggregate): one row per cell and protocol.
SUMMARY = Columns(
    text=(
        "method",
        "variant",
        "dataset",
        "metric",
        "view_name",
        "overrides",
        "protocol",
        "rule",
        "seeds",
        "epochs",
        "protocol_note",
        "loss_name",
    ),
    integers=(
        "n",
        "n_runs",
        "n_diverged",
        "n_stopped",
        "n_error",
        "n_collapsed",
        "n_healthy",
        "label_selected_seed",
        "loss_selected_seed",
    ),
    scores=("mean", "median", "min", "max", "mean_healthy", "label_selected", "loss_selected"),
    spreads=("std", "std_healthy"),
    numbers=("p_alpha", "p_beta"),
    bounded={"clusters_used_mean": (0, np.inf), "wall_s_mean": (0, np.inf)},
    flags=("uses_labels",),
    key=("method", "variant", "dataset", "metric", "p_alpha", "p_beta", "overrides", "protocol"),
)
# A rendered table's long CSV (mmcbench.report.tables.comparison): what claims and figures read.
TABLE = Columns(
    text=(
        "paper",
        "paper_table",
        "dataset",
        "label",
        "reading",
        "method",
        "variant",
        "view_name",
        "metric",
        "protocol_rule",
        "protocol_seeds",
        "protocol_epochs",
        "protocol_note",
        "bound_rule",
        "label_free_epochs",
        "verdict_on",
    ),
    integers=(
        "n",
        "n_runs",
        "n_failed",
        "n_stopped",
        "n_collapsed",
        "n_healthy",
        "protocol_n",
        "protocol_n_collapsed",
        "protocol_n_healthy",
        "label_selected_seed",
        "loss_selected_seed",
        "rank",
        "published_rank",
    ),
    scores=(
        "published",
        "mean",
        "protocol_mean",
        "mean_healthy",
        "protocol_mean_healthy",
        "label_free_mean",
        "bound_mean",
        "verdict_value",
        "label_selected",
        "loss_selected",
    ),
    spreads=("std", "std_healthy", "protocol_std", "label_free_std", "bound_std"),
    numbers=("selection_gain", "bound_gain", "delta", "delta_honest"),
    bounded={"clusters_used_mean": (0, np.inf)},
    flags=("reproduced", "reproduced_honest"),
    key=("paper", "paper_table", "dataset", "label", "metric"),
)
# A run's history (mmcbench.training.loop): one row per epoch, every column a number.
HISTORY = Columns(
    integers=("epoch", "clusters", "stage"),
    scores=("ACC", "NMI", "ARI", "ECE", "NLL", "Brier"),
    bounded={"NMI_geometric": (0, 100), "clusters_effective": (1, np.inf)},
    metric=None,
    other_numbers=True,
    key=("epoch",),
)
# t-SNE coordinates (mmcbench tsne).
TSNE = Columns(integers=("epoch", "sample", "label"), numbers=("x", "y"), key=("epoch", "sample"))
# The papers' numbers (mmcbench/data/published.csv, or --published).
PUBLISHED = Columns(
    text=("paper", "table", "dataset", "method", "metric"),
    scores=("value",),
    key=("paper", "table", "dataset", "method", "metric"),
)
# GIB's printed "Ours vs Best Compared" row (mmcbench/data/published_printed.csv): margins.
PRINTED = Columns(
    text=("paper", "table", "dataset", "metric"),
    numbers=("value",),
    key=("paper", "table", "dataset", "metric"),
)
# The resolution study's summary (mmcbench.summaries.resolutions).
STUDY = Columns(
    text=("method", "variant", "dataset", "key", "value", "metric", "status", "note"),
    integers=("n", "n_runs", "n_failed", "n_collapsed", "default_n"),
    scores=("mean", "default_mean"),
    spreads=("std", "default_std"),
    numbers=("delta",),
    bounded={"clusters_used_mean": (0, np.inf)},
    key=("method", "variant", "dataset", "key", "value", "metric"),
)
