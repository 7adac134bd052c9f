"""t-SNE of the fused representation at the saved epochs (GIB Fig. 6–8).

Compute and plot are separate: `tsne_coordinates` reads a run's embeddings file and writes the
2-D coordinates (scikit-learn's t-SNE, fixed seed, each epoch on its own), `tsne_figure` draws
them; restyling the figure recomputes nothing.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib import pyplot as plt
from matplotlib.lines import Line2D

from benchmark.errors import MmcbenchError
from benchmark.figures import style

EPOCH_KEY = re.compile(r"epoch_(\d+)$")
MAX_LEGEND_CLASSES = 10


def load_embeddings(
    path: str | Path, epochs: Sequence[int] | None = None
) -> tuple[np.ndarray, dict[int, np.ndarray]]:
    """(labels, epoch → fused embeddings) of a run's embeddings file, read once.

    `epochs` None = every saved epoch; an epoch that was not saved is a clear error.
    """
    try:
        with np.load(path) as saved:
            available = {int(m.group(1)): k for k in saved.files if (m := EPOCH_KEY.match(k))}
            wanted = sorted(available) if epochs is None else list(epochs)
            if missing := [e for e in wanted if e not in available]:
                raise MmcbenchError(
                    f"{path}: no embeddings saved at epoch(s) {missing} (saved: "
                    f"{sorted(available)}); add them to the method's `embeddings_at` and rerun"
                )
            if "labels" not in saved.files:
                raise MmcbenchError(f"{path}: embeddings file without 'labels'")
            return saved["labels"], {e: saved[available[e]] for e in wanted}
    except (OSError, ValueError) as exc:
        raise MmcbenchError(f"{path}: not a readable embeddings file ({exc})") from exc


def tsne_coordinates(
    path: str | Path,
    epochs: Sequence[int] | None = None,
    seed: int = 0,
    perplexity: float = 30.0,
    max_samples: int = 5000,
) -> pd.DataFrame:
    """(epoch, sample, x, y, label) per saved epoch; the same subsample at every epoch."""
    from sklearn.manifold import TSNE

    labels, arrays = load_embeddings(path, epochs)
    rng = np.random.default_rng(seed)
    n = labels.shape[0]
    chosen = np.sort(rng.choice(n, max_samples, replace=False)) if n > max_samples else np.arange(n)
    frames = []
    for epoch, fused in arrays.items():
        points = fused[chosen].astype(np.float64)
        tsne = TSNE(
            n_components=2,
            perplexity=min(perplexity, (len(chosen) - 1) / 3),
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
) -> plt.Figure:
    """One panel per epoch, points coloured (and, beyond 10 classes, shaped) by true label."""
    style.apply()
    if coordinates.empty:
        raise MmcbenchError(f"t-SNE: no coordinates for {method} on {dataset}")
    epochs = sorted(coordinates["epoch"].unique())
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
        title = f"epoch {epoch}"
        if scores is not None and epoch in scores.index:
            title += f"\nACC {scores.loc[epoch, 'ACC']:.1f}, NMI {scores.loc[epoch, 'NMI']:.1f}"
        ax.set_title(title)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_xlabel("t-SNE 1")
        ax.set_ylabel("t-SNE 2")
    fig.suptitle(f"{method} on {dataset}: t-SNE of the fused representation, colour = true class")
    if len(classes) <= MAX_LEGEND_CLASSES:
        handles = [
            Line2D([], [], linestyle="", marker=style.marker(i), color=colours[i], markersize=4)
            for i in range(len(classes))
        ]
        fig.legend(
            handles,
            [str(c) for c in classes],
            loc="lower center",
            ncol=len(classes),
            frameon=False,
            bbox_to_anchor=(0.5, -0.08),
            handletextpad=0.1,
            columnspacing=0.8,
        )
    fig.tight_layout()
    return fig
