"""Granular balls (GIB §2.4.1, Fig. 3, Eq. 3–4), generated per batch on the training device.

1. Pseudo-labels: k-means (k-means++ initialisation, ≤ `kmeans_iters` Lloyd iterations) on the
   batch's representation. Spec's resolution: the paper's "weighted K-Means" is plain k-means.
2. Start with one ball holding the batch. Each round, every ball whose pseudo-purity (Eq. 4:
   max_c count_c / n_j) is < θ, or whose size is > n_th · B, is split in two by 2-means on its
   members; a ball meeting both conditions is kept. A ball with < 2·min_ball_size members is
   never split, and a split whose smaller child would have < min_ball_size members is rejected
   (the parent is kept and not tried again). Stop when nothing splits or after
   `max_split_rounds` rounds.
3. Centre c_j = mean of its members (Eq. 3), differentiable in the representation; the
   partition itself carries no gradient. Each sample carries its ball's centre.

All splits of a round run together on tensors (segment operations over ball ids): loops run
over rounds and Lloyd iterations only, never over samples or balls.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from benchmark.losses.ddc import squared_distances
from benchmark.models.settings import BallSettings

# Why a ball is final: reasons recorded per ball, for diagnostics and tests.
PURE, TOO_SMALL, REJECTED, OUT_OF_ROUNDS = 0, 1, 2, 3


@dataclass
class Balls:
    """A partition of a batch into granular balls."""

    assignment: torch.Tensor  # (B,) ball index of each sample, 0…n_balls−1
    n_balls: int
    sizes: torch.Tensor  # (n_balls,)
    purity: torch.Tensor  # (n_balls,) pseudo-label purity
    reason: torch.Tensor  # (n_balls,) PURE / TOO_SMALL / REJECTED / OUT_OF_ROUNDS
    pseudo_labels: torch.Tensor  # (B,)

    def centres(self, h: torch.Tensor) -> torch.Tensor:
        """Ball centres (n_balls × D), means of the members of `h` (differentiable)."""
        sums = torch.zeros(self.n_balls, h.shape[1], device=h.device, dtype=h.dtype)
        sums = sums.index_add(0, self.assignment, h)
        return sums / self.sizes.to(h.dtype).unsqueeze(1)

    def sample_centres(self, h: torch.Tensor) -> torch.Tensor:
        """C: each sample's ball centre (B × D)."""
        return self.centres(h)[self.assignment]

    def radii(self, h: torch.Tensor) -> torch.Tensor:
        """Mean Euclidean distance of the members to their centre (Eq. 3), per ball."""
        distance = (h - self.sample_centres(h)).norm(dim=1)
        sums = torch.zeros(self.n_balls, device=h.device, dtype=h.dtype)
        return sums.index_add(0, self.assignment, distance) / self.sizes.to(h.dtype)


def _segment_first_argmax(
    values: torch.Tensor, segments: torch.Tensor, n_segments: int
) -> torch.Tensor:
    """Per segment, the position (in `values`) of its largest value (the first on ties)."""
    best = torch.full((n_segments,), -torch.inf, device=values.device, dtype=values.dtype)
    best = best.scatter_reduce(0, segments, values, reduce="amax", include_self=True)
    positions = torch.arange(values.numel(), device=values.device)
    candidates = torch.where(values == best[segments], positions, values.numel())
    first = torch.full((n_segments,), values.numel(), device=values.device, dtype=torch.long)
    return first.scatter_reduce(0, segments, candidates, reduce="amin", include_self=True)


def kmeans(x: torch.Tensor, k: int, iters: int, generator: torch.Generator) -> torch.Tensor:
    """k-means labels of the rows of `x` (k-means++ seeding, ≤ `iters` Lloyd iterations)."""
    n = x.shape[0]
    k = min(k, n)
    first = torch.randint(n, (1,), generator=generator, device=x.device)
    centres = [x[first]]
    closest = squared_distances(x, centres[0]).squeeze(1)
    for _ in range(1, k):
        total = closest.sum()
        weights = closest / total if total > 0 else torch.full_like(closest, 1.0 / n)
        pick = torch.multinomial(weights, 1, generator=generator)
        centres.append(x[pick])
        closest = torch.minimum(closest, squared_distances(x, x[pick]).squeeze(1))
    centre = torch.cat(centres)
    labels = squared_distances(x, centre).argmin(dim=1)
    for _ in range(iters):
        counts = torch.bincount(labels, minlength=k)
        sums = torch.zeros_like(centre).index_add(0, labels, x)
        centre = torch.where(counts[:, None] > 0, sums / counts.clamp(min=1)[:, None], centre)
        new_labels = squared_distances(x, centre).argmin(dim=1)
        if torch.equal(new_labels, labels):
            break
        labels = new_labels
    return labels


