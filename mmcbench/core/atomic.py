"""Atomic file writes: a temporary file in the target's folder, then one rename.

A reader (or Snakemake) never sees a half-written output, and a crash leaves no partial file.
A kill between write and rename can leave a hidden `.<name>.XXXXXXXX.tmp`: the next write of
the same target removes such stale temporaries (one writer per output, as under Snakemake).
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import re
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside `target`; rename it onto `target` if the block succeeds."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(target)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the usual permissions
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def _temporary_pattern(target: Path) -> re.Pattern[str]:
    # mkstemp's names: prefix, 8 characters of [a-z0-9_], suffix (so `.a.b.X.tmp`, a temporary
    # of target `a.b`, is not taken for one of target `a`).
    return re.compile(rf"\.{re.escape(target.name)}\.[a-z0-9_]{{8}}\.tmp")


def remove_stale_temporaries(target: str | os.PathLike[str]) -> list[Path]:
    """Delete temporaries of `target` left by a killed writer; return what was removed."""
    target = Path(target)
    pattern = _temporary_pattern(target)
    removed = []
    with contextlib.suppress(FileNotFoundError):
        for entry in os.scandir(target.parent):
            if entry.is_file(follow_symlinks=False) and pattern.fullmatch(entry.name):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(entry.path)
                    removed.append(Path(entry.path))
    return removed


def check_writable(target: str | os.PathLike[str]) -> None:
    """Before any compute: `target` can be written (its folder exists or can be made, a file can
    be created there, and the target is not a folder). OSError → MmcbenchError naming the path."""
    from mmcbench.core.errors import MmcbenchError

    target = Path(target)
    if target.is_dir():
        raise MmcbenchError(f"{target}: is a folder, cannot write an output file there")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise MmcbenchError(
            f"cannot write {target}: {exc.strerror or exc} "
            f"({exc.filename or target.parent}); nothing was computed"
        ) from exc


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_text(target: str | os.PathLike[str], text: str) -> None:
    """Write `text` to `target` atomically."""
    with atomic_path(target) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json(target: str | os.PathLike[str], obj: Any) -> None:
    """Write `obj` as indented JSON to `target` atomically."""
    write_text(target, json.dumps(obj, indent=2, sort_keys=False, allow_nan=False) + "\n")


def store_rows(
    path: Path, rows: list[dict], fields: Sequence[str], key: Callable[[dict], tuple] | None = None
) -> None:
    """Add `rows` to the CSV at `path` (kept rows with the same `key` are replaced; no key:
    appended), written atomically. The benchmark scripts store their measurements this way."""
    kept = []
    if path.is_file():
        with path.open(newline="") as f:
            kept = list(csv.DictReader(f))
    if key is not None:
        new = {key(r) for r in rows}
        kept = sorted([r for r in kept if key(r) not in new] + rows, key=key)
    else:
        kept += rows
    with atomic_path(path) as tmp, tmp.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        writer.writerows(kept)
