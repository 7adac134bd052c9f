"""Errors that reach the user as one clear paragraph (no traceback)."""

from __future__ import annotations

import sys
from collections.abc import Callable


class MmcbenchError(Exception):
    """Base class: the CLI prints the message and exits with status 2."""


class DataError(MmcbenchError):
    """A dataset file is missing, corrupt, or not what the registry says."""


class ConfigError(MmcbenchError):
    """The workflow configuration is invalid."""


class RecordError(MmcbenchError):
    """A run record does not follow the record schema."""


def first_few(problems: list[str], shown: int = 5) -> str:
    """Problems joined for one message: the first `shown`, and how many more."""
    more = len(problems) - shown
    return "; ".join(problems[:shown]) + (f"; and {more} more" if more > 0 else "")


def user_error(exc: BaseException) -> str | None:
    """The paragraph of an error that is the user's to fix (MmcbenchError; an OSError of a file
    they named: disk full, permissions), None for any other exception (a bug: a traceback)."""
    if isinstance(exc, MmcbenchError):
        return str(exc)
    if isinstance(exc, OSError):
        where = " → ".join(str(f) for f in (exc.filename, exc.filename2) if f) or "a file"
        return (
            f"{where}: {exc.strerror or exc} (errno {exc.errno}); outputs are written "
            "atomically, so none is half written."
        )
    return None


def run_script(name: str, main: Callable[[], object]) -> None:
    """Run a script's `main` (benchmarks/): a user's mistake ends it with one paragraph and
    exit status 2, as the `mmcbench` command does."""
    try:
        main()
    except (MmcbenchError, OSError) as exc:
        print(f"{name}: error: {user_error(exc)}", file=sys.stderr)
        sys.exit(2)
