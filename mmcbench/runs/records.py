"""Run records: the JSON file one run writes (schema: mmcbench/schemas/run_record.schema.json).

One constructor (`run_record`) and one writer (`write_run`) for every kind of run, deep or
baseline: what differs between them is passed in (params, diagnostics, timing), the rest
(identity, health, provenance, the data block, the schema version) is filled in here.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import math
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mmcbench.core import atomic
from mmcbench.core.errors import RecordError
from mmcbench.runs import provenance
from mmcbench.runs.metrics import decimals

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from mmcbench.data.load import MultiViewData

SCHEMA_VERSION = 2  # 2: run health and study overrides (1 is still read)
METRICS = ("ACC", "NMI", "ARI", "ECE", "NLL", "Brier")


@functools.cache
def schema() -> dict[str, Any]:
    """The run-record JSON schema."""
    text = resources.files("mmcbench").joinpath("schemas/run_record.schema.json").read_text()
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


def _no_constant(name: str) -> float:
    raise ValueError(f"{name} is not a JSON number (records write null for a missing value)")


def read(path: str | Path) -> dict[str, Any]:
    """Read and validate a record (NaN and infinities, which JSON has not, are refused)."""
    try:
        record = json.loads(Path(path).read_text(), parse_constant=_no_constant)
    except (OSError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        raise RecordError(f"{path}: cannot read run record ({reason})") from None
    if not isinstance(record, dict):
        raise RecordError(f"{path}: a run record is a JSON object, not {type(record).__name__}")
    validate(record, str(path))
    return record


def unfinished_reason(path: str | Path, expected: Mapping[str, Any]) -> str | None:
    """Why the files at `path` are not a finished run of exactly `expected` (keys `method`,
    `variant`, `dataset`, `seed`, `params`, `overrides`, `source_sha256`, `content_sha256`),
    or None when they are: a valid record of the current schema, done or diverged, with those
    values, and its side files present. Such a run is kept rather than retrained
    (`--keep-finished`). A record without the data's content digest (written before it was
    recorded) matches only if the data file is older than the record."""
    path = Path(path)
    if not path.is_file():
        return "no record"
    try:
        record = read(path)
    except RecordError as exc:
        return str(exc)
    if record["schema_version"] != SCHEMA_VERSION:
        return f"record schema {record['schema_version']} (now {SCHEMA_VERSION})"
    if record["status"] not in ("done", "diverged", "stopped"):
        return f"status {record['status']}"
    wanted = json.loads(json.dumps(_finite(dict(expected)), allow_nan=False))
    found = {
        **{k: record.get(k) for k in ("method", "variant", "dataset", "seed", "params")},
        "overrides": record.get("overrides") or {},
        "source_sha256": record["data"]["source_sha256"],
        "content_sha256": record["data"].get("content_sha256"),
    }
    if found["content_sha256"] is None and "content_sha256" in wanted:
        data_file = Path(record["data"]["file"])
        if not data_file.is_file() or data_file.stat().st_mtime > path.stat().st_mtime:
            return f"the data may have changed since (no digest in the record; {data_file})"
        found["content_sha256"] = wanted["content_sha256"]
    for key, value in wanted.items():
        if key == "params":
            changed = sorted(
                k
                for k in set(value) | set(found["params"])
                if value.get(k, "∅") != found["params"].get(k, "∅")
            )
            if changed:
                return "its hyper-parameters differ (" + ", ".join(changed) + ")"
        elif found.get(key) != value:
            if key.endswith("sha256"):
                return f"its data differ ({key})"
            return f"its {key} is {found.get(key)!r}, asked {value!r}"
    history, embeddings = side_files(path)
    if not history.is_file():
        return f"{history} is missing"
    if record["diagnostics"].get("embeddings_file") and not embeddings.is_file():
        return f"{embeddings} is missing"
    return None


def outcome_text(record: Mapping[str, Any]) -> str:
    """A record's outcome for a log line: its scores when it has them (`ACC 91.2 NMI 84.0 …`,
    a metric it has none of left out), else the first line of why it did not finish."""
    metrics = record.get("metrics") or {}
    scores = [f"{m} {metrics[m]:.{decimals(m)}f}" for m in METRICS if metrics.get(m) is not None]
    if record.get("status") in ("done", "stopped") and scores:
        return " ".join(scores)
    return (record.get("error") or f"status {record.get('status')}, no scores").splitlines()[0]


def now() -> str:
    """UTC timestamp, ISO 8601."""
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def run_record(
    *,
    method: str,
    variant: str,
    data: MultiViewData,
    seed: int,
    status: str,
    error: str | None,
    params: Mapping[str, Any],
    metrics: Mapping[str, float | None] | None,
    labels: np.ndarray | None,
    loss: Mapping[str, Any] | None,
    diagnostics: Mapping[str, Any],
    started: str,
    wall_s: float,
    device: str,
    scaling: str,
    overrides: Mapping[str, Any] | None = None,
    timing: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The record of one finished run (not yet written). `labels` are the run's predicted
    clusters (its health is computed from them; None when it has none: diverged, error)."""
    from mmcbench.runs.health import run_health, unknown_health

    metrics = {m: (metrics or {}).get(m) for m in METRICS}
    health = (
        run_health(labels, data.n_clusters)
        if labels is not None and metrics["NMI"] is not None
        else unknown_health(data.n_clusters)
    )
    return {
        "schema_version": SCHEMA_VERSION,
        "method": method,
        "variant": variant,
        "dataset": data.name,
        "seed": int(seed),
        "status": status,
        "error": error,
        "params": dict(params),
        "overrides": dict(overrides or {}),
        "metrics": metrics,
        "health": health,
        "loss": None if loss is None else dict(loss),
        "diagnostics": dict(diagnostics),
        "time": {
            "wall_s": wall_s,
            "per_epoch_s": None,
            **(timing or {}),
            "started": started,
            "finished": now(),
        },
        "environment": provenance.environment(device=device),
        "data": {
            "file": data.path,
            "n_samples": data.n_samples,
            "n_clusters": data.n_clusters,
            "view_names": data.view_names,
            "source_sha256": data.source_sha256,
            "content_sha256": data.content_sha256(),
            "scaling": scaling,
        },
    }


