"""GIB components (spec/GIB.md): MI estimator, VIB KL, DDC, granular balls, losses, ablations."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from mmcbench.losses import (
    ddc_loss,
    feature_distribution,
    gaussian_kl,
    grouped_mutual_information,
    mutual_information,
)
from mmcbench.methods.gib.config import VARIANTS
from mmcbench.methods.gib.model import FUSED, GIB, GIBConfig, gib_loss
from mmcbench.models.granular import (
    OUT_OF_ROUNDS,
    PURE,
    REJECTED,
    TOO_SMALL,
    BallSettings,
    granular_balls,
    kmeans,
)
from mmcbench.models.layers import VariationalEncoder

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


@given(seed=st.integers(0, 10**6), groups=st.integers(1, 9), b=st.integers(2, 40))
@settings(max_examples=40, deadline=None)
def test_grouped_mi_equals_mi_of_the_rows_it_stands_for(seed, groups, b):
    """I(P; Q) from group rows and each row's group (a ball's centre and its members) is the
    MI of the B rows, in value and gradient (float64)."""
    g = torch.Generator().manual_seed(seed)
    p_groups = torch.rand(groups, 6, generator=g, dtype=torch.float64, requires_grad=True)
    q_groups = torch.rand(groups + 2, 6, generator=g, dtype=torch.float64, requires_grad=True)
    p_of_row = torch.randint(groups, (b,), generator=g)
    q_of_row = torch.randint(groups + 2, (b,), generator=g)
    grouped = grouped_mutual_information(p_groups, p_of_row, q_groups, q_of_row)
    plain = mutual_information(p_groups[p_of_row], q_groups[q_of_row])
    assert grouped.item() == pytest.approx(plain.item(), rel=1e-10, abs=1e-12)
    grouped_grads = torch.autograd.grad(grouped, (p_groups, q_groups))
    plain_grads = torch.autograd.grad(plain, (p_groups, q_groups))
    for a, c in zip(grouped_grads, plain_grads, strict=True):
        torch.testing.assert_close(a, c, rtol=1e-9, atol=1e-12)


def test_grouped_mi_refuses_rows_of_different_lengths():
    groups = torch.rand(3, 4)
    with pytest.raises(ValueError, match="same rows"):
        grouped_mutual_information(
            groups, torch.zeros(5, dtype=torch.long), groups, torch.zeros(6, dtype=torch.long)
        )


def sparse_features(seed: int, b: int = 8192, d: int = 32, active: int = 2) -> torch.Tensor:
    """Non-negative rows with `active` non-zero features each (as after a ReLU), at the small
    scale of an encoder's output at initialisation."""
    g = torch.Generator().manual_seed(seed)
    rows = torch.zeros(b, d, dtype=torch.float64)
    columns = torch.stack([torch.randperm(d, generator=g)[:active] for _ in range(b)])
    rows.scatter_(1, columns, 0.05 * torch.rand(b, active, generator=g, dtype=torch.float64))
    return rows


def test_normalised_feature_mi_sees_shared_features_and_softmax_does_not():
    """The finding behind the revision: rows of small features, as softmax rows, are nearly
    uniform, so I ≈ 0 whether the two batches are identical or independent; normalised rows
    give a clearly positive I for identical batches and ≈ 0 for independent ones. (32 features
    and 8192 rows: the plug-in estimate of independent batches is biased up by about
    D²/(2B), 0.2 nats for 256 features and 2048 rows.)"""
    a, b = sparse_features(0), sparse_features(1)

    def mi(p, q, mode):
        return mutual_information(
            feature_distribution(p, mode), feature_distribution(q, mode)
        ).item()

    assert mi(a, a, "normalised") > 1.0  # log 32 = 3.5 is the most there is
    assert mi(a, b, "normalised") < 0.03
    assert mi(a, a, "softmax") < 1e-3
    assert mi(a, b, "softmax") < 1e-3


def test_normalised_feature_mi_survives_rows_of_zeros():
    zeros = torch.zeros(16, 8, requires_grad=True)
    value = mutual_information(feature_distribution(zeros, "normalised"), torch.rand(16, 8))
    assert torch.isfinite(value)
    value.backward()
    assert torch.isfinite(zeros.grad).all()


