"""GIB: Granular Information Bottleneck (spec/GIB.md), its losses and its ablations.

L_total = L_Balls + L_Samples + L_DDC (Eq. 2), with
- L_Balls   = α Σ_{i<j} I(C^i; C^j) − β Σ_i I(C^i; C^s)                          (Eq. 5)
- L_Samples = α [Σ_i I(X^i; H^i) + Σ_{i<j} I(Y^i; Y^j)] − β Σ_i I(Y^i; Y^s)          (Eq. 6)
- L_DDC     = DDC1 + DDC2 + DDC3 on the fused assignment Y^s                        (Eq. 7)
I(X^i; H^i) is read by `compression` (`compression_term`): the analytic VIB KL (default), its
Monte-Carlo estimate at the draw (`sampled`), the balance of the batch's mean Y^i against the
uniform distribution (`cluster_balance`), or nothing (`none`). The history's `clustering` term is
the total without it.
Ablations (Table 2): DDC, DDC+Balls, DDC+Samples, GIB (all three).

What the DDC module clusters is key `ddc_input` (spec, revised): `balls` (default, the paper's
text) gives Y^i = DDC(C^i) and Y^s = DDC(C^s), each sample carrying its ball centre, so balls
are generated whenever DDC needs them, in every variant; `samples` (the first reading) gives
Y^i = DDC(H^i), Y^s = DDC(H^s). Spec's text "cluster the granular balls and map the results
back to the samples" is built as the DDC module applied to each sample's centre row: every
member of a ball gets the ball's assignment, and BatchNorm and the DDC kernel see each ball
weighted by its size (DDC on the bare list of centres would see as few as one row per batch).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import combinations

import torch

from mmcbench.core.settings import COMPRESSION_READINGS
from mmcbench.losses import (
    cluster_balance,
    ddc_terms,
    feature_distribution,
    grouped_mutual_information,
    mutual_information,
    variational_kl,
)
from mmcbench.methods.gib.config import GIBConfig, variant_terms
from mmcbench.models.granular import Balls, granular_balls, granular_balls_representations
from mmcbench.models.layers import (
    ClusteringHead,
    Encoding,
    FusedEncoders,
    running_stats_frozen,
)

TERMS = (
    "ddc1",
    "ddc2",
    "ddc3",
    "vib",
    "mi_yy",
    "mi_ys",
    "mi_cc",
    "mi_cs",
    "L_DDC",
    "L_Samples",
    "L_Balls",
    "total",
)
FUSED = "fused"  # name of the fused representation's balls (views are v0, v1, …)


@dataclass
class GIBOutput:
    h: list[torch.Tensor]  # per view, B × latent (sampled in training, μ in eval)
    mu: list[torch.Tensor]
    logvar: list[torch.Tensor | None]
    hs: torch.Tensor  # fused representation H^s
    y: list[torch.Tensor]  # per-view assignments Y^i (empty when no term uses them)
    ys: torch.Tensor  # fused assignment Y^s (the clustering)
    zs: torch.Tensor  # DDC hidden activations of the fused pass
    balls: dict[str, Balls] = field(default_factory=dict)  # v0, v1, …, fused: those generated
    centres: dict[str, torch.Tensor] = field(default_factory=dict)  # C: each sample's centre
    ball_seconds: float = 0.0  # time spent generating granular balls
    ball_centres: dict[str, torch.Tensor] = field(default_factory=dict)  # each ball's centre


def _synchronise(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class GIB(FusedEncoders):
    """Variational encoders, softmax fusion and one DDC module shared by all modalities."""

    def __init__(self, input_dims: list[int], n_clusters: int, config: GIBConfig) -> None:
        super().__init__(input_dims, n_clusters, config)
        # Spec's resolution: one DDC module for Y^i and Y^s, so cluster ids are comparable.
        self.ddc = ClusteringHead(config.latent_dim, n_clusters, config.head_hidden)
        self.initialise()

    def forward(
        self,
        views: list[torch.Tensor],
        variant: str = "GIB",
        generator: torch.Generator | Mapping[str, torch.Generator] | None = None,
        encoded: Encoding | None = None,
    ) -> GIBOutput:
        """One training pass of `variant`: encoders, the balls it needs, the DDC module.
        `generator`: the balls' generators by representation name (`ball_generators`), or one
        generator for all (a shared stream). `encoded`: the encoders' output for `views`
        when it is already known (an evaluation reuses `encode_all`'s rows)."""
        h, mu, logvar, hs = self.encode(views) if encoded is None else encoded
        wanted = self.ball_inputs(h, hs, variant)
        if isinstance(generator, torch.Generator):
            generator = dict.fromkeys(wanted, generator)
        balls, seconds = self.make_balls(wanted, [generator] if wanted else [])
        ball_centres = {name: balls[name].centres(rep) for name, rep in wanted.items()}
        centres = {
            name: c.index_select(0, balls[name].assignment) for name, c in ball_centres.items()
        }
        ys, zs, y = self.cluster(h, hs, centres, variant)
        return GIBOutput(h, mu, logvar, hs, y, ys, zs, balls, centres, seconds, ball_centres)

    def ball_inputs(
        self, h: list[torch.Tensor], hs: torch.Tensor, variant: str
    ) -> dict[str, torch.Tensor]:
        """The representations `variant` needs balls of, by name (v0, v1, …, fused)."""
        terms = variant_terms(variant)
        on_balls = self.config.ddc_input == "balls"
        wanted = {}
        if terms.balls or (on_balls and terms.samples):  # C^i for L_Balls, or Y^i = DDC(C^i)
            wanted.update((f"v{i}", hi) for i, hi in enumerate(h))
        if terms.balls or on_balls:
            wanted[FUSED] = hs
        return wanted

    def cluster(
        self,
        h: list[torch.Tensor],
        hs: torch.Tensor,
        centres: dict[str, torch.Tensor],
        variant: str,
    ) -> tuple[torch.Tensor, torch.Tensor, list[torch.Tensor]]:
        """The DDC module's pass: Y^s and its hidden activations, and Y^i when L_Samples is
        on (on each sample's centre C or on H, by `ddc_input`)."""
        on_balls = self.config.ddc_input == "balls"
        ys, zs = self.ddc(centres[FUSED] if on_balls else hs)
        y = []
        if variant_terms(variant).samples:
            # BatchNorm running statistics follow the fused pathway, the one evaluation uses
            # (argmax Y^s); per-view passes normalise with their batch statistics as usual.
            with running_stats_frozen(self.ddc):
                y = [self.ddc(centres[f"v{i}"] if on_balls else hi)[0] for i, hi in enumerate(h)]
        return ys, zs, y

    def make_balls(
        self,
        reps: dict[str, torch.Tensor],
        generators: Sequence[Mapping[str, torch.Generator] | None],
    ) -> tuple[dict[str, Balls], float]:
        """Granular balls of each representation (B × D for one run, K × B × D for K runs;
        run r's representation `name` drawing from `generators[r][name]`), and their time:
        one batched call when each representation has its own stream
        (`granular_balls_representations`)."""
        if not reps:
            return {}, 0.0
        if not generators or any(g is None or not set(reps) <= set(g) for g in generators):
            raise ValueError("generating granular balls needs a torch.Generator per representation")
        device = next(iter(reps.values())).device
        _synchronise(device)
        t0 = time.perf_counter()
        runs = {name: rep if rep.dim() == 3 else rep.unsqueeze(0) for name, rep in reps.items()}
        balls = granular_balls_representations(runs, self.n_clusters, self.config.balls, generators)
        _synchronise(device)
        return balls, time.perf_counter() - t0

    @torch.no_grad()
    def predict(
        self,
        views: list[torch.Tensor],
        seed: int,
        chunk: int = 4096,
        encoded: Encoding | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Fused assignments and fused H (= μ) of every sample, in eval mode (`eval_input`).

        `samples`: argmax DDC(H^s). `balls` (spec: "generates the balls of H^s over the whole
        evaluated set"): one partition of all samples' H^s into granular balls (generator
        seeded with `seed`, the same at every evaluation), every sample taking the DDC
        assignment of its ball's centre. Forward passes run in chunks of `chunk` samples;
        `encoded`: `encode_all(views)` when the caller has it already.
        """
        n = views[0].shape[0]
        spans = [slice(i, i + chunk) for i in range(0, n, chunk)]
        hs = (self.encode_all(views, chunk) if encoded is None else encoded)[3]
        if self.config.eval_input == "samples":
            inputs = hs
        elif self.config.eval_input == "balls":
            generator = torch.Generator().manual_seed(seed)  # on CPU, as in training
            balls = granular_balls(hs, self.n_clusters, self.config.balls, generator)
            inputs = balls.sample_centres(hs)
        else:
            raise ValueError(
                f"eval_input must be 'samples' or 'balls', got {self.config.eval_input!r}"
            )
        probs = torch.cat([self.ddc(inputs[span])[0] for span in spans])
        return probs, hs


def compression_term(out: GIBOutput, cfg: GIBConfig, zero: torch.Tensor) -> torch.Tensor | None:
    """Σ_i I(X^i; H^i) of L_Samples (history term `vib` under every reading), by `compression`:
    `gaussian_kl` (default) the analytic VIB KL of each variational view, reduced by
    `kl_reduction`; `sampled` the same KL at this step's reparameterised draw H^i (its
    expectation is `gaussian_kl`'s); `cluster_balance` the KL of the batch's mean Y^i (the DDC
    module's assignments of view i, from this step's one draw of H^i) against the uniform
    distribution over k, for every view (it needs no σ, so `variational: false` keeps it);
    `none` no term (None)."""
    if cfg.compression in ("gaussian_kl", "sampled"):
        return variational_kl(cfg.compression, out.h, out.mu, out.logvar, cfg.kl_reduction, zero)
    if cfg.compression == "cluster_balance":
        return sum((cluster_balance(yi) for yi in out.y), zero)
    if cfg.compression == "none":
        return None
    raise ValueError(f"compression must be one of {COMPRESSION_READINGS}, got {cfg.compression!r}")


def _centre_information(out: GIBOutput, names: Sequence[str], cfg: GIBConfig):
    """I(C^a; C^b) by representation names. With `balls.implementation: batched` and the
    balls at hand (a run alone), from each ball's centre and the number of samples each pair
    of balls shares (`grouped_mutual_information`: the same sum over the samples, taken per
    pair of balls); else from the samples' rows of C (`sequential`, and a pack's vmapped step,
    which has no balls)."""
    mode, eps = cfg.feature_mi_input, cfg.mi_eps
    if cfg.balls.implementation == "batched" and all(n in out.ball_centres for n in names):
        groups = {
            n: (feature_distribution(out.ball_centres[n], mode), out.balls[n].assignment)
            for n in names
        }
        return lambda a, b: grouped_mutual_information(*groups[a], *groups[b], eps)
    rows = {n: feature_distribution(out.centres[n], mode) for n in names}
    return lambda a, b: mutual_information(rows[a], rows[b], eps)


@dataclass
class StepResult:
    terms: dict[str, torch.Tensor]


def gib_loss(
    model: GIB,
    out: GIBOutput,
    variant: str,
    alpha: float | torch.Tensor | None = None,
    beta: float | torch.Tensor | None = None,
) -> StepResult:
    """All loss terms of one training step for an ablation variant (inactive terms absent).

    α and β are the config's unless given (a pack passes each run's own)."""
    terms_on = variant_terms(variant)
    cfg = model.config
    alpha = cfg.alpha if alpha is None else alpha
    beta = cfg.beta if beta is None else beta
    mi = lambda p, q: mutual_information(p, q, cfg.mi_eps)  # noqa: E731
    terms = ddc_terms(out.ys, out.zs, cfg.rel_sigma, cfg.ddc2)
    terms["L_DDC"] = terms["ddc1"] + terms["ddc2"] + terms["ddc3"]
    total = terms["L_DDC"]
    pairs = list(combinations(range(len(out.h)), 2))
    zero = out.ys.new_zeros(())

    compression = zero
    if terms_on.samples:
        vib = compression_term(out, cfg, zero)
        if vib is not None:
            terms["vib"] = vib
            compression = alpha * vib
        terms["mi_yy"] = sum((mi(out.y[i], out.y[j]) for i, j in pairs), zero)
        terms["mi_ys"] = sum((mi(yi, out.ys) for yi in out.y), zero)
        kept = terms["mi_yy"] if vib is None else terms["vib"] + terms["mi_yy"]
        terms["L_Samples"] = alpha * kept - beta * terms["mi_ys"]
        total = total + terms["L_Samples"]

    if terms_on.balls:
        # C^i as the MI estimator takes them (`feature_mi_input`): Proposition 1 needs
        # non-negative rows; C rows are feature vectors.
        names = [f"v{i}" for i in range(len(out.h))] + [FUSED]
        mi_c = _centre_information(out, names, cfg)
        terms["mi_cc"] = sum((mi_c(names[i], names[j]) for i, j in pairs), zero)
        terms["mi_cs"] = sum((mi_c(name, FUSED) for name in names[:-1]), zero)
        terms["L_Balls"] = alpha * terms["mi_cc"] - beta * terms["mi_cs"]
        total = total + terms["L_Balls"]

    terms["total"] = total
    # The clustering terms alone (what the label-free rule reads, `protocols`): the total
    # without the compression term, whose value falls while σ grows under `gaussian_kl`.
    terms["clustering"] = total - compression
    return StepResult(terms=terms)