def side_files(path: str | Path) -> tuple[Path, Path]:
    """The history (`<stem>.history.csv`) and embeddings (`<stem>.embeddings.npz`) files a deep
    run writes beside its record `<stem>.json`."""
    stem = Path(path).with_suffix("")
    return Path(f"{stem}.history.csv"), Path(f"{stem}.embeddings.npz")


def write_run(
    path: str | Path,
    record: dict[str, Any],
    history: pd.DataFrame | None = None,
    embeddings: Mapping[str, np.ndarray] | None = None,
) -> None:
    """Write a run's files, all atomically: its history (`<stem>.history.csv`) and embeddings
    (`<stem>.embeddings.npz`) when it has them, then the record, the completion marker, last
    (non-finite numbers become null: JSON has none).

    A run's files always belong to one run: the previous record at `path` (and a side file this
    run does not write) is removed first, so that a failure or a kill between the writes leaves
    new side files with no record (a run to redo), never an old record beside a new history."""
    import numpy as np

    history_path, embeddings_path = side_files(path)
    Path(path).unlink(missing_ok=True)
    for side, written in ((history_path, history), (embeddings_path, embeddings)):
        if written is None:
            side.unlink(missing_ok=True)
    if history is not None:
        with atomic.atomic_path(history_path) as tmp:
            history.to_csv(tmp, index=False)
        record["diagnostics"]["history_file"] = str(history_path)
    if embeddings is not None:
        with atomic.atomic_path(embeddings_path) as tmp, open(tmp, "wb") as fh:
            np.savez_compressed(fh, **embeddings)
        record["diagnostics"]["embeddings_file"] = str(embeddings_path)
    write(path, _finite(record))


def _finite(obj: Any) -> Any:
    """JSON has no NaN: non-finite floats become null."""
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_finite(v) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj
