"""Mini-batches of a training epoch (and of GIB's evaluation with balls): index permutations."""

from __future__ import annotations

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
