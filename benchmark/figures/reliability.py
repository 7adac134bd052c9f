"""Reliability diagrams: accuracy against confidence per bin, one panel per method.

Each run's saved final soft assignments (`assignments_final` in its embeddings file) are binned
exactly as `benchmark.metrics.ece` bins them (Hungarian-mapped columns, top-1 confidence, 15
bins); the bins of a method's seeds are pooled. A panel's title gives the ECE of the pooled
bins and the mean ± std of the per-seed ECE (what the tables report).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from benchmark import atomic
from benchmark.errors import MmcbenchError
from benchmark.metrics import ECE_BINS, CalibrationBins, calibration_bins


def load_assignments(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """(labels, final soft assignments) saved by a deep run."""
    try:
        with np.load(path) as saved:
            return saved["labels"], saved["assignments_final"].astype(np.float64)
    except (OSError, KeyError, ValueError) as exc:
        raise MmcbenchError(
            f"{path}: not a run's embeddings file with 'labels' and 'assignments_final' ({exc})"
        ) from exc


def pooled_bins(paths: Sequence[str | Path]) -> tuple[CalibrationBins, list[float]]:
    """Bins pooled over runs, and each run's own ECE."""
    pooled, per_run = None, []
    for path in paths:
        bins = calibration_bins(*load_assignments(path))
        per_run.append(bins.ece())
        pooled = bins if pooled is None else pooled + bins
    if pooled is None:
        raise MmcbenchError("reliability: no embeddings files given")
    return pooled, per_run


def _panel(ax: plt.Axes, method: str, bins: CalibrationBins, per_run: list[float]) -> None:
    width = 1.0 / ECE_BINS
    centres = (np.arange(ECE_BINS) + 0.5) * width
    counts = bins.counts[:ECE_BINS].copy()
    # Confidence exactly 1.0 has a slot of its own in the ECE; drawn with the last bin.
    counts[-1] += bins.counts[ECE_BINS]
    correct = bins.correct[:ECE_BINS].copy()
    correct[-1] += bins.correct[ECE_BINS]
    filled = counts > 0
    acc = np.divide(correct, counts, out=np.zeros_like(correct), where=filled)
    ax.bar(centres[filled], acc[filled], width=width, edgecolor="black", label="accuracy")
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfect calibration")
    share = counts / counts.sum()
    ax.bar(
        centres, share, width=width * 0.4, color="tab:orange", alpha=0.6, label="share of samples"
    )
    std = f" ± {np.std(per_run, ddof=1):.1f}" if len(per_run) > 1 else ""
    ax.set_title(
        f"{method}: ECE {bins.ece():.1f} pooled; {np.mean(per_run):.1f}{std} per seed "
        f"(n = {len(per_run)})",
        fontsize=9,
    )
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("confidence (top-1 probability)")
    ax.set_ylabel("accuracy")
    ax.legend(loc="upper left", fontsize=7)


def reliability_figure(dataset: str, runs: Mapping[str, Sequence[str | Path]], out: Path) -> None:
    """One panel per method (name → embeddings files of its seeds), written atomically."""
    if not runs:
        raise MmcbenchError(f"reliability: no runs given for {dataset}")
    fig, axes = plt.subplots(1, len(runs), figsize=(4.2 * len(runs), 4.2), squeeze=False)
    for ax, (method, paths) in zip(axes[0], runs.items(), strict=True):
        _panel(ax, method, *pooled_bins(paths))
    fig.suptitle(f"Reliability diagram, {dataset}")
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic.atomic_path(out) as tmp:
        fig.savefig(tmp, format=out.suffix.lstrip(".") or "png", dpi=120)
    plt.close(fig)
