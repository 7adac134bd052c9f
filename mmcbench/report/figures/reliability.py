"""Reliability diagrams: accuracy against confidence per bin, one panel per method.

Each run's saved final soft assignments (`assignments_final` in its embeddings file) are binned
exactly as `mmcbench.runs.metrics.ece` bins them (Hungarian-mapped columns, top-1 confidence, 15
bins); the bins of a method's seeds are pooled. A panel's title gives the ECE of the pooled
bins and the mean ± std of the per-seed ECE (what the tables report). Runs of another dataset
or k than the figure's, and runs of different settings in one panel, are refused (by the record
beside each embeddings file, and the assignments' k). Drawn in the suite's style (`style`): paper
column sizes, the colour-blind-safe palette, one legend below the panels.
"""

from __future__ import annotations

import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from mmcbench.core import atomic
from mmcbench.core.errors import MmcbenchError
from mmcbench.report.figures import style
from mmcbench.report.figures.inputs import differing, read_record_beside, run_identity
from mmcbench.runs.metrics import ECE_BINS, CalibrationBins, calibration_bins

FIGURE_SUFFIXES = (".png", ".pdf", ".svg")
EMBEDDINGS = ".embeddings.npz"


def check_figure_path(out: str | Path) -> None:
    """Refuse a figure file whose extension is not one the diagram is written as."""
    suffix = Path(out).suffix.lower()
    if suffix not in FIGURE_SUFFIXES:
        raise MmcbenchError(
            f"reliability: --out {out}: the figure is written as {', '.join(FIGURE_SUFFIXES)} "
            f"(by the file's extension), not {suffix or 'a file without extension'}"
        )


def load_assignments(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """(labels, final soft assignments) saved by a deep run, checked (n labels, n × k
    probabilities, finite)."""
    try:
        saved = np.load(path, allow_pickle=False)
        if not isinstance(saved, np.lib.npyio.NpzFile):
            raise KeyError("a single array, not named arrays")
        with saved:
            labels, probabilities = saved["labels"], saved["assignments_final"].astype(np.float64)
    except (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise MmcbenchError(
            f"{path}: not a run's embeddings file with 'labels' and 'assignments_final' ({exc})"
        ) from exc
    if labels.ndim != 1 or probabilities.ndim != 2 or probabilities.shape[0] != labels.shape[0]:
        raise MmcbenchError(
            f"{path}: 'labels' {labels.shape} and 'assignments_final' {probabilities.shape} are "
            "not n labels and n × k assignments"
        )
    if labels.size == 0 or not np.isfinite(probabilities).all():
        raise MmcbenchError(
            f"{path}: 'assignments_final' is empty or has NaN/inf values (a diverged run?)"
        )
    return labels, probabilities


def check_panels(dataset: str, runs: Mapping[str, Sequence[str | Path]], ks: list[int]) -> None:
    """Refuse runs of another dataset or k than the figure's, or runs of different methods or
    settings in one panel, by the records beside the embeddings files; naming the files."""
    files = [(method, path) for method, paths in runs.items() for path in paths]
    identity = {path: run_identity(read_record_beside(path, EMBEDDINGS)) for _, path in files}
    wrong = [
        f"{p} ({identity[p]['dataset']})"
        for _, p in files
        if identity[p]["dataset"] is not None and identity[p]["dataset"] != dataset
    ]
    if wrong:
        raise MmcbenchError(
            f"reliability: the figure is of {dataset}, but the records beside "
            f"{', '.join(wrong)} are runs of another dataset; one figure shows one dataset"
        )
    if len(set(ks)) > 1:
        found = ", ".join(f"{p} (k = {k})" for (_, p), k in zip(files, ks, strict=True))
        raise MmcbenchError(
            f"reliability: the runs have different numbers of clusters ({found}): runs of "
            "different datasets cannot share a reliability diagram"
        )
    for method, paths in runs.items():
        for key in ("method", "variant", "alpha", "beta", "overrides"):
            if found := differing([(p, identity[p][key]) for p in paths]):
                raise MmcbenchError(
                    f"reliability: panel {method} pools runs of different {key}s ({found}, by "
                    "the records beside them); a panel pools the seeds of one run setting"
                )


def pooled_bins(paths: Sequence[str | Path]) -> tuple[CalibrationBins, list[float]]:
    """Bins pooled over runs, and each run's own ECE."""
    return _pooled([load_assignments(path) for path in paths])


def _pooled(
    loaded: Sequence[tuple[np.ndarray, np.ndarray]],
) -> tuple[CalibrationBins, list[float]]:
    pooled, per_run = None, []
    for labels, probabilities in loaded:
        bins = calibration_bins(labels, probabilities)
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
    bars, share_colour = style.palette(2)
    ax.bar(
        centres[filled],
        acc[filled],
        width=width,
        color=bars,
        edgecolor="white",
        linewidth=0.5,
        label="accuracy of the bin",
    )
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", linewidth=1, label="perfect calibration")
    share = counts / counts.sum()
    ax.bar(
        centres, share, width=width * 0.4, color=share_colour, label="share of samples in the bin"
    )
    std = f" ± {np.std(per_run, ddof=1):.1f}" if len(per_run) > 1 else ""
    seeds = f"{len(per_run)} seed{'s' * (len(per_run) != 1)}"
    per_seed = f"\nper seed {np.mean(per_run):.1f}{std}" if len(per_run) > 1 else ""
    ax.set_title(f"{method}: ECE {bins.ece():.1f} pooled over {seeds}{per_seed}")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_aspect("equal")
    ax.set_xlabel("confidence (top-1 probability)")
    ax.set_ylabel("accuracy / share")


def reliability_diagram(dataset: str, runs: Mapping[str, Sequence[str | Path]]) -> plt.Figure:
    """One panel per method (name → embeddings files of its seeds), not saved; runs of
    different datasets, k or settings are refused before anything is drawn."""
    if not runs:
        raise MmcbenchError(f"reliability: no runs given for {dataset}")
    if empty := [method for method, paths in runs.items() if not paths]:
        raise MmcbenchError(f"reliability: --runs {empty[0]} names no embeddings file")
    loaded = {method: [load_assignments(path) for path in paths] for method, paths in runs.items()}
    check_panels(dataset, runs, [p.shape[1] for runs_ in loaded.values() for _, p in runs_])
    style.apply()
    width = min(style.FULL_IN, style.COLUMN_IN * len(runs))
    fig, axes = plt.subplots(
        1,
        len(runs),
        figsize=(width, width / len(runs) + 0.9),
        squeeze=False,
        layout="constrained",
    )
    for ax, (method, panel) in zip(axes[0], loaded.items(), strict=True):
        _panel(ax, method, *_pooled(panel))
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=len(labels), frameon=False)
    fig.suptitle(f"Reliability diagram, {dataset} ({ECE_BINS} confidence bins, as the ECE's)")
    return fig


def reliability_figure(dataset: str, runs: Mapping[str, Sequence[str | Path]], out: Path) -> None:
    """`reliability_diagram` written atomically to `out` (its extension: the format)."""
    check_figure_path(out)
    fig = reliability_diagram(dataset, runs)
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic.atomic_path(out) as tmp:
        fig.savefig(tmp, format=out.suffix.lstrip(".").lower(), dpi=style.PNG_DPI)
    plt.close(fig)
