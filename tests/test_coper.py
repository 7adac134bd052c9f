"""COPER (spec/COPER.md): the CCA term and its self-normalised weight against a hand
computation, the pseudo-labels, the agreement rule and the permuted batches, shared vs
faithful forward passes, every Resolved key, the config's refusals and a short run through
the training loop."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from sklearn.datasets import make_blobs
from sklearn.preprocessing import minmax_scale

from mmcbench.data.load import MultiViewData
from mmcbench.methods.coper.config import VARIANTS, COPERConfig
from mmcbench.methods.coper.losses import (
    CCA_R,
    agreement,
    cca_correlation,
    permuted_batches,
    pseudo_labels,
    self_normalised,
)
from mmcbench.methods.coper.trainer import COPERTrainer
from mmcbench.training.loop import fit
from mmcbench.training.train import run_scaling
from mmcbench.training.trainers import TrainingData

CPU = torch.device("cpu")
SMALL = {"encoder_widths": (16, 10), "head_hidden": 16, "batch_size": 16}


# ------------------------------------------------------------------ CCA term
def inverse_sqrt_np(s: np.ndarray) -> np.ndarray:
    values, vectors = np.linalg.eigh(s)
    return vectors @ np.diag(values**-0.5) @ vectors.T


def correlated(rng: np.random.Generator, m: int, d: int) -> tuple[np.ndarray, np.ndarray]:
    shared = rng.normal(size=(m, d))
    return shared + 0.5 * rng.normal(size=(m, d)), shared @ rng.normal(size=(d, d)) + rng.normal(
        size=(m, d)
    )


def test_cca_term_is_top10_regularised_canonical_correlations():
    rng = np.random.default_rng(0)
    m, d = 40, 12
    a, b = correlated(rng, m, d)
    ac, bc = a - a.mean(0), b - b.mean(0)
    s_aa = ac.T @ ac / (m - 1) + CCA_R * np.eye(d)
    s_bb = bc.T @ bc / (m - 1) + CCA_R * np.eye(d)
    s_ab = ac.T @ bc / (m - 1)
    # canonical correlations of the regularised covariances: singular values of T
    rho = np.linalg.svd(inverse_sqrt_np(s_aa) @ s_ab @ inverse_sqrt_np(s_bb), compute_uv=False)
    expected = np.sort(np.sqrt(rho**2 + CCA_R))[::-1][:10].sum()
    got = float(cca_correlation(torch.tensor(a), torch.tensor(b)))
    assert got == pytest.approx(expected, abs=1e-8)
    # all 12 (or the unregularised ρ alone) would differ
    assert abs(got - np.sqrt(rho**2 + CCA_R).sum()) > 1e-3
    assert abs(got - np.sort(rho)[::-1][:10].sum()) > 1e-4
    assert 0 < rho.max() <= 1 + 1e-9
    with pytest.raises(ValueError, match="unequal"):
        cca_correlation(torch.tensor(a), torch.tensor(b[:-1]))


def test_self_normalised_weight_value_and_gradient():
    rng = np.random.default_rng(1)
    a_np, b_np = correlated(rng, 30, 10)
    pairs = 3
    a = torch.tensor(a_np, requires_grad=True)
    c = -cca_correlation(a, torch.tensor(b_np))
    weighted = self_normalised(c, pairs)
    assert float(weighted.detach()) == pytest.approx(-1 / pairs, abs=1e-15)
    (grad,) = torch.autograd.grad(weighted, a)
    a2 = torch.tensor(a_np, requires_grad=True)
    (expected,) = torch.autograd.grad(-torch.log(cca_correlation(a2, torch.tensor(b_np))) / 3, a2)
    assert torch.allclose(grad, expected, atol=1e-12)
    assert grad.abs().max() > 1e-6


# ------------------------------------------------------------------ pseudo-labels
PROBS = [[0.9, 0.1], [0.8, 0.2], [0.3, 0.7], [0.2, 0.8], [0.6, 0.4], [0.5, 0.5]]
H = [[1, 0], [1, 0.2], [0, 1], [0.1, 1], [1, 1], [-1, 0]]


def run_pseudo(tau: float, k: int = 3):
    kept, labels = pseudo_labels(
        torch.tensor(PROBS, dtype=torch.float64), [torch.tensor(H, dtype=torch.float64)], k, tau
    )
    return kept[0].tolist(), labels[0].numpy()


def test_pseudo_labels_by_hand():
    # k = 3: S_0 = rows {0, 1, 4}, S_1 = rows {3, 2, 5}; centroids (1, 0.4) and (−0.3, 2/3)
    h = np.array(H, dtype=float)
    c = np.array([[1, 0.4], [-0.3, 2 / 3]])
    s = (h / np.linalg.norm(h, axis=1, keepdims=True)) @ (
        c / np.linalg.norm(c, axis=1, keepdims=True)
    ).T
    # A_0 = rows 1, 0, 4 (cos .983, .928, .919); A_1 = rows 2, 3, 5 (.912, .867, .410)
    assert s[5, 1] == pytest.approx(0.41036468) and s[4, 1] < s[5, 1]
    kept, labels = run_pseudo(0.5)  # row 5 (0.410) is not above τ: dropped from A_1
    assert kept == [True, True, True, True, True, False]
    np.testing.assert_array_equal(labels, [[1, 0], [1, 0], [0, 1], [0, 1], [1, 0], [0, 0]])
    kept, labels = run_pseudo(0.4)  # now above τ
    assert kept[5] and labels[5].tolist() == [0, 1]
    # τ = 0.95: A_0 keeps row 1 alone (.983 > τ); no row of A_1 is above τ, so all of A_1
    kept, labels = run_pseudo(0.95)
    assert kept == [False, True, True, True, False, True]
    # k = 4 puts row 4 in both A_j (τ = 0): a soft label, the weights (1 + s)/2 normalised
    kept, labels = run_pseudo(0.0, k=4)
    ref_kept, ref_labels = reference_pseudo(np.array(PROBS), [h], 4, 0.0)[0]
    assert kept == ref_kept
    np.testing.assert_allclose(labels, ref_labels, atol=1e-12)
    soft = [i for i in range(6) if 0 < labels[i].max() < 1]
    assert soft, "no row is claimed by two clusters"
    i = soft[0]
    assert labels[i].sum() == pytest.approx(1.0)


def reference_pseudo(probs, hs, k, tau):
    """Plain loops over clusters and rows (the code's reading)."""
    b, n_k = probs.shape
    out = []
    for h in hs:
        claims = [{} for _ in range(b)]
        for j in range(n_k):
            top = np.argsort(-probs[:, j], kind="stable")[:k]
            c = h[top].mean(0)
            s = np.array([h[i] @ c / (np.linalg.norm(h[i]) * np.linalg.norm(c)) for i in range(b)])
            a = np.argsort(-s, kind="stable")[:k]
            keep = [i for i in a if s[i] > tau] if s[a].max() > tau else list(a)
            for i in keep:
                claims[i][j] = (1 + s[i]) / 2
        labels = np.zeros((b, n_k))
        for i, cl in enumerate(claims):
            if len(cl) == 1:
                labels[i, next(iter(cl))] = 1
            elif cl:
                total = sum(cl.values())
                for j, w in cl.items():
                    labels[i, j] = w / total
        out.append(([bool(c) for c in claims], labels))
    return out


@pytest.mark.parametrize("tau", [0.0, 0.5, 0.95])
def test_pseudo_labels_match_a_loop_reference(tau):
    rng = np.random.default_rng(2)
    probs = rng.dirichlet(np.ones(4), size=20)
    hs = [rng.normal(size=(20, 5)) + 0.5 for _ in range(2)]
    kept, labels = pseudo_labels(torch.tensor(probs), [torch.tensor(h) for h in hs], 6, tau)
    for v, (ref_kept, ref_labels) in enumerate(reference_pseudo(probs, hs, 6, tau)):
        assert kept[v].tolist() == ref_kept
        np.testing.assert_allclose(labels[v].numpy(), ref_labels, atol=1e-12)
        if tau == 0.0:  # some rows are claimed by several clusters
            assert ((ref_labels > 0) & (ref_labels < 1)).any()


def test_agreement_drops_only_rows_kept_everywhere_against_view_1():
    kept = [torch.tensor(m) for m in ([1, 1, 1, 0], [1, 1, 1, 1], [1, 0, 1, 1])]
    kept = [m.bool() for m in kept]
    one_hot = torch.eye(2, dtype=torch.float64)
    labels = [
        one_hot[[0, 0, 1, 0]],
        one_hot[[1, 1, 1, 1]],  # disagrees with view 1 on rows 0 and 1
        one_hot[[0, 0, 1, 0]],
    ]
    out = agreement(kept, labels)
    # row 0 (kept everywhere, view 2 disagrees): out of views 1 and 2, kept in view 3
    # row 1 (not kept in view 3): never checked; row 2 agrees; row 3 not in view 1
    assert [m.tolist() for m in out] == [
        [False, True, True, False],
        [False, True, True, True],
        [True, False, True, True],
    ]


# ------------------------------------------------------------------ permuted batches
def test_permuted_batches_padding_and_doubling():
    rng = np.random.default_rng(0)
    rows = [np.array([0, 1, 2, 3, 4, 5, 6]), np.array([10, 11, 12, 13])]
    classes = [np.array([0, 0, 0, 0, 0, 1, 2]), np.array([0, 0, 1, 3])]
    out_rows, out_labels = permuted_batches(rows, classes, 4, rng)
    # class 0: n = (5, 2), m = min(4, 5) = 4: view 1 keeps its 5 (not cut), view 2 padded to
    # 4 from ⌊2/2⌋ + 1 = 2 copies; class 1: n = (1, 1), m = 1; class 2: absent in view 2
    assert [len(r) for r in out_rows] == [2 * 5 + 2 * 1, 2 * 4 + 2 * 1]
    assert out_labels[0].tolist() == [0] * 10 + [1] * 2
    assert out_labels[1].tolist() == [0] * 8 + [1] * 2
    first, second = out_rows[1][:4], out_rows[1][4:8]
    assert sorted(first) == sorted(second) and set(first) == {10, 11}
    assert sorted(out_rows[0][:5]) == sorted(out_rows[0][5:10]) == [0, 1, 2, 3, 4]
    assert out_rows[0][10:].tolist() == [5, 5] and out_rows[1][8:].tolist() == [12, 12]
    # padding without replacement from ⌊(m − n)/n⌋ + 1 copies: n = 3, m = 7 → 2 copies, so a
    # row appears at most 1 + 2 = 3 times
    rows = [np.arange(7), np.array([20, 21, 22])]
    classes = [np.zeros(7, dtype=int), np.zeros(3, dtype=int)]
    for seed in range(20):
        out_rows, _ = permuted_batches(rows, classes, 8, np.random.default_rng(seed))
        half = out_rows[1][:7]
        assert len(out_rows[1]) == 14 and np.bincount(half - 20).max() <= 3
        assert set(half) == {20, 21, 22}
    # k caps m: n = (7, 3), k = 5 → view 2 padded to 5, view 1 kept at 7
    out_rows, _ = permuted_batches(rows, classes, 5, np.random.default_rng(0))
    assert [len(r) for r in out_rows] == [14, 10]


# ------------------------------------------------------------------ trainer helpers
def blobs(n: int = 48, views: int = 3, seed: int = 0) -> MultiViewData:
    x, y = make_blobs(n_samples=n, n_features=4, centers=3, random_state=seed)
    rng = np.random.default_rng(seed)
    xs = [x @ rng.normal(size=(4, d)) + 0.3 * rng.normal(size=(n, d)) for d in (5, 6, 7)[:views]]
    scaled = [minmax_scale(v).astype(np.float32) for v in xs]
    names = ["a", "b", "c"][:views]
    return MultiViewData("blobs", scaled, names, y.astype(np.int64), 3, {})


def make_trainer(data, seed=0, variant="COPER", dtype=torch.float32, **changes):
    fields = {**SMALL, "epochs": 6, "stage2_epoch": 2, "stage3_epoch": 4, **changes}
    torch.manual_seed(seed)
    views = [torch.from_numpy(v).to(dtype) for v in data.views]
    given = TrainingData(data.name, views, data.n_clusters)
    return COPERTrainer(given, variant, seed, COPERConfig(**fields), CPU), views


def encoder_bn(trainer: COPERTrainer, v: int = 0) -> torch.nn.BatchNorm1d:
    return next(m for m in trainer.model.encoders[v] if isinstance(m, torch.nn.BatchNorm1d))


def step_at(trainer: COPERTrainer, epoch: int, idx: torch.Tensor):
    trainer.before_epoch(epoch)
    return trainer.step(idx)


# ------------------------------------------------------------------ shared vs faithful
@pytest.mark.parametrize("epoch", [1, 3, 5])
def test_shared_forward_gives_the_same_losses_and_gradients(epoch):
    data = blobs()
    idx = torch.arange(16)
    outs, grads, tracked = [], [], []
    faithful, _ = make_trainer(data, dtype=torch.float64, pseudo_cca_loss=True)
    faithful.model.double()
    for shared in (False, True):
        trainer, _ = make_trainer(
            data, dtype=torch.float64, pseudo_cca_loss=True, shared_forward=shared
        )
        trainer.model.double()
        trainer.model.load_state_dict(faithful.model.state_dict())
        out = step_at(trainer, epoch, idx)
        trainer.model.zero_grad(set_to_none=True)
        out.terms["total"].backward()
        outs.append({k: float(v.detach()) for k, v in out.terms.items()})
        grads.append(
            [p.grad.clone() if p.grad is not None else None for p in trainer.model.parameters()]
        )
        tracked.append(int(encoder_bn(trainer).num_batches_tracked))
    assert outs[0].keys() == outs[1].keys()
    for key in outs[0]:
        assert outs[0][key] == pytest.approx(outs[1][key], rel=1e-9, abs=1e-12), key
    for g0, g1 in zip(*grads, strict=True):
        assert (g0 is None) == (g1 is None)
        if g0 is not None:
            assert torch.allclose(g0, g1, rtol=1e-7, atol=1e-10)
    if epoch == 1:  # stage I: faithful 2(V − 1) = 4 train-mode passes per view, shared 1
        assert tracked == [4, 1]
    if epoch >= 5:
        assert outs[0]["perm_ce"] > 0 and outs[0]["perm_cca"] != 0


# ------------------------------------------------------------------ the step's terms
def test_step_terms_and_stages():
    data = blobs()
    trainer, views = make_trainer(data)
    idx = torch.arange(16)
    assert [trainer.stage(e) for e in range(1, 7)] == [1, 1, 2, 2, 3, 3]
    one = step_at(trainer, 1, idx)
    assert one.terms["ce"] == 0 and one.terms["perm_ce"] == 0 and "perm_cca" not in one.terms
    # three pairs: the CCA part is exactly −1, the recon counts each view V − 1 = 2 times
    assert float(one.terms["cca"].detach()) == pytest.approx(-1.0, abs=1e-6)
    with torch.no_grad():
        model = trainer.model
        mses = [
            torch.nn.functional.mse_loss(d(e(x[idx])), x[idx])
            for e, d, x in zip(model.encoders, model.decoders, views, strict=True)
        ]
    assert float(one.terms["recon"].detach()) == pytest.approx(2 * float(sum(mses)), rel=1e-5)
    values = {k: float(v.detach()) for k, v in one.terms.items()}
    parts = sum(v for k, v in values.items() if k != "total")
    assert values["total"] == pytest.approx(parts, rel=1e-6)
    assert 0 < one.stats["corr"] <= 10 * math.sqrt(1 + 1e-3)
    three = step_at(trainer, 3, idx)
    assert three.terms["ce"] > 0 and three.terms["perm_ce"] == 0
    assert 0 < three.stats["pseudo_kept"] <= 1
    five = step_at(trainer, 5, idx)
    assert five.terms["perm_ce"] > 0 and five.stats["perm_rows"] > 0
    assert trainer.after_epoch()["cca_pairs_dropped"] == 0


def test_a_failing_pair_is_dropped_and_counted(monkeypatch):
    import mmcbench.methods.coper.trainer as coper_trainer

    data = blobs()
    trainer, _ = make_trainer(data)
    calls = {"n": 0}
    real = coper_trainer.cca_correlation

    def flaky(a, b):
        calls["n"] += 1
        if calls["n"] == 2:
            raise torch.linalg.LinAlgError("eigh failed")
        return real(a, b)

    monkeypatch.setattr(coper_trainer, "cca_correlation", flaky)
    out = step_at(trainer, 1, torch.arange(16))
    assert float(out.terms["cca"].detach()) == pytest.approx(-2 / 3, abs=1e-6)
    assert trainer.after_epoch()["cca_pairs_dropped"] == 1
    trainer.before_epoch(2)
    assert trainer.after_epoch()["cca_pairs_dropped"] == 0


# ------------------------------------------------------------------ each Resolved key
def test_gradient_paths_and_ce_to_encoders():
    data = blobs()
    idx = torch.arange(16)
    for to_encoders in (False, True):
        trainer, _ = make_trainer(data, ce_to_encoders=to_encoders)
        out = step_at(trainer, 5, idx)
        model = trainer.model
        model.zero_grad(set_to_none=True)
        (out.terms["ce"] + out.terms["perm_ce"]).backward()
        enc = model.encoders[0][0].weight.grad
        assert (enc is not None and enc.abs().max() > 0) == to_encoders
        assert model.head[0].weight.grad is not None
        assert model.omega.grad is None
        model.zero_grad(set_to_none=True)
        (out.terms["recon"] + out.terms["cca"]).backward()
        assert model.head[0].weight.grad is None and model.omega.grad is None
        assert model.encoders[1][0].weight.grad is not None
        assert model.decoders[1][0].weight.grad is not None


def test_pseudo_cca_variant_and_lambda():
    data = blobs()
    idx = torch.arange(16)
    plain, _ = make_trainer(data)
    assert "perm_cca" not in step_at(plain, 5, idx).terms
    cca = {}
    for lam in (0.01, 0.02):
        trainer, _ = make_trainer(data, variant="pseudo-CCA", pseudo_cca_loss_lambda=lam)
        assert trainer.config.pseudo_cca_loss
        cca[lam] = float(step_at(trainer, 5, idx).terms["perm_cca"].detach())
    assert cca[0.01] < 0 and cca[0.02] == pytest.approx(2 * cca[0.01], rel=1e-6)


def test_unequal_permuted_batches_drop_their_pairs(monkeypatch):
    import mmcbench.methods.coper.trainer as coper_trainer

    def unequal(rows, classes, k, rng):  # view 1 has one row more (a view with n_v > k)
        lengths = (9, 8, 8)
        return (
            [np.arange(n) % 16 for n in lengths],
            [np.arange(n) % 2 for n in lengths],
        )

    monkeypatch.setattr(coper_trainer, "permuted_batches", unequal)
    trainer, _ = make_trainer(blobs(), variant="pseudo-CCA")
    out = step_at(trainer, 5, torch.arange(16))
    assert trainer.after_epoch()["pseudo_cca_pairs_dropped"] == 2  # (1, 2) and (1, 3)
    expected = 0.01 * -1 / 3  # the pair (2, 3) alone, self-normalised
    assert float(out.terms["perm_cca"].detach()) == pytest.approx(expected, rel=1e-6)


def test_use_decoder_shapes_init_and_normalisation():
    data = blobs()
    trainer, views = make_trainer(data)
    model = trainer.model
    enc = [m for m in model.encoders[0] if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in enc] == [(5, 16), (16, 10)]
    assert isinstance(model.encoders[0][-1], torch.nn.Linear)  # h is unbounded
    dec = [m for m in model.decoders[2] if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in dec] == [(10, 16), (16, 7)]
    assert model.head[0].out_features == 16 and model.head[-1].out_features == 3
    linears = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
    w = torch.cat([m.weight.detach().flatten() for m in linears])
    assert float(w.std()) == pytest.approx(0.01, rel=0.1)
    assert all(float(m.bias.detach().abs().max()) == 0 for m in linears)
    assert torch.allclose(trainer.fusion_weights(), torch.full((3,), 1 / 3))
    he, _ = make_trainer(data, init="he")
    assert float(he.model.encoders[0][0].weight.detach().std()) > 0.1
    no_dec, _ = make_trainer(data, use_decoder=False)
    assert no_dec.model.decoders is None
    assert float(step_at(no_dec, 1, torch.arange(16)).terms["recon"].detach()) == 0
    trainer.model.eval()
    probs, z = trainer.predict(views)
    assert torch.allclose(probs.sum(1), torch.ones(48)) and z.shape == (48, 10)
    assert float(z.norm(dim=1).max()) <= 1 + 1e-6
    raw, _ = make_trainer(data, normalize_embeddings=False)
    raw.model.load_state_dict(trainer.model.state_dict())
    raw.model.eval()
    _, z_raw = raw.predict(views)
    with torch.no_grad():
        h = trainer.model.encode(views)
    assert torch.allclose(z_raw, sum(h) / 3, atol=1e-6) and not torch.allclose(z_raw, z)


def test_batches_k_preprocess_and_validation():
    data = blobs()
    trainer, _ = make_trainer(data)
    g = torch.Generator().manual_seed(3)
    assert [len(b) for b in trainer.batches(1, g)] == [16, 16, 16]
    capped, _ = make_trainer(data, batch_size=100)  # B = min(100, 48)
    assert [len(b) for b in capped.batches(1, g)] == [48]
    assert trainer.k == 16 // 3 and make_trainer(data, pseudo_labels_k=4)[0].k == 4
    with pytest.raises(ValueError, match="pseudo_labels_k"):
        make_trainer(data, pseudo_labels_k=17)
    assert run_scaling(COPERConfig(), "minmax_global") == "minmax"
    assert run_scaling(COPERConfig(preprocess="none"), "minmax") == "none"
    # validation_every: the silhouette only at its multiples
    trainer.before_epoch(3)
    assert math.isnan(trainer.eval_step(torch.arange(16)).stats["neg_silhouette"])


def test_eval_step_reuses_predict():
    data = blobs()
    trainer, views = make_trainer(data, validation_every=2)
    step_at(trainer, 2, torch.arange(16))
    trainer.model.eval()
    fresh = trainer.eval_step(torch.arange(16)).stats
    trainer.end_evaluation()
    trainer.predict(views)
    assert trainer.eval_encoding is not None
    reused = trainer.eval_step(torch.arange(8)).stats
    assert reused["neg_silhouette"] == pytest.approx(fresh["neg_silhouette"], abs=1e-5)
    assert -1 <= reused["neg_silhouette"] <= 1 or math.isnan(reused["neg_silhouette"])
    trainer.end_evaluation()
    assert trainer.eval_encoding is None and trainer.silhouette is None


def test_config_defaults_and_variants():
    c = COPERConfig()
    assert (c.batch_size, c.lr, c.epochs, c.total_epochs) == (256, 1e-4, 600, 600)
    assert c.encoder_widths == (512, 256, 128) and c.head_hidden == 1024
    assert (c.stage2_epoch, c.stage3_epoch, c.validation_every) == (150, 200, 10)
    assert c.pseudo_labels_k is None and c.cosine_neighbor_threshold == 0.5
    assert not c.pseudo_cca_loss and c.pseudo_cca_loss_lambda == 0.01
    assert not c.ce_to_encoders and c.use_decoder and not c.shared_forward
    assert c.normalize_embeddings and c.acc_matching == "hungarian"
    assert c.preprocess == "minmax_feature" and c.init == "normal" and c.grad_clip is None
    assert set(VARIANTS) == {"COPER", "pseudo-CCA", "CCA-float64"}
    assert c.for_variant("COPER") is c and c.for_variant("pseudo-CCA").pseudo_cca_loss
    json.dumps(COPERTrainer.config_params(c))
    with pytest.raises(ValueError, match="variant"):
        c.for_variant("nope")


@pytest.mark.parametrize(
    ("changes", "key"),
    [
        ({"acc_matching": "greedy"}, "acc_matching"),
        ({"encoder_widths": (64, 8)}, "encoder_widths"),
        ({"stage2_epoch": 5, "stage3_epoch": 4}, "stage3_epoch"),
        ({"pseudo_labels_k": 0}, "pseudo_labels_k"),
        ({"cosine_neighbor_threshold": 1.0}, "cosine_neighbor_threshold"),
        ({"batch_size": 1}, "batch_size"),
        ({"pseudo_cca_loss_lambda": -0.1}, "pseudo_cca_loss_lambda"),
        ({"epochs": 0}, "epochs"),
        ({"preprocess": "zscore"}, "preprocess"),
    ],
)
def test_config_refuses(changes, key):
    with pytest.raises(ValueError, match=key):
        COPERConfig(**changes)


# ------------------------------------------------------------------ the loop
def test_short_run_through_the_loop():
    data = blobs(n=48)
    torch.manual_seed(0)
    trainer, views = make_trainer(data, validation_every=2)
    (fitted,) = fit([trainer], [0], views, data, [], CPU, "COPER test")
    assert fitted.status == "done", fitted.reason
    h = fitted.history
    assert h["epoch"].tolist() == list(range(7))
    assert np.isfinite(h["ACC"]).all() and np.isfinite(h["ECE"]).all()
    trained = h[h["epoch"] > 0]
    assert np.isfinite(trained["total"]).all()
    assert (trained["cca_pairs_dropped"] == 0).all()
    sil = trained.set_index("epoch")["eval_neg_silhouette"]
    assert sil[[1, 3, 5]].isna().all() and np.isfinite(sil[[2, 4, 6]]).all()
    assert trained["stage"].tolist() == [1, 1, 2, 2, 3, 3]
    assert (trained["ce"].iloc[2:] > 0).all() and (trained["perm_ce"].iloc[4:] > 0).all()
    assert trainer.params() == COPERTrainer.config_params(trainer.config)
    assert trainer.params()["encoder_widths"] == [16, 10]


def test_permutations_draw_from_the_runs_own_generator():
    data = blobs()
    idx = torch.arange(16)
    state = np.random.get_state()[1].copy()
    values = []
    for _ in range(2):
        trainer, _ = make_trainer(data, seed=3)
        values.append(float(step_at(trainer, 5, idx).terms["perm_ce"].detach()))
    assert values[0] == values[1] > 0
    assert (np.random.get_state()[1] == state).all()  # NumPy's global generator untouched


def test_cca_precision_float64_computes_the_cca_blocks_in_float64_and_its_variant_sets_it():
    """The float64 reading: the same correlation as a float64 computation, returned in the
    run's type; the CCA-float64 variant sets the key and nothing else."""
    import dataclasses

    from mmcbench.methods.coper.config import COPERConfig
    from mmcbench.methods.coper.losses import cca_correlation

    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(64, 12, generator=g), torch.randn(64, 12, generator=g)
    exact = cca_correlation(a.double(), b.double())
    assert torch.allclose(exact.float(), cca_correlation(a, b), rtol=1e-4)
    config = COPERConfig()
    assert config.cca_precision == "run"
    variant = config.for_variant("CCA-float64")
    assert variant.cca_precision == "float64"
    assert dataclasses.replace(variant, cca_precision="run") == config
