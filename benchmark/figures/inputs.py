"""Reading the CSV files figures are drawn from, with one clear error naming the file."""

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
) -> pd.DataFrame:
    """`path` as a DataFrame; `if_empty` for a file with no data (else that is an error too).

    Raises MmcbenchError naming the file when it cannot be read or lacks a required column.
    """
    try:
        frame = pd.read_csv(path)
    except pd.errors.EmptyDataError as exc:
        if if_empty is not None:
            return if_empty
        raise MmcbenchError(f"{path}: cannot read the {what} ({exc})") from exc
    except (OSError, pd.errors.ParserError) as exc:
        raise MmcbenchError(f"{path}: cannot read the {what} ({exc})") from exc
    if missing := set(required) - set(frame.columns):
        raise MmcbenchError(f"{path}: not a {what}, missing columns {sorted(missing)}")
    return frame
