"""DealMVC (spec/DealMVC.md): the graphs and the calibration loss against plain numpy, one
stage-2 step's total by hand (V = 2, 3), the fusion weights' carry, each Resolved key, the
config's refusals, the eval steps, and a tiny three-stage run through the training loop."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch
from sklearn.datasets import make_blobs
from sklearn.preprocessing import minmax_scale

from mmcbench.data.load import MultiViewData
from mmcbench.methods.dealmvc.config import VARIANTS, DealMVCConfig
from mmcbench.methods.dealmvc.losses import (
    alignment,
    calibration,
    label_graph,
    local_terms,
    similarity_graph,
)
from mmcbench.methods.dealmvc.trainer import DealMVCTrainer
from mmcbench.training.trainers import TrainingData

CPU = torch.device("cpu")
# the tests read loss terms that still hold their graph as numbers
pytestmark = pytest.mark.filterwarnings("ignore:Converting a tensor with requires_grad")


def softmax_rows(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def hand_graph(a: np.ndarray, b: np.ndarray, tau: float) -> tuple[np.ndarray, float]:
    """Plain loops: M = a bᵀ, M_ii = 1, entries below τ zeroed, rows normalised; the share
    of off-diagonal products ≥ τ."""
    n = a.shape[0]
    m = np.zeros((n, n))
    kept = 0
    for i in range(n):
        for j in range(n):
            p = float(np.dot(a[i], b[j]))
            if i != j and p >= tau:
                kept += 1
            if i == j:
                p = 1.0
            m[i, j] = p if p >= tau else 0.0
    return m / m.sum(axis=1, keepdims=True), kept / (n * n - n)


def hand_sim(f: np.ndarray, g: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    return softmax_rows(f @ g.T / temperature)


def hand_c(s: np.ndarray, g: np.ndarray) -> float:
    n = s.shape[0]
    return sum(-g[i, j] * math.log(s[i, j] + 1e-7) for i in range(n) for j in range(n)) / n


# ------------------------------------------------------------------ graphs and C(S, G)
def test_label_graph_by_hand():
    rng = np.random.default_rng(0)
    a, b = softmax_rows(rng.normal(size=(6, 3)) * 3), softmax_rows(rng.normal(size=(6, 3)) * 3)
    tau = 0.4
    expected, share = hand_graph(a, b, tau)
    assert 0 < share < 1  # the mask keeps some products and drops others
    ta, tb = torch.tensor(a, requires_grad=True), torch.tensor(b)
    g, got_share = label_graph(ta, tb, tau)
    np.testing.assert_allclose(g.detach().numpy(), expected, rtol=1e-12)
    assert float(got_share) == pytest.approx(share)
    assert np.all(np.diag(g.detach().numpy()) > 0)  # the diagonal always survives
    np.testing.assert_allclose(g.detach().sum(dim=1).numpy(), 1.0)
    g.sum(dim=1).pow(2).sum().backward(
        retain_graph=True
    )  # rows sum to 1: no gradient from their sum …
    assert float(ta.grad.abs().max()) < 1e-12
    ta.grad = None
    g[0, 1:].pow(2).sum().backward()  # … but the kept entries pass gradients to a
    assert float(ta.grad.abs().max()) > 1e-6
    # graph_grad detach: a stop-gradient on G
    g_detached, _ = label_graph(ta, tb, tau, detach=True)
    assert not g_detached.requires_grad
    # τ = 1: only the diagonal survives, G = I
    eye, none = label_graph(ta, tb, 1.0)
    assert torch.equal(eye.detach(), torch.eye(6, dtype=torch.float64)) and float(none) == 0


@pytest.mark.parametrize("temperature", [1.0, 0.5])
def test_similarity_and_calibration_by_hand(temperature):
    rng = np.random.default_rng(1)
    f, g = rng.normal(size=(5, 4)), rng.normal(size=(5, 4))
    s = similarity_graph(torch.tensor(f), torch.tensor(g), temperature).numpy()
    np.testing.assert_allclose(s, hand_sim(f, g, temperature), rtol=1e-12)
    target, _ = hand_graph(softmax_rows(rng.normal(size=(5, 3))), softmax_rows(f[:, :3]), 0.3)
    got = float(calibration(torch.tensor(s), torch.tensor(target)))
    assert got == pytest.approx(hand_c(s, target), rel=1e-12)
    # summed over j, averaged over the anchors: B times the mean over all entries
    assert got == pytest.approx(5 * float(np.mean(-target * np.log(s + 1e-7))), rel=1e-12)


def test_alignment_pairs_first_v_or_all():
    rng = np.random.default_rng(2)
    glob = torch.tensor(rng.random((4, 4)))
    graphs = [torch.tensor(rng.random((4, 4))) for _ in range(6)]  # V = 4: P = 6
    mse = [float(np.mean((glob.numpy() - g.numpy()) ** 2)) for g in graphs]
    assert float(alignment(glob, graphs, 4, "first_V")) == pytest.approx(sum(mse[:4]))
    assert float(alignment(glob, graphs, 4, "all")) == pytest.approx(sum(mse))
    # V = 2 (one pair) and V = 3 (three pairs): both readings agree
    assert float(alignment(glob, graphs[:1], 2, "first_V")) == pytest.approx(mse[0])
    assert float(alignment(glob, graphs[:3], 3, "first_V")) == pytest.approx(sum(mse[:3]))


def test_local_direction_symmetric_is_the_mean_of_both_directions():
    rng = np.random.default_rng(3)
    h = [rng.normal(size=(5, 4)) for _ in range(2)]
    h = [x / np.linalg.norm(x, axis=1, keepdims=True) for x in h]
    q = [softmax_rows(rng.normal(size=(5, 3)) * 3) for _ in range(2)]
    forward = hand_c(hand_sim(h[0], h[1]), hand_graph(q[0], q[1], 0.3)[0])
    back = hand_c(hand_sim(h[1], h[0]), hand_graph(q[1], q[0], 0.3)[0])
    th, tq = [torch.tensor(x) for x in h], [torch.tensor(x) for x in q]
    one_way, _, _ = local_terms(th, tq, 0.3)
    symmetric, _, _ = local_terms(th, tq, 0.3, symmetric=True)
    assert float(one_way) == pytest.approx(forward, rel=1e-12)
    assert float(symmetric) == pytest.approx((forward + back) / 2, rel=1e-12)
    assert abs(forward - back) > 1e-6


# ------------------------------------------------------------------ trainer
def blobs(n: int = 40, n_views: int = 2, seed: int = 0) -> MultiViewData:
    x, y = make_blobs(n_samples=n, n_features=4, centers=3, random_state=seed)
    rng = np.random.default_rng(seed)
    views = [
        minmax_scale(x @ rng.normal(size=(4, 3 + v))).astype(np.float32) for v in range(n_views)
    ]
    names = [f"v{v}" for v in range(n_views)]
    return MultiViewData("blobs", views, names, y.astype(np.int64), 3, {})


SMALL = {
    "mse_epochs": 1,
    "con_epochs": 2,
    "tune_epochs": 1,
    "batch_size": 16,
    "feature_dim": 8,
    "high_feature_dim": 8,
    "pseudo_label_n_init": 2,
}


def make_trainer(n_views: int = 2, seed: int = 0, variant: str = "DealMVC", **changes):
    data = blobs(n_views=n_views)
    torch.manual_seed(seed)
    dtype = torch.get_default_dtype()
    views = [torch.from_numpy(v).to(dtype) for v in data.views]
    given = TrainingData(data.name, views, data.n_clusters)
    config = DealMVCConfig(**{**SMALL, **changes})
    return DealMVCTrainer(given, variant, seed, config, CPU), views


def gelu(x: np.ndarray) -> np.ndarray:
    return np.array([0.5 * v * (1 + math.erf(v / math.sqrt(2))) for v in x])


def hand_ratios(model, h: list[np.ndarray]) -> np.ndarray:
    """r = softmax_v(a_v π_v) with the attention in eval mode (every head weight 1, so
    a_v = W_o (W_v T_v + b_v) + b_o) and π = W_2 GELU(W_1 (1/V)·1 + b_1) + b_2."""
    p = {k: w.detach().numpy() for k, w in model.state_dict().items()}
    n_views = len(h)
    t = np.stack([hv.mean(axis=1) for hv in h])
    u = t @ p["attention.linear_v.weight"].T + p["attention.linear_v.bias"]
    a = u @ p["attention.output_layer.weight"][0] + p["attention.output_layer.bias"][0]
    x = np.full(n_views, 1.0 / n_views)
    hidden = gelu(p["pnet.layer1.weight"] @ x + p["pnet.layer1.bias"])
    pi = p["pnet.layer2.weight"] @ hidden + p["pnet.layer2.bias"]
    e = np.exp(a * pi - np.max(a * pi))
    return e / e.sum()


@pytest.mark.parametrize("n_views", [2, 3])
def test_stage2_total_by_hand(float64, n_views):
    trainer, views = make_trainer(
        n_views, fusion_weight_carry="per_batch", attention_train_mode=False
    )
    idx = torch.arange(16)
    with torch.no_grad():
        q = [t.numpy() for t in trainer.model([v[idx] for v in views]).q]
    products = (q[0] @ q[1].T)[~np.eye(16, dtype=bool)]
    tau = float(np.median(products))  # the mask keeps about half the products
    trainer.config = dataclasses.replace(trainer.config, threshold=tau)
    trainer.before_epoch(2)  # stage 2
    outcome = trainer.step(idx)
    model = trainer.model
    with torch.no_grad():
        out = model([v[idx] for v in views])
    h = [t.numpy() for t in out.h]
    q = [t.numpy() for t in out.q]
    x = [v[idx].numpy() for v in views]
    recon = sum(float(np.mean((xv - xr.numpy()) ** 2)) for xv, xr in zip(x, out.xr, strict=True))
    local, graphs, shares = 0.0, [], []
    for v in range(n_views):
        for w in range(v + 1, n_views):
            g, share = hand_graph(q[v], q[w], tau)
            local += hand_c(hand_sim(h[v], h[w]), g)
            graphs.append(g)
            shares.append(share)
    assert 0 < np.mean(shares) < 1
    r = hand_ratios(model, h)
    f = sum(r[v] * h[v] for v in range(n_views))
    wq = model.label_head.weight.detach().numpy()
    bq = model.label_head.bias.detach().numpy()
    q_global = softmax_rows(f @ wq.T + bq)
    g_glob, _ = hand_graph(q_global, q_global, tau)
    glob = hand_c(hand_sim(f, f), g_glob)
    align = sum(float(np.mean((g_glob - g) ** 2)) for g in graphs[:n_views])
    terms = {k: float(t.detach()) for k, t in outcome.terms.items()}
    assert set(terms) == {"total", "recon", "local", "global", "align"}
    assert terms["recon"] == pytest.approx(recon, rel=1e-10)
    assert terms["local"] == pytest.approx(local, rel=1e-10)
    assert terms["global"] == pytest.approx(glob, rel=1e-10)
    assert terms["align"] == pytest.approx(align, rel=1e-10, abs=1e-14)
    assert terms["total"] == pytest.approx(recon + local + glob + align, rel=1e-10)
    assert float(outcome.stats["share_local"]) == pytest.approx(np.mean(shares))
    np.testing.assert_allclose(trainer.omega.numpy(), r, rtol=1e-10)  # per_batch: ω = r


def test_fusion_weights_accumulate_within_an_epoch_and_reset(float64):
    trainer, views = make_trainer(3, attention_train_mode=False, con_epochs=2)
    trainer.before_epoch(2)
    np.testing.assert_allclose(trainer.omega.numpy(), [1 / 3] * 3)
    product = np.full(3, 1 / 3)
    for idx in (torch.arange(16), torch.arange(16, 32)):
        trainer.step(idx)
        with torch.no_grad():
            h = [t.numpy() for t in trainer.model([v[idx] for v in views]).h]
        product = product * hand_ratios(trainer.model, h)
        np.testing.assert_allclose(trainer.omega.numpy(), product, rtol=1e-10)
    assert trainer.omega.sum() < 1 / 3 - 1e-3  # shrinks as a product
    trainer.before_epoch(3)  # the next epoch starts again at (1/V)·1
    np.testing.assert_allclose(trainer.omega.numpy(), [1 / 3] * 3)


# ------------------------------------------------------------------ Resolved keys
def stage2_terms(n_views: int = 2, **changes) -> tuple[DealMVCTrainer, dict]:
    trainer, _ = make_trainer(n_views, attention_train_mode=False, **changes)
    trainer.before_epoch(2)
    torch.manual_seed(1)
    return trainer, trainer.step(torch.arange(16)).terms


def test_global_label_input_fused_z():
    _, fused_h = stage2_terms(threshold=0.3334)
    _, fused_z = stage2_terms(threshold=0.3334, global_label_input="fused_z")
    assert float(fused_h["local"]) == float(fused_z["local"])
    assert float(fused_h["global"]) != float(fused_z["global"])
    # fused_z lets D differ from L
    trainer, terms = stage2_terms(global_label_input="fused_z", high_feature_dim=4)
    assert trainer.model.feature_head.out_features == 4 and math.isfinite(terms["total"])


def test_concat_head_build_or_omit_only_shifts_later_init():
    built, _ = make_trainer()
    omitted, _ = make_trainer(concat_head="omit")
    assert built.model.concat_head.in_features == 2 * SMALL["feature_dim"]
    assert omitted.model.concat_head is None
    assert torch.equal(built.model.label_head.weight, omitted.model.label_head.weight)
    assert not torch.equal(
        built.model.attention.linear_v.weight, omitted.model.attention.linear_v.weight
    )


def test_attn_hidden_width():
    trainer, _ = make_trainer(batch_size=300)  # capped to N = 40
    assert trainer.model.attention.width == 40
    assert trainer.model.attention.linear_v.in_features == 40
    fixed, _ = make_trainer(attn_hidden="none", hidden_dim=16)
    assert fixed.model.attention.width == 16
    with pytest.raises(ValueError, match="hidden_dim"):
        make_trainer(attn_hidden="none")  # hidden_dim 256 ≠ B 16: the code fails
    with pytest.raises(ValueError, match="num_heads"):
        make_trainer(batch_size=4)


def test_sim_temperature_changes_the_graphs():
    _, one = stage2_terms()
    _, half = stage2_terms(sim_temperature=0.5)
    assert float(one["recon"]) == float(half["recon"])
    assert float(one["local"]) != pytest.approx(float(half["local"]))


@pytest.mark.parametrize("mode", ["through", "detach"])
def test_graph_grad(mode):
    trainer, terms = stage2_terms(threshold=0.0, graph_grad=mode)  # every product kept
    trainer.model.zero_grad(set_to_none=True)
    terms["total"].backward()
    grad = trainer.model.label_head.weight.grad  # q reaches the loss through the graphs only
    if mode == "through":
        assert grad is not None and float(grad.abs().max()) > 0
    else:
        assert grad is None


def test_local_direction_changes_the_local_term():
    _, one_way = stage2_terms(threshold=0.3334)
    _, symmetric = stage2_terms(threshold=0.3334, local_direction="symmetric")
    assert float(one_way["local"]) != pytest.approx(float(symmetric["local"]))


def test_fusion_weight_carry_per_batch_is_r():
    trainer, _ = make_trainer(3, fusion_weight_carry="per_batch", attention_train_mode=False)
    trainer.before_epoch(2)
    trainer.step(torch.arange(16))
    first = trainer.omega.clone()
    trainer.step(torch.arange(16))
    assert torch.allclose(trainer.omega, first)  # no accumulation
    assert float(first.sum()) == pytest.approx(1.0)


@pytest.mark.parametrize("trainable", [False, True])
def test_fusion_trainable(trainable):
    trainer, terms = stage2_terms(fusion_trainable=trainable)
    trainer.model.zero_grad(set_to_none=True)
    terms["total"].backward()
    parts = [trainer.model.attention.linear_v.weight, trainer.model.pnet.layer1.weight]
    if trainable:
        assert all(p.grad is not None and float(p.grad.abs().max()) > 0 for p in parts)
    else:
        assert all(p.grad is None for p in parts)
    if trainable:  # one key per query: the softmax is 1 whatever W_q, W_k give
        assert float(trainer.model.attention.linear_q.weight.grad.abs().max()) == 0


@pytest.mark.parametrize("train_mode", [True, False])
def test_attention_train_mode_draws_dropout(train_mode):
    trainer, _ = make_trainer(3, attention_train_mode=train_mode)
    trainer.before_epoch(2)
    state = torch.get_rng_state()
    trainer.step(torch.arange(16))
    assert (not torch.equal(state, torch.get_rng_state())) == train_mode
    # eval steps never draw (attention without dropout)
    trainer.model.eval()
    state = torch.get_rng_state()
    trainer.eval_step(torch.arange(16))
    assert torch.equal(state, torch.get_rng_state())
    trainer.model.train()


def test_align_pairs_on_four_views():
    _, first = stage2_terms(4, threshold=0.0)
    _, every = stage2_terms(4, threshold=0.0, align_pairs="all")
    assert float(every["align"]) > float(first["align"]) > 0
    assert float(first["local"]) == float(every["local"])


def test_mflvc_losses_in_stage2():
    _, plain = stage2_terms()
    _, extra = stage2_terms(mflvc_losses_in_stage2=True)
    assert "feature" not in plain
    parts = sum(float(extra[k]) for k in ("recon", "local", "global", "align", "feature"))
    parts += float(extra["label"]) + float(extra["entropy"])
    assert float(extra["total"]) == pytest.approx(parts, rel=1e-5)


def test_preprocess_is_the_scaling():
    assert DealMVCConfig().scaling() == "minmax_feature"
    assert DealMVCConfig(preprocess="none").scaling() == "none"


# ------------------------------------------------------------------ config
def test_config_defaults_and_variants():
    c = DealMVCConfig()
    assert (c.mse_epochs, c.con_epochs, c.tune_epochs, c.total_epochs) == (300, 100, 50, 450)
    assert (c.batch_size, c.lr, c.init, c.grad_clip) == (256, 3e-4, "torch_default", None)
    assert (c.feature_dim, c.high_feature_dim, c.hidden_dim, c.num_heads) == (512, 512, 256, 8)
    assert (c.threshold, c.attention_dropout_rate, c.ffn_size, c.sim_temperature) == (
        0.8,
        0.5,
        32,
        1.0,
    )
    assert (c.global_label_input, c.concat_head, c.attn_hidden) == (
        "fused_h",
        "build",
        "batch_size",
    )
    assert (c.graph_grad, c.local_direction, c.align_pairs) == ("through", "one_way", "first_V")
    assert c.fusion_weight_carry == "cumulative_epoch" and c.fusion_trainable is False
    assert c.attention_train_mode is True and c.mflvc_losses_in_stage2 is False
    assert c.recon_reduction == "mean" and c.pseudo_label_scaling == "minmax"
    assert c.finetune_ce == "probs_as_logits" and c.finetune_batch == "full"
    assert c.pseudo_label_n_init == 100 and c.batch_size_cap == "n_samples"
    assert c.reset_optimizer_per_stage is False and c.preprocess == "minmax_feature"
    assert set(VARIANTS) == {"DealMVC", "no-finetune"}
    assert c.for_variant("no-finetune").tune_epochs == 0
    assert c.for_variant("no-finetune").total_epochs == 400
    assert c.for_variant("DealMVC") == c
    assert [c.stage(e) for e in (1, 300, 301, 400, 401, 450)] == [1, 1, 2, 2, 3, 3]
    with pytest.raises(ValueError, match="variant"):
        c.for_variant("nope")


@pytest.mark.parametrize(
    ("changes", "key"),
    [
        ({"high_feature_dim": 128}, "high_feature_dim"),
        ({"threshold": 1.5}, "threshold"),
        ({"attention_dropout_rate": 1.0}, "attention_dropout_rate"),
        ({"sim_temperature": 0.0}, "sim_temperature"),
        ({"hidden_dim": 4}, "hidden_dim"),
        ({"reset_optimizer_per_stage": True}, "reset_optimizer_per_stage"),
        ({"tune_epochs": -1}, "tune_epochs"),
        ({"global_label_input": "fused_q"}, "global_label_input"),
        ({"align_pairs": "some"}, "align_pairs"),
    ],
)
def test_config_refuses(changes, key):
    with pytest.raises(ValueError, match=key):
        DealMVCConfig(**changes)


# ------------------------------------------------------------------ evaluation
def test_eval_step_reuses_the_encoding_and_keeps_training_state(float64):
    trainer, views = make_trainer(3)
    trainer.before_epoch(2)
    trainer.step(torch.arange(16))
    omega = trainer.omega.clone()
    trainer.model.eval()
    with torch.no_grad():
        trainer.predict(views)
        idx = torch.arange(8, 24)
        reused = trainer.eval_step(idx).terms
        trainer.end_evaluation()
        assert trainer.eval_omega is None
        fresh = trainer.eval_step(idx).terms
    trainer.model.train()
    for name in reused:
        assert float(reused[name]) == pytest.approx(float(fresh[name]), rel=1e-9)
    assert torch.equal(trainer.omega, omega)  # the training ω is untouched


def test_tiny_run_through_the_loop(tiny):
    from mmcbench.training.train import train

    config = DealMVCConfig(**tiny("DealMVC"))
    run = train("DealMVC", blobs(n_views=3), "DealMVC", 0, config, CPU, embeddings_at=())
    history = run.history
    assert list(history["epoch"]) == list(range(config.total_epochs + 1))
    assert list(history["stage"].iloc[1:]) == [1, 1, 2, 2, 3]
    last = history.iloc[-1]
    assert math.isfinite(last["ACC"]) and math.isfinite(last["ECE"])
    stage2 = history[history["stage"] == 2]
    for column in ("local", "global", "align", "share_local", "share_global", "eval_total"):
        assert np.isfinite(stage2[column]).all(), column
    assert run.record["status"] == "done"
    no_ft = train("DealMVC", blobs(n_views=2), "no-finetune", 0, config, CPU, embeddings_at=())
    assert list(no_ft.history["stage"].iloc[1:]) == [1, 1, 2, 2]
    assert dataclasses.asdict(config.for_variant("no-finetune"))["tune_epochs"] == 0
