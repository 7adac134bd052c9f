"""What a run records about where and with what it ran: versions, git commit, host, device."""

from __future__ import annotations

import functools
import os
import platform
import socket
import subprocess
from importlib import metadata
from pathlib import Path

import benchmark

PACKAGES = ("numpy", "scipy", "scikit-learn", "pandas", "h5py", "torch", "pooch")


def package_versions() -> dict[str, str | None]:
    """Installed versions of the packages that can change a result (None if absent)."""
    versions: dict[str, str | None] = {"python": platform.python_version()}
    versions["mmcbench"] = benchmark.__version__
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


@functools.cache
def git_state() -> dict[str, str | bool | None]:
    """Commit of the suite's checkout and whether it has uncommitted changes (None outside git)."""
    root = Path(benchmark.__file__).resolve().parent.parent
    try:
        commit = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}
    return {"commit": commit, "dirty": bool(dirty)}


def environment(device: str) -> dict[str, object]:
    """The provenance block of a run record."""
    git = git_state()
    return {
        "device": device,
        "hostname": socket.gethostname(),
        "platform": platform.platform(),
        "slurm_job_id": os.environ.get("SLURM_JOB_ID"),
        "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"),
        "git_commit": git["commit"],
        "git_dirty": git["dirty"],
        "versions": package_versions(),
    }
