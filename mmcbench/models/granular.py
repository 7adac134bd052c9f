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
over rounds and Lloyd iterations only, never over samples or balls. The same code partitions
the batches of K runs at once (a pack, `mmcbench.training.pack`): run r's batch is root
ball r of one partition, k-means runs batched over the runs, and every random number of run
r comes from run r's own generator, drawn exactly as a run alone draws it
(`torch.multinomial` on CPU is an exponential race, reproduced here), so a run's balls do
not depend on its pack. One run is the pack of K = 1. Drawing from K generators is the one
loop over runs (a few calls per round).

The representations of a step (GIB: each view's H^i and the fused H^s) are partitioned the same
way. With `implementation: batched` (`BallSettings`, default) each representation of a run
draws from its own generator (`ball_generators`), so the R representations of K runs are R·K
root balls of one call (`granular_balls_representations`), each equal to its call alone, and a
2-means split scores each row against its own ball's two centres only. `sequential` is the
code before (the first reading's runs reproduce it bit for bit): one generator serves every
representation in turn, which forces one call per representation (a representation's draws
start where the previous one's ended), and each row is scored by one matrix product with every
ball's centres, a cost that grows with the square of the number of balls.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from mmcbench.core.settings import BallSettings

# Why a ball is final: reasons recorded per ball, for diagnostics and tests.
PURE, TOO_SMALL, REJECTED, OUT_OF_ROUNDS = 0, 1, 2, 3


@dataclass
class Balls:
    """A partition of the batches of K runs (K = 1: one run) into granular balls.

    Rows are the runs' batches one after another (run r: rows r·B … r·B + B − 1); a ball
    belongs to one run (`run_of_ball`). Ball ids are labels only: their order is not meaningful.
    """

    assignment: torch.Tensor  # (K·B,) ball index of each sample, 0…n_balls−1
    n_balls: int
    sizes: torch.Tensor  # (n_balls,)
    purity: torch.Tensor  # (n_balls,) pseudo-label purity
    reason: torch.Tensor  # (n_balls,) PURE / TOO_SMALL / REJECTED / OUT_OF_ROUNDS
    pseudo_labels: torch.Tensor  # (K·B,)
    run_of_ball: torch.Tensor  # (n_balls,) the run each ball belongs to

    def centres(self, h: torch.Tensor) -> torch.Tensor:
        """Ball centres (n_balls × D), means of the members of `h` (K·B × D, differentiable)."""
        sums = torch.zeros(self.n_balls, h.shape[1], device=h.device, dtype=h.dtype)
        sums = sums.index_add(0, self.assignment, h)
        return sums / self.sizes.to(h.dtype).unsqueeze(1)

    def sample_centres(self, h: torch.Tensor) -> torch.Tensor:
        """C: each sample's ball centre (same shape as `h`: B × D, or K × B × D for a pack)."""
        flat = h.reshape(-1, h.shape[-1])
        return self.centres(flat).index_select(0, self.assignment).reshape(h.shape)

    def radii(self, h: torch.Tensor) -> torch.Tensor:
        """Mean Euclidean distance of the members to their centre (Eq. 3), per ball."""
        flat = h.reshape(-1, h.shape[-1])
        distance = (flat - self.sample_centres(flat)).norm(dim=1)
        sums = torch.zeros(self.n_balls, device=h.device, dtype=h.dtype)
        return sums.index_add(0, self.assignment, distance) / self.sizes.to(h.dtype)

    def per_run(self, runs: int) -> dict[str, torch.Tensor]:
        """Per run (K values each): number of balls, mean size, single-sample share and mean
        purity of its balls."""
        count = torch.bincount(self.run_of_ball, minlength=runs).double()
        sizes = self.sizes.double()
        per = lambda values: torch.bincount(  # noqa: E731
            self.run_of_ball, weights=values.double(), minlength=runs
        )
        return {
            "balls": count,
            "ball_size": per(sizes) / count,
            "single": per((sizes == 1).double()) / count,
            "purity": per(self.purity) / count,
        }

    def split(self, parts: int) -> list[Balls]:
        """The partitions of `parts` consecutive groups of its runs (a call over parts × K
        runs: group p is runs p·K … p·K + K − 1), each as its group's call alone labels it:
        ball ids in order of first appearance in the call, runs 0…K − 1."""
        per = (int(self.run_of_ball.max()) + 1) // parts  # every run keeps its root ball
        rows = self.assignment.numel() // parts
        group_of_ball = torch.div(self.run_of_ball, per, rounding_mode="floor")
        out = []
        for p in range(parts):
            mine = (group_of_ball == p).nonzero().squeeze(1)  # ascending: a call's own order
            new_id = torch.full((self.n_balls,), -1, dtype=torch.long, device=mine.device)
            new_id[mine] = torch.arange(mine.numel(), device=mine.device)
            out.append(
                Balls(
                    assignment=new_id[self.assignment[p * rows : (p + 1) * rows]],
                    n_balls=mine.numel(),
                    sizes=self.sizes[mine],
                    purity=self.purity[mine],
                    reason=self.reason[mine],
                    pseudo_labels=self.pseudo_labels[p * rows : (p + 1) * rows],
                    run_of_ball=self.run_of_ball[mine] - p * per,
                )
            )
        return out


def ball_generators(
    seed: int, names: Sequence[str], implementation: str
) -> dict[str, torch.Generator]:
    """A run's ball generators by representation name, on CPU (the numbers move to the
    device, so a run draws the same balls on a GPU): `batched` one stream each, seeded from
    (seed, position of the name); `sequential` one generator seeded with `seed`, serving every
    name."""
    if implementation == "sequential":
        return dict.fromkeys(names, torch.Generator().manual_seed(seed))
    if implementation != "batched":
        raise ValueError(
            f"implementation must be 'batched' or 'sequential', got {implementation!r}"
        )
    return {
        name: torch.Generator().manual_seed(
            int(np.random.SeedSequence([seed, i]).generate_state(1, np.uint64)[0])
        )
        for i, name in enumerate(names)
    }


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


def _per_run(
    generators: list[torch.Generator], sizes: list[int], draw, device: torch.device
) -> torch.Tensor:
    """Random numbers of each run from its own generator (`draw(size, generator)`, on the
    generator's device), concatenated in run order and moved to `device`. Runs with size 0
    draw nothing, as a run alone would not."""
    parts = [draw(n, g) for g, n in zip(generators, sizes, strict=True) if n > 0]
    return torch.cat(parts).to(device)


def _uniform(dtype: torch.dtype):
    return lambda n, g: torch.rand(n, generator=g, device=g.device, dtype=dtype)


def _exponential(dtype: torch.dtype):
    # What torch.multinomial(weights, 1) draws: argmax(weights / q), q ~ Exp(1).
    return lambda n, g: torch.empty(n, device=g.device, dtype=dtype).exponential_(1, generator=g)


class _DistancesFrom:
    """Per run, squared distances of the fixed rows of a (K × n × D) to the rows of b
    (K × m × D): ‖a‖² + ‖b‖² − (2a)·b, with ‖a‖² and 2a computed once for all calls (the same
    numbers as computing them per call: doubling is exact)."""

    def __init__(self, a: torch.Tensor) -> None:
        self.a2 = (a * a).sum(dim=-1, keepdim=True)  # as pow(2), and faster
        self.two_a = 2 * a

    def __call__(self, b: torch.Tensor) -> torch.Tensor:
        b2 = (b * b).sum(dim=-1).unsqueeze(-2)
        return (self.a2 + b2 - self.two_a @ b.transpose(-1, -2)).clamp(min=0)


def kmeans_runs(
    x: torch.Tensor, k: int, iters: int, generators: list[torch.Generator]
) -> torch.Tensor:
    """k-means labels (K × n) of each run's rows of `x` (K × n × D): k-means++ seeding and
    ≤ `iters` Lloyd iterations per run, run r drawing from `generators[r]`."""
    runs, n, dim = x.shape
    k = min(k, n)
    every = [n] * runs
    rows = torch.arange(runs, device=x.device)
    first = _per_run(
        generators,
        [1] * runs,
        lambda m, g: torch.randint(n, (m,), generator=g, device=g.device),
        x.device,
    )
    distances = _DistancesFrom(x)
    centres = [x[rows, first]]
    closest = distances(centres[0].unsqueeze(1)).squeeze(2)
    for _ in range(1, k):
        total = closest.sum(dim=1, keepdim=True)
        weights = torch.where(total > 0, closest / total, torch.full_like(closest, 1.0 / n))
        race = _per_run(generators, every, _exponential(x.dtype), x.device).view(runs, n)
        pick = (weights / race).argmax(dim=1)
        centres.append(x[rows, pick])
        closest = torch.minimum(closest, distances(centres[-1].unsqueeze(1)).squeeze(2))
    centre = torch.stack(centres, dim=1)
    labels = distances(centre).argmin(dim=2)
    offsets = (rows * k).unsqueeze(1)
    flat_x = x.reshape(runs * n, dim)
    for _ in range(iters):
        # A run whose labels no longer change is at a fixed point: iterating it again while
        # other runs converge changes nothing.
        slots = (labels + offsets).reshape(-1)
        counts = torch.bincount(slots, minlength=runs * k).view(runs, k)
        sums = torch.zeros(runs * k, dim, device=x.device, dtype=x.dtype)
        sums = sums.index_add(0, slots, flat_x).view(runs, k, dim)
        centre = torch.where(counts[..., None] > 0, sums / counts.clamp(min=1)[..., None], centre)
        new_labels = distances(centre).argmin(dim=2)
        if torch.equal(new_labels, labels):
            break
        labels = new_labels
    return labels


def kmeans(x: torch.Tensor, k: int, iters: int, generator: torch.Generator) -> torch.Tensor:
    """k-means labels of the rows of `x` (k-means++ seeding, ≤ `iters` Lloyd iterations)."""
    return kmeans_runs(x.unsqueeze(0), k, iters, [generator])[0]


def _two_means(
    x: torch.Tensor,
    ball: torch.Tensor,
    n_balls: int,
    iters: int,
    generators: list[torch.Generator],
    rows_per_run: list[int],
    own_centres: bool,
) -> torch.Tensor:
    """2-means inside every ball at once; returns each row's side (0 or 1).

    Seeding as k-means++ per ball: a uniformly random member, then a member drawn with
    probability ∝ squared distance to it (exponential-race sampling, vectorised). The rows are
    the runs' rows in run order (`rows_per_run`), each run drawing from its generator. A row
    takes the nearer of its ball's two centres: `own_centres` compares it with those two only
    (`_sides_by_own_centres`; the work grows with the rows), else with every ball's centres by
    one matrix product (`sequential`; the work grows with rows × balls).
    """
    if own_centres:  # only the balls being split, relabelled 0…n − 1 (the same segments)
        _, ball = torch.unique(ball, return_inverse=True)
        n_balls = int(ball.max()) + 1
    u = _per_run(generators, rows_per_run, _uniform(x.dtype), x.device)
    first = _segment_first_argmax(u, ball, n_balls)
    offset = x - x.index_select(0, first.index_select(0, ball))
    d2 = (offset * offset).sum(dim=1)
    u2 = _per_run(generators, rows_per_run, _uniform(x.dtype), x.device).clamp(min=1e-12)
    race = torch.where(d2 > 0, torch.log(u2) / d2, torch.full_like(d2, -torch.inf))
    second = _segment_first_argmax(race, ball, n_balls)
    centres = torch.zeros(2 * n_balls, x.shape[1], device=x.device, dtype=x.dtype)
    seeded = torch.unique(ball)
    centres[2 * seeded] = x[first[seeded]]
    centres[2 * seeded + 1] = x[second[seeded]]
    if own_centres:
        return _sides_by_own_centres(x, ball, n_balls, centres, iters)
    side = None
    rows = torch.arange(x.shape[0], device=x.device)
    for _ in range(max(iters, 1)):
        # Only the comparison of a row's two centres matters: ‖c‖² − 2 x·c (‖x‖² cancels).
        # A ball whose sides no longer change is at a fixed point (see kmeans_runs).
        scores = (centres * centres).sum(dim=1) - 2 * (x @ centres.t())
        new_side = (scores[rows, 2 * ball + 1] < scores[rows, 2 * ball]).long()
        if side is not None and torch.equal(new_side, side):
            break
        side = new_side
        centres = _side_means(x, 2 * ball + side, centres)
    return side


def _side_means(x: torch.Tensor, child: torch.Tensor, centres: torch.Tensor) -> torch.Tensor:
    """Each side's mean of its rows (`child`: 2·ball + side); a side without rows keeps its
    centre."""
    counts = torch.bincount(child, minlength=centres.shape[0])
    sums = torch.zeros_like(centres).index_add(0, child, x)
    return torch.where(counts[:, None] > 0, sums / counts.clamp(min=1)[:, None], centres)


def _sides_by_own_centres(
    x: torch.Tensor, ball: torch.Tensor, n_balls: int, centres: torch.Tensor, iters: int
) -> torch.Tensor:
    """Lloyd iterations of 2-means in every ball, each row scored against its own ball's two
    centres: side 1 when 2 x·(c₁ − c₀) > ‖c₁‖² − ‖c₀‖². A ball whose sides did not change is at
    a fixed point (its centres stay), so it leaves the iterations: only the rows of balls that
    changed are scored and averaged again (a ball's sums run over its rows in the same order
    either way). The result is that of iterating every ball until none changes (≤ `iters`)."""
    side = torch.zeros_like(ball)
    active = torch.arange(x.shape[0], device=x.device)
    rows, balls = x, ball
    for iteration in range(max(iters, 1)):
        pair = centres.view(n_balls, 2, -1)
        gap = (pair[:, 1] * pair[:, 1]).sum(dim=1) - (pair[:, 0] * pair[:, 0]).sum(dim=1)
        direction = pair[:, 1] - pair[:, 0]
        own = direction.index_select(0, balls)
        new_side = (2 * (rows * own).sum(dim=1) > gap.index_select(0, balls)).long()
        if iteration > 0:
            moved = new_side != side[active]
            if not bool(moved.any()):
                break
            changed = torch.zeros(n_balls, dtype=torch.bool, device=x.device)
            changed[balls[moved]] = True
            keep = changed.index_select(0, balls).nonzero().squeeze(1)
            active, rows, balls, new_side = (
                t.index_select(0, keep) for t in (active, rows, balls, new_side)
            )
        side[active] = new_side
        centres = _side_means(rows, 2 * balls + new_side, centres)
    return side


def _purity(ball: torch.Tensor, pseudo: torch.Tensor, n_balls: int, k: int):
    sizes = torch.bincount(ball, minlength=n_balls)
    counts = torch.bincount(ball * k + pseudo, minlength=n_balls * k).view(n_balls, k)
    return sizes, counts.max(dim=1).values / sizes


@torch.no_grad()
def granular_balls_runs(
    h: torch.Tensor, n_clusters: int, settings: BallSettings, generators: list[torch.Generator]
) -> Balls:
    """Partition each run's batch (`h`: K × B × D) into granular balls, run r drawing from
    `generators[r]`: K root balls of one partition, split together."""
    runs, batch, dim = h.shape
    x = h.detach().reshape(runs * batch, dim)
    pseudo = kmeans_runs(h.detach(), n_clusters, settings.kmeans_iters, generators).reshape(-1)
    k = int(pseudo.max()) + 1
    run_of_ball = torch.arange(runs, device=x.device)
    ball = run_of_ball.repeat_interleave(batch)
    n_balls = runs
    rejected = torch.zeros(runs, dtype=torch.bool, device=x.device)
    max_size = settings.n_th * batch
    for _ in range(settings.max_split_rounds):
        sizes, purity = _purity(ball, pseudo, n_balls, k)
        wants = (purity < settings.theta) | (sizes > max_size)
        split = wants & (sizes >= 2 * settings.min_ball_size) & ~rejected
        if not bool(split.any()):
            break
        members = split[ball].nonzero().squeeze(1)
        member_runs = torch.bincount(run_of_ball[ball[members]], minlength=runs).tolist()
        side = _two_means(
            x.index_select(0, members),
            ball[members],
            n_balls,
            settings.kmeans_iters,
            generators,
            member_runs,
            own_centres=settings.implementation == "batched",
        )
        child_counts = torch.bincount(2 * ball[members] + side, minlength=2 * n_balls)
        smaller = torch.minimum(child_counts[0::2], child_counts[1::2])
        accept = split & (smaller >= settings.min_ball_size)
        rejected = rejected | (split & ~accept)
        new_ids = n_balls + torch.cumsum(accept.long(), dim=0) - 1
        moving = accept[ball[members]] & (side == 1)
        ball[members[moving]] = new_ids[ball[members[moving]]]
        n_new = int(accept.sum())
        rejected = torch.cat([rejected, torch.zeros(n_new, dtype=torch.bool, device=x.device)])
        run_of_ball = torch.cat([run_of_ball, run_of_ball[accept]])
        n_balls += n_new

    sizes, purity = _purity(ball, pseudo, n_balls, k)
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
        run_of_ball=run_of_ball,
    )


def granular_balls(
    h: torch.Tensor, n_clusters: int, settings: BallSettings, generator: torch.Generator
) -> Balls:
    """Partition the rows of `h` (a batch's representation) into granular balls."""
    return granular_balls_runs(h.unsqueeze(0), n_clusters, settings, [generator])


def granular_balls_representations(
    reps: Mapping[str, torch.Tensor],
    n_clusters: int,
    settings: BallSettings,
    generators: Sequence[Mapping[str, torch.Generator]],
) -> dict[str, Balls]:
    """Granular balls of each representation (`reps`: name → K × B × D, all of one shape) of K
    runs, run r's representation `name` drawing from `generators[r][name]`.

    Distinct generators (`ball_generators` of `batched`): one call over R·K root balls, split
    back per name. A generator serving several representations of a run (`sequential`, or one
    generator given for all): one call per representation in order, as each continues the
    stream where the previous one left it."""
    names = list(reps)
    shared = any(len({id(g[n]) for n in names}) < len(names) for g in generators)
    if shared or len(names) == 1:
        return {
            name: granular_balls_runs(
                reps[name], n_clusters, settings, [g[name] for g in generators]
            )
            for name in names
        }
    stacked = torch.cat([reps[name] for name in names])  # name-major: (R·K) × B × D
    streams = [g[name] for name in names for g in generators]
    together = granular_balls_runs(stacked, n_clusters, settings, streams)
    return dict(zip(names, together.split(len(names)), strict=True))
