"""Key `compression` (spec/GIB.md, Theorem 2's readings): `gaussian_kl` (the VIB KL, default),
`sampled` (its Monte-Carlo estimate at the reparameterised draw), `cluster_balance` (KL of the
batch's mean assignment of each view against the uniform distribution over k) and `none`, for
GIB and CLIB."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch

from mmcbench.losses import cluster_balance, gaussian_kl, sampled_kl
from mmcbench.methods.clib.model import CLIB, CLIBConfig, clib_loss
from mmcbench.methods.gib.model import GIB, GIBConfig, gib_loss
from mmcbench.planning.catalogue import inert_reason

# ------------------------------------------------------------------ the balance term


@pytest.mark.parametrize("k", [2, 3, 7])
def test_balance_is_zero_when_the_mean_assignment_is_uniform(k):
    one_hot = torch.eye(k)[torch.randperm(3 * k, generator=torch.Generator().manual_seed(k)) % k]
    assert cluster_balance(one_hot).item() == pytest.approx(0.0, abs=1e-6)
    assert cluster_balance(torch.full((5, k), 1.0 / k)).item() == pytest.approx(0.0, abs=1e-6)
    # Rows far from uniform whose mean is uniform: every cyclic shift of each row is there.
    rows = torch.softmax(3 * torch.randn(4, k, generator=torch.Generator().manual_seed(0)), 1)
    mean_uniform = torch.cat([rows.roll(s, dims=1) for s in range(k)])
    assert cluster_balance(mean_uniform).item() == pytest.approx(0.0, abs=1e-6)


@pytest.mark.parametrize("k", [2, 3, 7])
def test_balance_is_positive_otherwise_and_log_k_for_one_cluster(k):
    all_in_one = torch.zeros(6, k)
    all_in_one[:, 0] = 1.0
    assert cluster_balance(all_in_one).item() == pytest.approx(math.log(k), rel=1e-6)
    tilted = torch.full((6, k), 1.0 / k)
    tilted[0] = torch.eye(k)[0]
    assert cluster_balance(tilted).item() > 0
    g = torch.Generator().manual_seed(k)
    random = torch.softmax(3 * torch.randn(10, k, generator=g, dtype=torch.float64), dim=1)
    mean = random.mean(dim=0)
    expected = (mean * (mean * k).log()).sum()  # KL(p̄ ‖ u_k)
    assert cluster_balance(random).item() == pytest.approx(expected.item(), rel=1e-12)
    assert cluster_balance(random).item() > 0


def test_balance_averages_over_draws_and_runs_under_vmap():
    g = torch.Generator().manual_seed(0)
    draws = torch.softmax(torch.randn(3, 8, 4, generator=g), dim=2)  # S draws × B × k
    assert cluster_balance(draws).item() == pytest.approx(
        cluster_balance(draws.reshape(-1, 4)).item(), rel=1e-6
    )
    per_run = torch.func.vmap(cluster_balance)(draws)  # as a pack calls it: one per run
    expected = torch.stack([cluster_balance(d) for d in draws])
    torch.testing.assert_close(per_run, expected)


# ------------------------------------------------------------------ the sampled KL


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_sampled_kl_has_the_analytic_kl_as_its_expectation(reduction):
    g = torch.Generator().manual_seed(0)
    mu = torch.randn(1, 6, generator=g, dtype=torch.float64)
    logvar = torch.randn(1, 6, generator=g, dtype=torch.float64).clamp(-2, 1)
    draws = 200_000
    eps = torch.randn(draws, 6, generator=g, dtype=torch.float64)
    h = mu + (0.5 * logvar).exp() * eps
    estimates = torch.stack(
        [sampled_kl(h[i : i + 1], mu, logvar, reduction) for i in range(0, 2000)]
    )  # single-draw estimates: their spread is the Monte-Carlo error of one draw
    mean = sampled_kl(h, mu.expand(draws, -1), logvar.expand(draws, -1), reduction)
    expected = gaussian_kl(mu, logvar, reduction)
    standard_error = estimates.std() / math.sqrt(draws)
    assert abs(mean - expected) < 4 * standard_error
    assert estimates.std() > 0  # one draw is noisy: a different gradient noise, same value


def test_sampled_kl_at_the_mean_draw_is_the_point_estimate():
    mu = torch.tensor([[0.5, -1.0]], dtype=torch.float64)
    logvar = torch.tensor([[0.2, -0.4]], dtype=torch.float64)
    expected = 0.5 * (mu.pow(2) - logvar).mean()  # h = μ: ε = 0
    assert sampled_kl(mu, mu, logvar).item() == pytest.approx(expected.item(), rel=1e-12)


def test_an_unknown_reading_is_refused():
    with pytest.raises(ValueError, match="compression"):
        GIBConfig(compression="uniform")
    with pytest.raises(ValueError, match="compression"):
        CLIBConfig(compression="uniform")
    assert GIBConfig().compression == CLIBConfig().compression == "gaussian_kl"


def test_the_key_is_inert_where_l_samples_is_off():
    for variant in ("DDC", "DDC+Balls"):
        assert "no L_Samples" in inert_reason("GIB", variant, "compression")
    for variant in ("GIB", "DDC+Samples"):
        assert inert_reason("GIB", variant, "compression") is None
    assert inert_reason("CLIB", "CLIB", "compression") is None


# ------------------------------------------------------------------ GIB


def tiny(model_class, config_class, **changes):
    """A small model of `model_class` (two views, k = 3) and 40 samples of its views."""
    torch.manual_seed(0)
    config = config_class(encoder_hidden=(16, 16), latent_dim=8, head_hidden=8, **changes)
    g = torch.Generator().manual_seed(0)
    views = [torch.rand(40, 5, generator=g), torch.rand(40, 3, generator=g)]
    return model_class([5, 3], 3, config), views


def gib_pair(**changes) -> tuple[GIB, list[torch.Tensor]]:
    return tiny(GIB, GIBConfig, **changes)


@pytest.mark.parametrize("ddc_input", ["balls", "samples"])
def test_gib_cluster_balance_replaces_the_kl_by_the_balance_of_each_y(ddc_input):
    model, views = gib_pair(ddc_input=ddc_input)
    out = model(views, "GIB", torch.Generator().manual_seed(0))
    kl = gib_loss(model, out, "GIB").terms
    model.config = dataclasses.replace(model.config, compression="cluster_balance")
    balance = gib_loss(model, out, "GIB").terms
    assert set(balance) == set(kl)  # the term keeps its name, `vib`
    assert torch.isfinite(balance["total"])
    assert balance["vib"].item() != pytest.approx(kl["vib"].item())
    assert balance["total"].item() != pytest.approx(kl["total"].item())
    expected = sum(cluster_balance(yi).item() for yi in out.y)
    assert balance["vib"].item() == pytest.approx(expected, rel=1e-6)
    for name in ("mi_yy", "mi_ys", "mi_cc", "mi_cs", "L_DDC"):
        assert balance[name].item() == kl[name].item()
    a = model.config.alpha
    assert balance["L_Samples"].item() - kl["L_Samples"].item() == pytest.approx(
        a * (balance["vib"].item() - kl["vib"].item()), rel=1e-5
    )
    model.zero_grad()
    balance["vib"].backward()
    assert all(
        sum(p.grad.abs().sum().item() for p in e.parameters() if p.grad is not None) > 0
        for e in model.encoders
    )


@pytest.mark.parametrize("variant", ["GIB", "DDC+Samples"])
def test_gib_none_drops_the_term_and_leaves_the_others(variant):
    model, views = gib_pair()
    out = model(views, variant, torch.Generator().manual_seed(0))
    kl = gib_loss(model, out, variant).terms
    model.config = dataclasses.replace(model.config, compression="none")
    none = gib_loss(model, out, variant).terms
    assert "vib" not in none and set(kl) - set(none) == {"vib"}
    for name in set(none) - {"L_Samples", "total"}:
        assert none[name].item() == pytest.approx(kl[name].item(), rel=1e-6)
    a = model.config.alpha
    assert none["L_Samples"].item() == pytest.approx(
        kl["L_Samples"].item() - a * kl["vib"].item(), rel=1e-5, abs=1e-6
    )
    assert none["total"].item() == pytest.approx(none["clustering"].item(), rel=1e-6)
    assert kl["clustering"].item() == pytest.approx(
        kl["total"].item() - a * kl["vib"].item(), rel=1e-5, abs=1e-6
    )


def test_gib_sampled_reads_the_draw_and_leaves_the_others():
    model, views = gib_pair()
    out = model(views, "GIB", torch.Generator().manual_seed(0))
    kl = gib_loss(model, out, "GIB").terms
    model.config = dataclasses.replace(model.config, compression="sampled")
    sampled = gib_loss(model, out, "GIB").terms
    expected = sum(
        sampled_kl(h, m, lv).item() for h, m, lv in zip(out.h, out.mu, out.logvar, strict=True)
    )
    assert sampled["vib"].item() == pytest.approx(expected, rel=1e-5)
    assert sampled["vib"].item() != pytest.approx(kl["vib"].item())
    for name in ("mi_yy", "mi_ys", "L_Balls", "L_DDC", "clustering"):
        assert sampled[name].item() == pytest.approx(kl[name].item(), rel=1e-5)


def test_gib_cluster_balance_needs_no_sigma():
    model, views = gib_pair(variational=False, compression="cluster_balance")
    out = model(views, "DDC+Samples", torch.Generator().manual_seed(0))
    terms = gib_loss(model, out, "DDC+Samples").terms
    assert terms["vib"].item() > 0


# ------------------------------------------------------------------ CLIB


def clib_pair(**changes) -> tuple[CLIB, list[torch.Tensor]]:
    return tiny(CLIB, CLIBConfig, **changes)


def test_clib_cluster_balance_in_warm_up_reaches_the_encoders_not_the_heads():
    model, views = clib_pair(compression="cluster_balance")
    running = [h.hidden[2].running_mean.clone() for h in model.cali_heads]
    out = model(views, heads=False)
    step = clib_loss(model, out, "CLIB", warming_up=True)
    assert set(step.terms) == {"vib", "mi_hh", "mi_hf", "L_IB", "total", "clustering"}
    assert torch.isfinite(step.terms["total"]) and step.terms["vib"].item() > 0
    step.terms["vib"].backward()
    heads = [*model.cali_heads, model.cluster_head]
    assert all(p.grad is None for head in heads for p in head.parameters())
    for encoder in model.encoders:
        assert sum(p.grad.abs().sum().item() for p in encoder.parameters()) > 0
    for head, before in zip(model.cali_heads, running, strict=True):
        assert torch.equal(head.hidden[2].running_mean, before)  # statistics untouched


def test_clib_cluster_balance_reads_the_calibration_heads_assignments():
    model, views = clib_pair()
    out = model(views, heads=True)
    kl = clib_loss(model, out, "CLIB", warming_up=False).terms
    model.config = dataclasses.replace(model.config, compression="cluster_balance")
    balance = clib_loss(model, out, "CLIB", warming_up=False).terms
    assert set(balance) == set(kl)
    expected = sum(cluster_balance(p).item() for p in out.p_cal)  # p^cal, same values
    assert balance["vib"].item() == pytest.approx(expected, rel=1e-5)
    assert balance["vib"].item() != pytest.approx(kl["vib"].item())
    assert torch.isfinite(balance["total"])
    for name in ("mi_hh", "mi_hf", "L_Cal"):
        assert balance[name].item() == pytest.approx(kl[name].item(), rel=1e-6)


@pytest.mark.parametrize("warming_up", [True, False])
def test_clib_none_and_sampled_leave_the_other_terms(warming_up):
    model, views = clib_pair()
    out = model(views, heads=not warming_up)
    kl = clib_loss(model, out, "CLIB", warming_up=warming_up).terms
    model.config = dataclasses.replace(model.config, compression="none")
    none = clib_loss(model, out, "CLIB", warming_up=warming_up).terms
    model.config = dataclasses.replace(model.config, compression="sampled")
    sampled = clib_loss(model, out, "CLIB", warming_up=warming_up).terms
    assert set(kl) - set(none) == {"vib"} and set(sampled) == set(kl)
    assert none["L_IB"].item() == pytest.approx(
        kl["L_IB"].item() - kl["vib"].item(), rel=1e-5, abs=1e-6
    )
    expected = sum(
        sampled_kl(h, m, lv).item() for h, m, lv in zip(out.h, out.mu, out.logvar, strict=True)
    )
    assert sampled["vib"].item() == pytest.approx(expected, rel=1e-5)
    for terms in (none, sampled, kl):
        assert terms["clustering"].item() == pytest.approx(
            terms["total"].item() - terms.get("vib", torch.zeros(())).item(), rel=1e-5, abs=1e-6
        )
        assert terms["mi_hh"].item() == pytest.approx(kl["mi_hh"].item(), rel=1e-6)
