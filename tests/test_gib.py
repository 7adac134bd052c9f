"""GIB components (spec/GIB.md): MI estimator, VIB KL, DDC, granular balls, losses, ablations."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from benchmark.losses import ddc_loss, gaussian_kl, mutual_information
from benchmark.models.gib import GIB, VARIANTS, GIBConfig, gib_loss
from benchmark.models.granular import (
    OUT_OF_ROUNDS,
    PURE,
    REJECTED,
    TOO_SMALL,
    BallSettings,
    granular_balls,
    kmeans,
)

# ------------------------------------------------------------------ mutual information


def test_mi_of_independent_uniform_assignments_is_zero():
    p = torch.full((64, 5), 0.2)
    assert mutual_information(p, p).item() == pytest.approx(0.0, abs=1e-6)


@pytest.mark.parametrize("k", [2, 3, 7, 10])
def test_mi_of_identical_balanced_one_hot_is_log_k(k):
    one_hot = torch.eye(k).repeat(9, 1)
    assert mutual_information(one_hot, one_hot).item() == pytest.approx(math.log(k), rel=1e-5)


@given(seed=st.integers(0, 10**6), d=st.integers(2, 12), b=st.integers(2, 40))
@settings(max_examples=60, deadline=None)
def test_mi_is_symmetric_and_non_negative(seed, d, b):
    g = torch.Generator().manual_seed(seed)
    p = torch.softmax(3 * torch.randn(b, d, generator=g), dim=1).double()
    q = torch.softmax(3 * torch.randn(b, d, generator=g), dim=1).double()
    assert mutual_information(p, q).item() == pytest.approx(
        mutual_information(q, p).item(), abs=1e-12
    )
    assert mutual_information(p, q).item() >= -1e-6


# ------------------------------------------------------------------ VIB KL


def test_vib_kl_matches_the_closed_form():
    g = torch.Generator().manual_seed(0)
    mu, logvar = torch.randn(8, 5, generator=g), torch.randn(8, 5, generator=g)
    reference = (
        torch.distributions.kl_divergence(
            torch.distributions.Normal(mu, (0.5 * logvar).exp()),
            torch.distributions.Normal(torch.zeros_like(mu), torch.ones_like(mu)),
        )
        .sum(1)
        .mean()
    )
    assert gaussian_kl(mu, logvar).item() == pytest.approx(reference.item(), rel=1e-6)
    assert gaussian_kl(torch.zeros(4, 3), torch.zeros(4, 3)).item() == 0.0


# ------------------------------------------------------------------ DDC


def test_ddc_prefers_a_confident_correct_clustering_and_has_finite_gradients():
    g = torch.Generator().manual_seed(0)
    k, per = 4, 30
    labels = torch.arange(k).repeat_interleave(per)
    hidden = 5 * torch.nn.functional.one_hot(labels, k).float() + 0.1 * torch.randn(
        k * per, k, generator=g
    )
    perfect = torch.nn.functional.one_hot(labels, k).float() * 0.97 + 0.01
    random = torch.softmax(torch.randn(k * per, k, generator=g), dim=1).requires_grad_()
    for mode in ("clusters", "samples"):
        assert ddc_loss(perfect, hidden, ddc2=mode) < ddc_loss(random, hidden, ddc2=mode)
    loss = ddc_loss(random, hidden.requires_grad_())
    loss.backward()
    assert torch.isfinite(random.grad).all() and torch.isfinite(hidden.grad).all()


# ------------------------------------------------------------------ granular balls


def clustered_batch(seed: int, n: int = 256, d: int = 16, k: int = 5) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    centres = 4 * torch.randn(k, d, generator=g)
    return centres[torch.randint(k, (n,), generator=g)] + torch.randn(n, d, generator=g)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize(
    "ball_settings",
    [
        BallSettings(),
        BallSettings(theta=0.99, n_th=0.3),
        BallSettings(min_ball_size=5, max_split_rounds=3),
    ],
)
def test_balls_partition_the_batch_and_respect_purity_and_size(seed, ball_settings):
    x = clustered_batch(seed)
    balls = granular_balls(x, 5, ball_settings, torch.Generator().manual_seed(seed))
    assignment = balls.assignment
    assert assignment.shape == (x.shape[0],)
    assert sorted(torch.unique(assignment).tolist()) == list(range(balls.n_balls))
    assert balls.sizes.sum().item() == x.shape[0]  # every index exactly once
    assert (balls.sizes >= ball_settings.min_ball_size).all()
    assert set(balls.reason.tolist()) <= {PURE, TOO_SMALL, REJECTED, OUT_OF_ROUNDS}
    pure = balls.reason == PURE
    assert (balls.purity[pure] >= ball_settings.theta).all()
    assert (balls.sizes[pure] <= ball_settings.n_th * x.shape[0]).all()
    too_small = balls.reason == TOO_SMALL
    assert (balls.sizes[too_small] < 2 * ball_settings.min_ball_size).all()
    if ball_settings.max_split_rounds >= 10:
        assert (balls.reason != OUT_OF_ROUNDS).sum() > 0


def test_no_single_sample_balls_with_the_default_min_size():
    for seed in range(10):
        balls = granular_balls(
            torch.randn(256, 32), 10, BallSettings(), torch.Generator().manual_seed(seed)
        )
        assert (balls.sizes >= 2).all()


def test_a_batch_smaller_than_min_size_is_one_ball():
    balls = granular_balls(
        torch.randn(3, 4), 2, BallSettings(min_ball_size=5), torch.Generator().manual_seed(0)
    )
    assert balls.n_balls == 1 and balls.sizes.tolist() == [3]


def test_same_seed_same_balls():
    x = clustered_batch(1)
    a = granular_balls(x, 5, BallSettings(), torch.Generator().manual_seed(7))
    b = granular_balls(x, 5, BallSettings(), torch.Generator().manual_seed(7))
    assert torch.equal(a.assignment, b.assignment)


def test_ball_centres_are_member_means_with_gradient():
    x = clustered_batch(2).requires_grad_()
    balls = granular_balls(x, 5, BallSettings(), torch.Generator().manual_seed(0))
    centres = balls.centres(x)
    first = balls.assignment == 0
    assert torch.allclose(centres[0], x[first].mean(0))
    balls.sample_centres(x).sum().backward()
    assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    assert (balls.radii(x.detach()) >= 0).all()


def test_kmeans_recovers_separated_clusters():
    from benchmark.metrics import accuracy

    g = torch.Generator().manual_seed(3)
    labels = torch.arange(4).repeat_interleave(50)
    x = 20 * torch.eye(4)[labels] + torch.randn(200, 4, generator=g)
    found = kmeans(x, 4, 20, torch.Generator().manual_seed(0))
    assert accuracy(labels.numpy(), found.numpy()) == 100.0


# ------------------------------------------------------------------ GIB losses and ablations


@pytest.fixture
def tiny():
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    views = [
        torch.rand(64, 12, generator=g),
        torch.rand(64, 7, generator=g),
        torch.rand(64, 5, generator=g),
    ]
    config = GIBConfig(encoder_hidden=(32, 32), latent_dim=16, head_hidden=8)
    return GIB([12, 7, 5], 4, config), views


def encoder_gradients(model: GIB, loss: torch.Tensor) -> list[float]:
    model.zero_grad()
    loss.backward(retain_graph=True)
    return [
        sum(p.grad.abs().sum().item() for p in e.parameters() if p.grad is not None)
        for e in model.encoders
    ]


def test_every_loss_component_reaches_every_encoder(tiny):
    model, views = tiny
    step = gib_loss(model, model(views), "GIB", torch.Generator().manual_seed(0))
    for component in ("L_DDC", "L_Samples", "L_Balls", "total"):
        grads = encoder_gradients(model, step.terms[component])
        assert all(g > 0 for g in grads), f"{component} misses an encoder: {grads}"
    for term in ("vib", "mi_yy", "mi_ys", "mi_cc", "mi_cs", "ddc1", "ddc2", "ddc3"):
        grads = encoder_gradients(model, step.terms[term])
        assert all(g > 0 for g in grads), f"{term} misses an encoder: {grads}"


def test_each_ablation_switches_off_exactly_its_terms(tiny):
    model, views = tiny
    ddc = {"ddc1", "ddc2", "ddc3", "L_DDC", "total"}
    samples = {"vib", "mi_yy", "mi_ys", "L_Samples"}
    balls = {"mi_cc", "mi_cs", "L_Balls"}
    expected = {
        "DDC": ddc,
        "DDC+Balls": ddc | balls,
        "DDC+Samples": ddc | samples,
        "GIB": ddc | samples | balls,
    }
    assert set(VARIANTS) == set(expected)
    for variant, terms in expected.items():
        out = model(views)
        step = gib_loss(model, out, variant, torch.Generator().manual_seed(0))
        assert set(step.terms) == terms, variant
        active = [step.terms[t] for t in ("L_DDC", "L_Samples", "L_Balls") if t in step.terms]
        assert step.terms["total"].item() == pytest.approx(sum(a.item() for a in active))
        assert bool(step.balls) == ("Balls" in variant or variant == "GIB")


def test_loss_weights_follow_alpha_and_beta(tiny):
    model, views = tiny
    out = model(views)
    step = gib_loss(model, out, "GIB", torch.Generator().manual_seed(0))
    t = {k: v.item() for k, v in step.terms.items()}
    a, b = model.config.alpha, model.config.beta
    assert t["L_Samples"] == pytest.approx(a * (t["vib"] + t["mi_yy"]) - b * t["mi_ys"])
    assert t["L_Balls"] == pytest.approx(a * t["mi_cc"] - b * t["mi_cs"])


def test_fusion_starts_uniform_and_sums_to_one(tiny):
    model, _ = tiny
    assert torch.allclose(model.fusion.weights, torch.full((3,), 1 / 3))
    model.fusion.logits.data = torch.tensor([1.0, -2.0, 0.5])
    assert model.fusion.weights.sum().item() == pytest.approx(1.0)


def test_batchnorm_running_stats_follow_the_fused_pathway(tiny):
    model, views = tiny
    model.train()
    norm = model.ddc.hidden[2]
    torch.manual_seed(1)  # the same ε for both forward passes
    model(views, per_view=False)
    fused_only = norm.running_mean.clone()
    norm.reset_running_stats()
    torch.manual_seed(1)
    model(views, per_view=True)
    assert torch.equal(norm.running_mean, fused_only)
    assert norm.num_batches_tracked.item() == 1
