"""t-SNE of the fused representation at the saved epochs (GIB Fig. 6–8).

Compute and plot are separate: `tsne_coordinates` reads a run's embeddings file and writes the
2-D coordinates (scikit-learn's t-SNE, fixed seed, each epoch on its own), `tsne_figure` draws
them; restyling the figure recomputes nothing.
"""

from __future__ import annotations

import logging
import math
import re
import zipfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib import pyplot as plt
from matplotlib.lines import Line2D

from mmcbench.core.errors import MmcbenchError
from mmcbench.report.figures import style

EPOCH_KEY = re.compile(r"epoch_(\d+)$")
MAX_LEGEND_CLASSES = 10
MIN_SAMPLES = 2  # scikit-learn's TSNE refuses fewer
log = logging.getLogger("mmcbench")


def check_tsne_options(epochs: Sequence[int] | None, perplexity: float, max_samples: int) -> None:
    """Refuse options t-SNE cannot run with (before reading or computing anything)."""
    if epochs is not None and not list(epochs):
        raise MmcbenchError(
            "tsne: --epochs names no epoch; give the epochs to embed, or leave --epochs out for "
            "every saved one"
        )
    if not (math.isfinite(perplexity) and perplexity > 0):
        raise MmcbenchError(
            f"tsne: --perplexity {perplexity:g} must be a finite number above 0 (t-SNE's "
            "effective number of neighbours; it is capped at (n − 1) / 3 for n samples)"
        )
    if max_samples < MIN_SAMPLES:
        raise MmcbenchError(
            f"tsne: --max-samples {max_samples} must be at least {MIN_SAMPLES}: t-SNE needs "
            f"{MIN_SAMPLES} samples or more"
        )


def load_embeddings(
    path: str | Path, epochs: Sequence[int] | None = None
) -> tuple[np.ndarray, dict[int, np.ndarray]]:
    """(labels, epoch → fused embeddings) of a run's embeddings file, read once and checked.

    `epochs` None = every saved epoch; an epoch that was not saved is a clear error, and so is
    a file with none, or arrays t-SNE cannot embed.
    """
    try:
        saved = np.load(path, allow_pickle=False)
        if not isinstance(saved, np.lib.npyio.NpzFile):
            raise MmcbenchError(f"{path}: not a run's embeddings file (.npz of named arrays)")
        with saved:
            available = {int(m.group(1)): k for k in saved.files if (m := EPOCH_KEY.match(k))}
            if not available:
                raise MmcbenchError(
                    f"{path}: the run saved no fused embeddings (no epoch_<e> array; the file "
                    f"has {sorted(saved.files)}); set the method's `embeddings_at` and rerun it"
                )
            wanted = sorted(available) if epochs is None else list(epochs)
            if missing := [e for e in wanted if e not in available]:
                raise MmcbenchError(
                    f"{path}: no embeddings saved at epoch(s) {missing} (saved: "
                    f"{sorted(available)}); add them to the method's `embeddings_at` and rerun"
                )
            if "labels" not in saved.files:
                raise MmcbenchError(f"{path}: embeddings file without 'labels'")
            labels, arrays = saved["labels"], {e: saved[available[e]] for e in wanted}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise MmcbenchError(f"{path}: not a readable embeddings file ({exc})") from exc
    if labels.ndim != 1:
        raise MmcbenchError(f"{path}: 'labels' has shape {labels.shape}, not one per sample")
    for epoch, fused in arrays.items():
        problem = None
        if fused.ndim != 2 or fused.shape[0] != labels.shape[0]:
            problem = f"has shape {fused.shape}, not ({labels.shape[0]} samples, features)"
        elif fused.shape[1] < 2:
            problem = f"has {fused.shape[1]} feature(s); t-SNE's PCA initialisation needs 2 or more"
        elif not np.issubdtype(fused.dtype, np.number) or not np.isfinite(fused).all():
            problem = "has NaN/inf values (a diverged run?)"
        if problem:
            raise MmcbenchError(f"{path}: epoch_{epoch} {problem}; t-SNE cannot embed it")
    return labels, arrays


