"""Pieces every command group shares: seed values and printing lines to a closed pipe."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

log = logging.getLogger("mmcbench")


SEED_MAX = 2**32 - 1  # NumPy's and torch's generators take seeds 0…2³²−1


def seed_value(text: str) -> int:
    """An argparse type: a seed in 0…2³²−1."""
    try:
        seed = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if not 0 <= seed <= SEED_MAX:
        raise argparse.ArgumentTypeError(f"{seed} is outside 0…{SEED_MAX}")
    return seed


SIGPIPE_STATUS = 141  # 128 + SIGPIPE: how a shell reports a writer whose reader went away


def print_lines(lines: Sequence[str]) -> int:
    """Print `lines` to stdout; 0, or SIGPIPE_STATUS, quietly, when the reader of a pipe has
    gone (`mmcbench datasets | head -1`): no error paragraph, no traceback, and stdout is
    pointed at /dev/null so that Python's flush at exit does not complain either."""
    import os

    try:
        for line in lines:
            print(line)
        sys.stdout.flush()
    except BrokenPipeError:
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            os.close(devnull)
        except (OSError, ValueError):  # stdout without a file descriptor (captured)
            pass
        return SIGPIPE_STATUS
    return 0
