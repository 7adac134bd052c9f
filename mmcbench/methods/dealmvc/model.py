"""DealMVC's network (spec/DealMVC.md "Architecture"): MFLVC's autoencoders, feature head and
label head (`MFLVC`, with D = `high_feature_dim`), then the concat head, the attention module
and the p-net, built in the code's order so that a seeded torch RNG gives the same weights."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from mmcbench.methods.dealmvc.config import DealMVCConfig
from mmcbench.methods.mflvc.model import MFLVC

ATTN_BIAS_DIM = 6  # the code's `attn_bias_dim`: input width of the never-called `linear_bias`


class ViewAttention(nn.Module):
    """The code's multi-head attention over the V × width matrix T (one row per view), q = k =
    v = T: each row is one query and one key per head, so every softmax runs over one key and
    equals 1; dropout (rate `dropout`) on those weights makes each head's weight 0 or 1/(1−p).
    Output a_v = W_o [m_{v,1} u_{v,1}; …; m_{v,H} u_{v,H}] + b_o, u_v = W_v T_v + b_v split
    into H heads of ⌊width/H⌋ units (the whole width when H divides it; the code: 256 = 8·32).
    `linear_bias` (6 → H) is built, never called (it only consumes init RNG)."""

    def __init__(self, width: int, heads: int, dropout: float) -> None:
        super().__init__()
        if width < heads:
            raise ValueError(f"attention width {width} is below num_heads {heads}")
        self.heads = heads
        self.head_size = width // heads
        inner = heads * self.head_size
        self.width = width
        self.dropout = dropout
        self.linear_q = nn.Linear(width, inner)
        self.linear_k = nn.Linear(width, inner)
        self.linear_v = nn.Linear(width, inner)
        self.output_layer = nn.Linear(inner, 1)
        self.linear_bias = nn.Linear(ATTN_BIAS_DIM, heads)

    def forward(self, t: torch.Tensor, dropout: bool) -> torch.Tensor:
        """a ∈ R^V of T (V × width); `dropout`: the attention weights' dropout is active
        (drawn from torch's global generator)."""
        v_count = t.shape[0]
        split = (v_count, self.heads, 1, self.head_size)  # (view, head, query, unit)
        q = self.linear_q(t).view(split)
        k = self.linear_k(t).view(split)
        v = self.linear_v(t).view(split)
        scores = q @ k.transpose(2, 3) / math.sqrt(self.head_size)  # V × H × 1 × 1
        weights = F.dropout(torch.softmax(scores, dim=3), self.dropout, training=dropout)
        mixed = (weights @ v).reshape(v_count, -1)  # V × H·head_size
        return self.output_layer(mixed).squeeze(1)


class PNet(nn.Module):
    """The code's `FeedForwardNetwork`: π = W_2 GELU(W_1 p + b_1) + b_2 ∈ R^V (V → ffn_size →
    V, no dropout), of the constant input p = (1/V)·1."""

    def __init__(self, n_views: int, ffn_size: int) -> None:
        super().__init__()
        self.n_views = n_views
        self.layer1 = nn.Linear(n_views, ffn_size)
        self.layer2 = nn.Linear(ffn_size, n_views)

    def forward(self) -> torch.Tensor:
        p = self.layer1.weight.new_full((self.n_views,), 1.0 / self.n_views)
        return self.layer2(F.gelu(self.layer1(p)))


class DealMVC(MFLVC):
    """MFLVC's modules (encoder v, decoder v per view, feature head L → D, label head L → k),
    then the concat head Linear(V·L → k) (`concat_head: build`; never called), the attention
    (`attention_width` wide) and the p-net. `init: he` redraws every Linear weight He-normal
    (MFLVC's, then these)."""

    def __init__(
        self, input_dims: list[int], n_clusters: int, config: DealMVCConfig, attention_width: int
    ) -> None:
        super().__init__(input_dims, n_clusters, config)  # type: ignore[arg-type]
        n_views = len(input_dims)
        extra: list[nn.Module] = []
        self.concat_head: nn.Module | None = None
        if config.concat_head == "build":
            self.concat_head = nn.Linear(n_views * config.feature_dim, n_clusters)
            extra.append(self.concat_head)
        self.attention = ViewAttention(
            attention_width, config.num_heads, config.attention_dropout_rate
        )
        self.pnet = PNet(n_views, config.ffn_size)
        extra += [self.attention, self.pnet]
        if config.init == "he":
            for part in extra:
                for module in part.modules():
                    if isinstance(module, nn.Linear):
                        nn.init.kaiming_normal_(module.weight)

    def fusion_ratios(self, h: list[torch.Tensor], dropout: bool) -> torch.Tensor:
        """r = softmax over views of a_v π_v: a the attention's output on T (T_vi = mean of
        h^v_i over its D coordinates), π the p-net's."""
        t = torch.stack([hv.mean(dim=1) for hv in h])  # V × B
        if t.shape[1] != self.attention.width:
            raise ValueError(
                f"the attention reads rows of {self.attention.width} samples, the batch has "
                f"{t.shape[1]} (the code's coupling of hidden_dim and batch_size)"
            )
        a = self.attention(t, dropout)
        return torch.softmax(a * self.pnet(), dim=0)
