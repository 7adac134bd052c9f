"""What a run records about where and with what it ran: versions, git commit, host, device."""

from __future__ import annotations

import functools
import os
import platform
import socket
import subprocess
from importlib import metadata
from pathlib import Path

import mmcbench

PACKAGES = ("numpy", "scipy", "scikit-learn", "pandas", "h5py", "torch", "pooch")


def package_versions() -> dict[str, str | None]:
    """Installed versions of the packages that can change a result (None if absent)."""
    versions: dict[str, str | None] = {"python": platform.python_version()}
    versions["mmcbench"] = mmcbench.__version__
    for name in PACKAGES:
        versions[name] = _version(name)
    return versions


@functools.cache
def git_state() -> dict[str, str | bool | None]:
    """Commit of the suite's checkout and whether it has uncommitted changes (None outside git)."""
    root = Path(mmcbench.__file__).resolve().parent.parent
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


@functools.cache
def cpu_model() -> str:
    """The CPU's model name (from /proc/cpuinfo on Linux, else the platform's processor)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def environment(device: str) -> dict[str, object]:
    """The provenance block of a run record."""
    git = git_state()
    return {
        "device": device,
        "hostname": socket.gethostname(),
        "platform": platform.platform(),
        "cpu": cpu_model(),
        "slurm_job_id": os.environ.get("SLURM_JOB_ID"),
        "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"),
        "git_commit": git["commit"],
        "git_dirty": git["dirty"],
        "versions": package_versions(),
    }


def system_report() -> dict[str, object]:
    """What a bug report needs: versions, platform, CPU, threads, CUDA and its devices."""
    import torch

    cuda = torch.cuda.is_available()
    report: dict[str, object] = {
        "mmcbench": mmcbench.__version__,
        "versions": package_versions()
        | {name: _version(name) for name in ("snakemake", "matplotlib", "seaborn", "jsonschema")},
        "platform": platform.platform(),
        "cpu": cpu_model(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "cuda_available": cuda,
        "cuda_version": torch.version.cuda,
        "cudnn_version": torch.backends.cudnn.version() if cuda else None,
        "gpus": [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
        if cuda
        else [],
        "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"),
        "git": git_state(),
    }
    return report


def _version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None