def test_feature_distribution_refuses_an_unknown_mode():
    with pytest.raises(ValueError, match="feature_mi_input"):
        feature_distribution(torch.rand(3, 4), "sigmoid")


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
    assert gaussian_kl(mu, logvar, "sum").item() == pytest.approx(reference.item(), rel=1e-6)
    assert gaussian_kl(mu, logvar, "mean").item() == pytest.approx(reference.item() / 5, rel=1e-6)


def test_kl_sum_is_latent_dim_times_mean_and_both_vanish_at_the_prior():
    g = torch.Generator().manual_seed(1)
    mu, logvar = torch.randn(32, 256, generator=g), 0.3 * torch.randn(32, 256, generator=g)
    summed, mean = gaussian_kl(mu, logvar, "sum"), gaussian_kl(mu, logvar, "mean")
    assert summed.item() == pytest.approx(256 * mean.item(), rel=1e-5)
    zero_mu, unit_logvar = torch.zeros(32, 256), torch.zeros(32, 256)  # μ = 0, σ = 1
    assert gaussian_kl(zero_mu, unit_logvar, "sum").item() == 0.0
    assert gaussian_kl(zero_mu, unit_logvar, "mean").item() == 0.0
    with pytest.raises(ValueError, match="kl_reduction"):
        gaussian_kl(mu, logvar, "max")


# ------------------------------------------------------------------ encoder σ


