"""Mini-batches of a training epoch (and of GIB's evaluation with balls): index permutations."""

from __future__ import annotations

from typing import Any

import torch


def batch_plan(
    n: int, batch_size: int, min_last: int, generator: torch.Generator
) -> list[torch.Tensor]:
    """A shuffled split of 0…n−1 into batches; a last batch smaller than `min_last` joins the
    previous one (k-means and BatchNorm need enough points). No sample is dropped."""
    batches = list(torch.randperm(n, generator=generator).split(batch_size))
    if len(batches) > 1 and batches[-1].numel() < min_last:
        last = batches.pop()
        batches[-1] = torch.cat([batches[-1], last])
    return batches


class FlooredBatches:
    """`batches()` of GIB's and CLIB's trainers: shuffled batches of `config.batch_size`; a
    last batch under `config.min_batch_factor`·k joins the previous one (`batch_plan`). The
    trainer has `config`, `n_samples` and `n_clusters`."""

    config: Any
    n_samples: int
    n_clusters: int

    def batches(self, epoch: int, generator: torch.Generator) -> list[torch.Tensor]:
        floor = self.config.min_batch_factor * self.n_clusters
        return batch_plan(self.n_samples, self.config.batch_size, floor, generator)
