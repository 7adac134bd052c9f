"""Linters the project holds itself to: ruff (check, format), snakefmt, snakemake --lint."""

from __future__ import annotations

import subprocess
import sys

import pytest


def run(args, repo):
    return subprocess.run(args, cwd=repo, capture_output=True, text=True)


@pytest.mark.parametrize("args", [["ruff", "check", "."], ["ruff", "format", "--check", "."]])
def test_ruff(repo, args):
    result = run([sys.executable, "-m", *args], repo)
    assert result.returncode == 0, result.stdout + result.stderr


def test_snakefmt(repo):
    result = run([sys.executable, "-m", "snakefmt", "--check", "Snakefile", "workflow"], repo)
    assert result.returncode == 0, result.stdout + result.stderr