def initial_encoding(sigma_param: str, init: str) -> tuple[torch.Tensor, torch.Tensor]:
    """(σ, μ) of every unit for min-max scaled inputs, at initialisation (a GIB encoder)."""
    torch.manual_seed(0)
    model = GIB([76, 216], 10, GIBConfig(sigma_param=sigma_param, init=init))
    x = torch.rand(512, 76, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        _, mu, logvar = model.encoders[0](x)
    return (0.5 * logvar).exp(), mu


def test_softplus_offset_starts_with_sigma_below_001_and_exp_logvar_near_one():
    """Under PyTorch's initialisation (the first reading's), every unit."""
    sigma, _ = initial_encoding("softplus_offset", "torch_default")
    assert sigma.max().item() < 0.01
    sigma, _ = initial_encoding("exp_logvar", "torch_default")
    assert sigma.min().item() > 0.8 and sigma.max().item() < 1.25


@pytest.mark.parametrize("init", ["torch_default", "he"])
def test_softplus_offset_noise_is_small_against_mu_and_exp_logvar_noise_swamps_it(init):
    """What the revision is about: the sampled H = μ + σε is mostly μ with softplus_offset
    and mostly noise with exp_logvar, under either initialisation (He scales μ up too)."""
    sigma, mu = initial_encoding("softplus_offset", init)
    assert (sigma.mean(0) / mu.std(0)).median().item() < 0.5
    assert sigma.median().item() == pytest.approx(0.0067, abs=0.001)  # softplus(−5)
    sigma, mu = initial_encoding("exp_logvar", init)
    assert (sigma.mean(0) / mu.std(0)).median().item() > 2.0


def test_encoder_samples_around_mu_in_training_and_returns_mu_in_eval():
    torch.manual_seed(0)
    encoder = VariationalEncoder(5, (8,), 4, True, "softplus_offset", 5.0)
    x = torch.rand(100, 5)
    h, mu, logvar = encoder(x)
    sigma = (0.5 * logvar).exp()
    assert torch.allclose(
        sigma, torch.nn.functional.softplus(encoder.head(encoder.body(x))[:, 4:] - 5) + 1e-7
    )
    assert 0 < (h - mu).abs().max() < 10 * sigma.max()
    encoder.eval()
    h, mu, _ = encoder(x)
    assert torch.equal(h, mu)
    with pytest.raises(ValueError, match="sigma_param"):
        VariationalEncoder(5, (8,), 4, True, "log_sigma", 5.0)


def test_he_init_draws_kaiming_normal_weights_and_keeps_the_bias():
    torch.manual_seed(0)
    default = GIB([300, 20], 5, GIBConfig(init="torch_default"))
    torch.manual_seed(0)
    he = GIB([300, 20], 5, GIBConfig(init="he"))
    layer_default, layer_he = default.encoders[0].body[0], he.encoders[0].body[0]
    assert torch.equal(layer_default.bias, layer_he.bias)
    assert layer_he.weight.std().item() == pytest.approx((2 / 300) ** 0.5, rel=0.05)
    assert layer_default.weight.abs().max().item() <= 300**-0.5


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
    from mmcbench.runs.metrics import accuracy

    g = torch.Generator().manual_seed(3)
    labels = torch.arange(4).repeat_interleave(50)
    x = 20 * torch.eye(4)[labels] + torch.randn(200, 4, generator=g)
    found = kmeans(x, 4, 20, torch.Generator().manual_seed(0))
    assert accuracy(labels.numpy(), found.numpy()) == 100.0


# ------------------------------------------------------------------ GIB losses and ablations


def tiny_model(**changes) -> GIB:
    torch.manual_seed(0)
    config = GIBConfig(encoder_hidden=(32, 32), latent_dim=16, head_hidden=8, **changes)
    return GIB([12, 7, 5], 4, config)


def tiny_views() -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return [
        torch.rand(64, 12, generator=g),
        torch.rand(64, 7, generator=g),
        torch.rand(64, 5, generator=g),
    ]


@pytest.fixture(params=["balls", "samples"])
def tiny(request):
    return tiny_model(ddc_input=request.param), tiny_views()


def forward_and_loss(model: GIB, views: list[torch.Tensor], variant: str):
    out = model(views, variant, torch.Generator().manual_seed(0))
    return out, gib_loss(model, out, variant)


def encoder_gradients(model: GIB, loss: torch.Tensor) -> list[float]:
    model.zero_grad()
    loss.backward(retain_graph=True)
    return [
        sum(p.grad.abs().sum().item() for p in e.parameters() if p.grad is not None)
        for e in model.encoders
    ]


def test_every_loss_component_reaches_every_encoder(tiny):
    model, views = tiny
    _, step = forward_and_loss(model, views, "GIB")
    for component in ("L_DDC", "L_Samples", "L_Balls", "total"):
        grads = encoder_gradients(model, step.terms[component])
        assert all(g > 0 for g in grads), f"{component} misses an encoder: {grads}"
    for term in ("vib", "mi_yy", "mi_ys", "mi_cc", "mi_cs", "ddc1", "ddc2", "ddc3"):
        grads = encoder_gradients(model, step.terms[term])
        assert all(g > 0 for g in grads), f"{term} misses an encoder: {grads}"


def test_ball_mi_from_ball_centres_equals_the_samples_rows(float64):
    """`balls.implementation: batched` takes L_Balls's MI per pair of balls; without the balls
    (a pack's step) it takes the samples' rows of C: the same terms, in float64."""
    model, views = tiny_model(), [v.double() for v in tiny_views()]
    out, step = forward_and_loss(model, views, "GIB")
    assert out.ball_centres, "a run alone keeps each ball's centre"
    rows_only = dataclasses.replace(out, balls={}, ball_centres={})
    again = gib_loss(model, rows_only, "GIB")
    for term in ("mi_cc", "mi_cs", "L_Balls", "total"):
        assert again.terms[term].item() == pytest.approx(step.terms[term].item(), rel=1e-10)


@pytest.mark.parametrize("variant", ["DDC", "DDC+Samples", "GIB"])
def test_ddc_on_balls_gives_every_member_of_a_ball_its_assignment(variant):
    model = tiny_model(ddc_input="balls")
    out, step = forward_and_loss(model, tiny_views(), variant)
    fused = out.balls[FUSED]
    for ball in range(fused.n_balls):
        rows = out.ys[fused.assignment == ball]
        assert torch.allclose(rows, rows[0].expand_as(rows), atol=1e-6)
    for i, yi in enumerate(out.y):  # Y^i = DDC(C^i): constant within view i's balls
        balls = out.balls[f"v{i}"]
        for ball in range(balls.n_balls):
            rows = yi[balls.assignment == ball]
            assert torch.allclose(rows, rows[0].expand_as(rows), atol=1e-6)
    assert fused.n_balls < views_batch()  # balls, not single samples
    grads = encoder_gradients(model, step.terms["L_DDC"])
    assert all(g > 0 for g in grads), f"L_DDC on ball centres misses an encoder: {grads}"


def views_batch() -> int:
    return tiny_views()[0].shape[0]


def test_balls_are_generated_only_where_a_variant_needs_them():
    expected = {  # (ddc_input, variant) → representations with balls
        ("samples", "DDC"): set(),
        ("samples", "DDC+Samples"): set(),
        ("samples", "DDC+Balls"): {"v0", "v1", "v2", FUSED},
        ("balls", "DDC"): {FUSED},
        ("balls", "DDC+Samples"): {"v0", "v1", "v2", FUSED},
        ("balls", "DDC+Balls"): {"v0", "v1", "v2", FUSED},
    }
    for (ddc_input, variant), names in expected.items():
        out, _ = forward_and_loss(tiny_model(ddc_input=ddc_input), tiny_views(), variant)
        assert set(out.balls) == names, (ddc_input, variant)


def test_each_ablation_switches_off_exactly_its_terms(tiny):
    model, views = tiny
    ddc = {"ddc1", "ddc2", "ddc3", "L_DDC", "total", "clustering"}
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
        _, step = forward_and_loss(model, views, variant)
        assert set(step.terms) == terms, variant
        active = [step.terms[t] for t in ("L_DDC", "L_Samples", "L_Balls") if t in step.terms]
        assert step.terms["total"].item() == pytest.approx(sum(a.item() for a in active))


def test_loss_weights_follow_alpha_and_beta(tiny):
    model, views = tiny
    _, step = forward_and_loss(model, views, "GIB")
    t = {k: v.item() for k, v in step.terms.items()}
    a, b = model.config.alpha, model.config.beta
    assert t["L_Samples"] == pytest.approx(a * (t["vib"] + t["mi_yy"]) - b * t["mi_ys"])
    assert t["L_Balls"] == pytest.approx(a * t["mi_cc"] - b * t["mi_cs"])


def test_fusion_starts_uniform_and_sums_to_one(tiny):
    model, _ = tiny
    assert torch.allclose(model.fusion.weights, torch.full((3,), 1 / 3))
    model.fusion.logits.data = torch.tensor([1.0, -2.0, 0.5])
    assert model.fusion.weights.sum().item() == pytest.approx(1.0)


@pytest.mark.parametrize("ddc_input", ["balls", "samples"])
def test_batchnorm_running_stats_follow_the_fused_pathway(ddc_input):
    """After one step with per-view passes, the running mean is that of the fused pass's
    input alone (H^s, or C^s with ball input): momentum 0.1 from 0."""
    model, views = tiny_model(ddc_input=ddc_input).train(), tiny_views()
    norm = model.ddc.hidden[2]
    out = model(views, "GIB", torch.Generator().manual_seed(0))
    assert len(out.y) == 3  # the per-view passes ran
    fused_input = out.centres[FUSED] if ddc_input == "balls" else out.hs
    expected = 0.1 * torch.relu(model.ddc.hidden[0](fused_input)).mean(0)
    assert torch.allclose(norm.running_mean, expected, atol=1e-6)
    assert norm.num_batches_tracked.item() == 1


@pytest.mark.parametrize("eval_input", ["samples", "balls"])
def test_prediction_covers_every_sample_in_eval_mode(eval_input):
    model = tiny_model(eval_input=eval_input).eval()
    views = tiny_views()
    probs, hs = model.predict(views, seed=0, chunk=16)
    assert probs.shape == (64, 4) and hs.shape == (64, 16)
    assert torch.allclose(probs.sum(1), torch.ones(64))
    expected_hs = model.encode(views)[3]
    assert torch.allclose(hs, expected_hs, atol=1e-6)
    again, _ = model.predict(views, seed=0, chunk=64)
    assert torch.allclose(probs, again, atol=1e-6)  # chunks do not matter, nor the epoch
    if eval_input == "samples":
        assert torch.allclose(probs, model.ddc(expected_hs)[0], atol=1e-6)
    else:  # the balls of all 64 samples at once: each takes its ball centre's assignment
        balls = granular_balls(expected_hs, 4, model.config.balls, torch.Generator().manual_seed(0))
        centres = balls.sample_centres(expected_hs)
        assert torch.allclose(probs, model.ddc(centres)[0], atol=1e-6)
        assert torch.unique(probs, dim=0).shape[0] == balls.n_balls < 64
