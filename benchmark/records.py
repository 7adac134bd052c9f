"""Run records: the JSON file one run writes (schema: benchmark/schemas/run_record.schema.json)."""

from __future__ import annotations

import datetime as dt
import functools
import json
from importlib import resources
from pathlib import Path
from typing import Any

from benchmark import atomic
from benchmark.errors import RecordError

SCHEMA_VERSION = 2  # 2: run health and study overrides (1 is still read)
METRICS = ("ACC", "NMI", "ARI", "ECE")


@functools.cache
def schema() -> dict[str, Any]:
    """The run-record JSON schema."""
    text = resources.files("benchmark").joinpath("schemas/run_record.schema.json").read_text()
    return json.loads(text)


def validate(record: dict[str, Any], where: str = "run record") -> None:
    """Raise RecordError naming the first schema violation."""
    import jsonschema

    validator = jsonschema.Draft202012Validator(schema())
    error = jsonschema.exceptions.best_match(validator.iter_errors(record))
    if error is not None:
        path = "/".join(str(p) for p in error.absolute_path) or "(top level)"
        raise RecordError(f"{where}: invalid at {path}: {error.message}")


def write(path: str | Path, record: dict[str, Any]) -> None:
    """Validate and write a record atomically."""
    validate(record, str(path))
    atomic.write_json(path, record)


def read(path: str | Path) -> dict[str, Any]:
    """Read and validate a record."""
    try:
        record = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise RecordError(f"{path}: cannot read run record ({exc})") from exc
    validate(record, str(path))
    return record


def now() -> str:
    """UTC timestamp, ISO 8601."""
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