def tsne_coordinates(
    path: str | Path,
    epochs: Sequence[int] | None = None,
    seed: int = 0,
    perplexity: float = 30.0,
    max_samples: int = 5000,
) -> pd.DataFrame:
    """(epoch, sample, x, y, label) per saved epoch; the same subsample at every epoch."""
    check_tsne_options(epochs, perplexity, max_samples)
    labels, arrays = load_embeddings(path, epochs)
    n = labels.shape[0]
    if n < MIN_SAMPLES:
        raise MmcbenchError(f"{path}: {n} sample(s); t-SNE needs {MIN_SAMPLES} or more")
    from sklearn.manifold import TSNE

    rng = np.random.default_rng(seed)
    chosen = np.sort(rng.choice(n, max_samples, replace=False)) if n > max_samples else np.arange(n)
    used = min(perplexity, (len(chosen) - 1) / 3)
    if used < perplexity:
        log.warning(
            "tsne: perplexity %g capped at %g = (n − 1) / 3 for the %d samples embedded",
            perplexity,
            used,
            len(chosen),
        )
    frames = []
    for epoch, fused in arrays.items():
        points = fused[chosen].astype(np.float64)
        tsne = TSNE(
            n_components=2,
            perplexity=used,
            init="pca",
            learning_rate="auto",
            random_state=seed,
        )
        xy = tsne.fit_transform(points)
        frames.append(
            pd.DataFrame(
                {
                    "epoch": epoch,
                    "sample": chosen,
                    "x": xy[:, 0],
                    "y": xy[:, 1],
                    "label": labels[chosen],
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def tsne_figure(
    coordinates: pd.DataFrame,
    method: str,
    dataset: str,
    scores: pd.DataFrame | None = None,
    seed: int | None = None,
    n_samples: int | None = None,
    run_seed: int | None = None,
) -> plt.Figure:
    """One panel per epoch, points coloured (and, beyond 10 classes, shaped) by true label.
    The title names the samples embedded (of `n_samples`, the dataset's, where given), the
    t-SNE `seed` and the run's `run_seed` where given."""
    style.apply()
    if coordinates.empty:
        raise MmcbenchError(f"t-SNE: no coordinates for {method} on {dataset}")
    epochs = [int(e) for e in sorted(coordinates["epoch"].unique())]
    classes = sorted(coordinates["label"].unique())
    colours = style.palette(len(classes))
    width = min(style.FULL_IN, 2.3 * len(epochs))
    fig, axes = plt.subplots(
        1, len(epochs), figsize=(width, width / len(epochs) + 0.5), squeeze=False
    )
    for ax, epoch in zip(axes[0], epochs, strict=True):
        points = coordinates[coordinates["epoch"] == epoch]
        for i, cls in enumerate(classes):
            mine = points[points["label"] == cls]
            ax.scatter(
                mine["x"], mine["y"], s=2, color=colours[i], marker=style.marker(i), linewidths=0
            )
        title = f"epoch {epoch}"  # an int: the CSV may read it back as a float
        if scores is not None and epoch in scores.index:
            title += f"\nACC {scores.loc[epoch, 'ACC']:.1f}, NMI {scores.loc[epoch, 'NMI']:.1f}"
        ax.set_title(title)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_xlabel("t-SNE 1")
        ax.set_ylabel("t-SNE 2")
    fig.suptitle(_title(coordinates, method, dataset, seed, n_samples, run_seed))
    if len(classes) <= MAX_LEGEND_CLASSES:
        handles = [
            Line2D([], [], linestyle="", marker=style.marker(i), color=colours[i], markersize=4)
            for i in range(len(classes))
        ]
        fig.legend(
            handles,
            [_class_name(c) for c in classes],
            loc="lower center",
            ncol=len(classes),
            frameon=False,
            bbox_to_anchor=(0.5, -0.08),
            handletextpad=0.1,
            columnspacing=0.8,
        )
    fig.tight_layout()
    return fig


def _class_name(label) -> str:
    """A class label as written in the legend: 3, not 3.0 (labels read back from a CSV)."""
    try:
        return f"{int(label)}" if float(label).is_integer() else str(label)
    except (TypeError, ValueError):
        return str(label)


def _title(
    coordinates: pd.DataFrame,
    method: str,
    dataset: str,
    seed: int | None,
    n_samples: int | None,
    run_seed: int | None,
) -> str:
    per_epoch = coordinates.groupby("epoch")
    embedded = int(
        (per_epoch["sample"].nunique() if "sample" in coordinates else per_epoch.size()).max()
    )
    of = f" of {n_samples}" if n_samples and n_samples != embedded else ""
    run = f" (run seed {run_seed})" if run_seed is not None else ""
    tsne_seed = f", t-SNE seed {seed}" if seed is not None else ""
    return (
        f"{method} on {dataset}{run}: t-SNE of the fused representation\n"
        f"{embedded}{of} samples{' (a random subsample)' if of else ''}{tsne_seed}; "
        "colour = true class"
    )
