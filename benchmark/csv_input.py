"""Reading the suite's CSV files (summaries, rendered tables, timings) with one clear error
naming the file: used by tables, the resolution study, the claims and the figures."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

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