def _two_means(
    x: torch.Tensor, ball: torch.Tensor, n_balls: int, iters: int, generator: torch.Generator
) -> torch.Tensor:
    """2-means inside every ball at once; returns each row's side (0 or 1).

    Seeding as k-means++ per ball: a uniformly random member, then a member drawn with
    probability ∝ squared distance to it (exponential-race sampling, vectorised).
    """
    u = torch.rand(x.shape[0], generator=generator, device=x.device)
    first = _segment_first_argmax(u, ball, n_balls)
    d2 = ((x - x[first[ball]]) ** 2).sum(dim=1)
    u2 = torch.rand(x.shape[0], generator=generator, device=x.device).clamp(min=1e-12)
    race = torch.where(d2 > 0, torch.log(u2) / d2, torch.full_like(d2, -torch.inf))
    second = _segment_first_argmax(race, ball, n_balls)
    centres = torch.zeros(2 * n_balls, x.shape[1], device=x.device, dtype=x.dtype)
    seeded = torch.unique(ball)
    centres[2 * seeded] = x[first[seeded]]
    centres[2 * seeded + 1] = x[second[seeded]]
    side = None
    rows = torch.arange(x.shape[0], device=x.device)
    for _ in range(max(iters, 1)):
        # Only the comparison of a row's two centres matters: ‖c‖² − 2 x·c (‖x‖² cancels).
        scores = (centres * centres).sum(dim=1) - 2 * (x @ centres.t())
        new_side = (scores[rows, 2 * ball + 1] < scores[rows, 2 * ball]).long()
        if side is not None and torch.equal(new_side, side):
            break
        side = new_side
        child = 2 * ball + side
        counts = torch.bincount(child, minlength=2 * n_balls)
        sums = torch.zeros_like(centres).index_add(0, child, x)
        centres = torch.where(counts[:, None] > 0, sums / counts.clamp(min=1)[:, None], centres)
    return side


@torch.no_grad()
def granular_balls(
    h: torch.Tensor, n_clusters: int, settings: BallSettings, generator: torch.Generator
) -> Balls:
    """Partition the rows of `h` (a batch's representation) into granular balls."""
    x = h.detach()
    batch = x.shape[0]
    pseudo = kmeans(x, n_clusters, settings.kmeans_iters, generator)
    k = int(pseudo.max()) + 1
    ball = torch.zeros(batch, dtype=torch.long, device=x.device)
    n_balls = 1
    rejected = torch.zeros(1, dtype=torch.bool, device=x.device)
    max_size = settings.n_th * batch
    for _ in range(settings.max_split_rounds):
        sizes = torch.bincount(ball, minlength=n_balls)
        counts = torch.bincount(ball * k + pseudo, minlength=n_balls * k).view(n_balls, k)
        purity = counts.max(dim=1).values / sizes
        wants = (purity < settings.theta) | (sizes > max_size)
        split = wants & (sizes >= 2 * settings.min_ball_size) & ~rejected
        if not bool(split.any()):
            break
        members = split[ball].nonzero().squeeze(1)
        side = _two_means(x[members], ball[members], n_balls, settings.kmeans_iters, generator)
        child_counts = torch.bincount(2 * ball[members] + side, minlength=2 * n_balls)
        smaller = torch.minimum(child_counts[0::2], child_counts[1::2])
        accept = split & (smaller >= settings.min_ball_size)
        rejected = rejected | (split & ~accept)
        new_ids = n_balls + torch.cumsum(accept.long(), dim=0) - 1
        moving = accept[ball[members]] & (side == 1)
        ball[members[moving]] = new_ids[ball[members[moving]]]
        n_new = int(accept.sum())
        rejected = torch.cat([rejected, torch.zeros(n_new, dtype=torch.bool, device=x.device)])
        n_balls += n_new

    sizes = torch.bincount(ball, minlength=n_balls)
    counts = torch.bincount(ball * k + pseudo, minlength=n_balls * k).view(n_balls, k)
    purity = counts.max(dim=1).values / sizes
    wants = (purity < settings.theta) | (sizes > max_size)
    reason = torch.full((n_balls,), PURE, dtype=torch.long, device=x.device)
    reason[wants & rejected] = REJECTED
    reason[wants & ~rejected] = OUT_OF_ROUNDS
    reason[wants & (sizes < 2 * settings.min_ball_size)] = TOO_SMALL
    return Balls(
        assignment=ball,
        n_balls=n_balls,
        sizes=sizes,
        purity=purity,
        reason=reason,
        pseudo_labels=pseudo,
    )
