"""Reading the files figures are drawn from (CSVs, the run records beside side files), with one
clear error naming the file."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from mmcbench.core.errors import MmcbenchError

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
