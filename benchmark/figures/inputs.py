"""Reading the files figures are drawn from (CSVs, the run records beside side files), with one
clear error naming the file."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd

from benchmark.errors import MmcbenchError


def read_csv(
    path: str | Path,
    what: str,
    required: Iterable[str] = (),
    if_empty: pd.DataFrame | None = None,
    text_columns: Iterable[str] = (),
) -> pd.DataFrame:
    """`path` as a DataFrame; `if_empty` for a file with no data (else that is an error too).
    `text_columns` are read as text, never as missing values ("null", "NA" are values there).

    Raises MmcbenchError naming the file when it cannot be read or lacks a required column.
    """
    try:
        frame = pd.read_csv(path)
        text = [c for c in text_columns if c in frame.columns]
        if text and not frame.empty:
            raw = pd.read_csv(path, usecols=text, dtype=str, keep_default_na=False)
            frame[text] = raw[text]
    except pd.errors.EmptyDataError as exc:
        if if_empty is not None:
            return if_empty
        raise MmcbenchError(f"{path}: cannot read the {what} ({exc})") from exc
    except (OSError, pd.errors.ParserError) as exc:
        raise MmcbenchError(f"{path}: cannot read the {what} ({exc})") from exc
    if missing := set(required) - set(frame.columns):
        raise MmcbenchError(f"{path}: not a {what}, missing columns {sorted(missing)}")
    return frame


# What a run record says about the run a side file (history, embeddings) belongs to.
IDENTITY = ("method", "variant", "dataset", "alpha", "beta", "overrides")


def record_beside(side_file: str | Path, suffix: str) -> Path:
    """The run record `<stem>.json` beside a side file `<stem><suffix>` (records.side_files)."""
    return Path(str(side_file).removesuffix(suffix) + ".json")


def read_record_beside(side_file: str | Path, suffix: str) -> dict[str, Any] | None:
    """The record beside a side file, None if there is none; one clear error if unreadable."""
    path = record_beside(side_file, suffix)
    if not str(side_file).endswith(suffix) or not path.is_file():
        return None
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise MmcbenchError(
            f"{path}: cannot read the run record beside {side_file} ({exc})"
        ) from exc
    if not isinstance(record, dict):
        raise MmcbenchError(f"{path}: not a run record (the record beside {side_file})")
    return record


def run_identity(record: dict[str, Any] | None) -> dict[str, Any]:
    """Method, variant, dataset, α, β and overrides of a run by its record (None where the
    record, or its absence, does not say)."""
    record = record or {}
    params = record.get("params") if isinstance(record.get("params"), dict) else {}
    overrides = record.get("overrides")
    return {
        "method": record.get("method"),
        "variant": record.get("variant"),
        "dataset": record.get("dataset"),
        "alpha": params.get("alpha"),
        "beta": params.get("beta"),
        "overrides": json.dumps(overrides, sort_keys=True) if overrides is not None else None,
    }


def same_value(a: Any, b: Any) -> bool:
    """Equal, numbers up to rounding."""
    numbers = (int, float)
    if isinstance(a, numbers) and isinstance(b, numbers):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
    return a == b


def differing(values: list[tuple[Path | str, Any]]) -> str | None:
    """ "file (value), …" when the known (not None) values differ, else None."""
    known = [(p, v) for p, v in values if v is not None]
    if known and any(not same_value(v, known[0][1]) for _, v in known):
        return ", ".join(f"{p} ({v})" for p, v in known)
    return None
