"""DIVIDE's network (spec/DIVIDE.md "Architecture"): per view an online encoder f_v, its EMA
target f̄_v (no gradient) and cross-view decoders g."""

from __future__ import annotations

import copy
import itertools

import torch
from torch import nn

from mmcbench.methods.divide.config import DIVIDEConfig


def encoder(d_in: int, dims: tuple[int, ...], drop_rate: float) -> nn.Sequential:
    """The code's FCN: per hidden width a block Linear (no bias) → BatchNorm1d → ReLU, Dropout
    after every hidden block but the last; the output layer Linear (no bias) →
    BatchNorm1d(affine=False), so z is batch-normalised, not L2-normalised."""
    layers: list[nn.Module] = []
    hidden, out = dims[:-1], dims[-1]
    widths = [d_in, *hidden]
    for i, (a, b) in enumerate(itertools.pairwise(widths)):
        layers += [nn.Linear(a, b, bias=False), nn.BatchNorm1d(b), nn.ReLU()]
        if i < len(hidden) - 1:
            layers.append(nn.Dropout(drop_rate))
    layers += [nn.Linear(widths[-1], out, bias=False), nn.BatchNorm1d(out, affine=False)]
    return nn.Sequential(*layers)


def decoder(dim: int, hidden: int) -> nn.Sequential:
    """The code's MLP: Linear(dim → hidden) → ReLU → Linear(hidden → dim), with biases."""
    return nn.Sequential(nn.Linear(dim, hidden), nn.ReLU(), nn.Linear(hidden, dim))


class DIVIDE(nn.Module):
    """Online encoders `encoders[v]`, targets `targets[v]` (deep copies after initialisation,
    requires_grad False, moved only by `ema_update`) and decoders: `cross_decoder: per_view`
    one g_u per source view (`decoders[u]`), `per_pair` one g_{u→v} per ordered pair
    (`decoders[pair_index(u, v)]`, pairs in `pairs` order)."""

    def __init__(self, input_dims: list[int], config: DIVIDEConfig) -> None:
        super().__init__()
        self.config = config
        dims = tuple(config.encoder_dims)
        V = len(input_dims)
        self.encoders = nn.ModuleList(encoder(d, dims, config.drop_rate) for d in input_dims)
        self.pairs = [(u, v) for u in range(V) for v in range(V) if u != v]
        n_decoders = V if config.cross_decoder == "per_view" else len(self.pairs)
        self.decoders = nn.ModuleList(
            decoder(dims[-1], config.decoder_hidden) for _ in range(n_decoders)
        )
        if config.init == "he":  # He-normal weights, biases kept (the suite's alternative)
            for module in self.modules():
                if isinstance(module, nn.Linear):
                    nn.init.kaiming_normal_(module.weight)
        self.targets = nn.ModuleList(copy.deepcopy(e) for e in self.encoders)
        for p in self.targets.parameters():
            p.requires_grad_(False)

    @property
    def n_views(self) -> int:
        return len(self.encoders)

    def pair_index(self, u: int, v: int) -> int:
        return self.pairs.index((u, v))

    def cross(self, u: int, v: int, z: torch.Tensor) -> torch.Tensor:
        """g applied to view u's embedding toward view v (g_u, or g_{u→v} under per_pair)."""
        if self.config.cross_decoder == "per_view":
            return self.decoders[u](z)
        return self.decoders[self.pair_index(u, v)](z)

    def eval_decoded(self, u: int, z: torch.Tensor) -> torch.Tensor:
        """View u's decoded evaluation feature before normalisation: g_u(z) (per_view), the
        mean over v ≠ u of g_{u→v}(z) (per_pair)."""
        if self.config.cross_decoder == "per_view":
            return self.decoders[u](z)
        outs = [self.decoders[self.pair_index(u, v)](z) for v in range(self.n_views) if v != u]
        return torch.stack(outs).mean(dim=0)

    @torch.no_grad()
    def ema_update(self, momentum: float, copy_buffers: bool = False) -> None:
        """θ̄ ← m θ̄ + (1 − m) θ over the parameters (Linear weights, BN γ and β); the target's
        BN running statistics stay its own unless `copy_buffers` (then the online encoder's)."""
        for online, target in zip(self.encoders, self.targets, strict=True):
            for p, q in zip(online.parameters(), target.parameters(), strict=True):
                q.mul_(momentum).add_(p.detach(), alpha=1.0 - momentum)
            if copy_buffers:
                for b, c in zip(online.buffers(), target.buffers(), strict=True):
                    c.copy_(b)
