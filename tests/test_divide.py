"""DIVIDE (spec/DIVIDE.md): the random walk, the soft-target InfoNCE and one step's loss against
hand computations in float64, the batches, the warm-up, the EMA, every resolved key, the
config's refusals, and a short run through the training loop."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch
from sklearn.datasets import make_blobs
from sklearn.preprocessing import minmax_scale, scale

from mmcbench.data.load import MultiViewData
from mmcbench.methods.divide.config import VARIANTS, DIVIDEConfig
from mmcbench.methods.divide.losses import objective, random_walk, soft_infonce
from mmcbench.methods.divide.trainer import DIVIDETrainer
from mmcbench.training.trainers import TrainingData

CPU = torch.device("cpu")
SMALL = {"encoder_dims": (16, 16, 8), "decoder_hidden": 8, "batch_size": 16}


@pytest.fixture(autouse=True)
def _float64():
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(previous)


def views_of(n: int = 24, dims: tuple[int, ...] = (5, 7), seed: int = 0) -> list[torch.Tensor]:
    rng = np.random.default_rng(seed)
    return [torch.tensor(rng.normal(size=(n, d)) * 3 + 1) for d in dims]


def make(views: list[torch.Tensor], seed: int = 0, k: int = 3, **changes) -> DIVIDETrainer:
    torch.manual_seed(seed)
    config = DIVIDEConfig(**{**SMALL, **changes})
    return DIVIDETrainer(TrainingData("t", views, k), "DIVIDE", seed, config, CPU)


def step_total(trainer: DIVIDETrainer, epoch: int, idx: torch.Tensor | None = None) -> float:
    trainer.before_epoch(epoch)
    idx = torch.arange(trainer.batch_size()) if idx is None else idx
    return float(trainer.step(idx).terms["total"].detach())


# ------------------------------------------------------------------ hand computations
def hand_walk(z: np.ndarray, sigma: float, steps: int, alpha: float) -> np.ndarray:
    """Steps a–e of spec "High-order random walk", in plain loops and numpy."""
    b = z.shape[0]
    u = z / np.linalg.norm(z, axis=1, keepdims=True)
    d = np.zeros((b, b))
    for i in range(b):
        for j in range(b):
            d[i, j] = max(0.0, 2 - 2 * float(u[i] @ u[j]))
    k = np.exp(-d / sigma)
    t = k / k.sum(axis=1)[:, None]
    power = np.eye(b)
    for _ in range(steps):
        power = power @ t
    return alpha * np.eye(b) + (1 - alpha) * power


def hand_infonce(q, k, w, tau: float, reduction: str) -> float:
    """ℓ(Q, K, W) entry by entry; w None = I."""
    b = q.shape[0]
    qn = q / np.linalg.norm(q, axis=1, keepdims=True)
    kn = k / np.linalg.norm(k, axis=1, keepdims=True)
    w = np.eye(b) if w is None else w
    total = 0.0
    for i in range(b):
        s = [float(qn[i] @ kn[j]) / tau for j in range(b)]
        log_denominator = math.log(sum(math.exp(x) for x in s))
        row_w = w[i].sum()
        for j in range(b):
            total += (w[i, j] / row_w) * -(s[j] - log_denominator)
    return total / (b * b if reduction == "mean_entries" else b)


def test_random_walk_by_hand():
    rng = np.random.default_rng(0)
    z = rng.normal(size=(7, 4))
    for sigma, steps, alpha in [(0.1, 5, 0.5), (0.7, 2, 0.2), (2.0, 1, 0.0)]:
        got = random_walk(torch.tensor(z), sigma, steps, alpha).numpy()
        np.testing.assert_allclose(got, hand_walk(z, sigma, steps, alpha), rtol=0, atol=1e-12)
        np.testing.assert_allclose(got.sum(axis=1), 1.0, atol=1e-12)  # rows sum to 1


@pytest.mark.parametrize("reduction", ["mean_entries", "mean_rows"])
def test_soft_infonce_by_hand(reduction):
    rng = np.random.default_rng(1)
    q, k = rng.normal(size=(5, 3)), rng.normal(size=(5, 3))
    w = rng.uniform(0.1, 2.0, size=(5, 5))  # rows not normalised: W̃ normalises them
    for tau, target in [(0.5, w), (0.3, None)]:
        got = float(soft_infonce(torch.tensor(q), torch.tensor(k), None if target is None
                                 else torch.tensor(target), tau, reduction))  # fmt: skip
        assert got == pytest.approx(hand_infonce(q, k, target, tau, reduction), rel=1e-12)


def test_soft_infonce_survives_underflow():
    """log_softmax, not log(softmax): a tiny τ gives a finite loss."""
    q = torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]])
    w = torch.full((3, 3), 1 / 3)
    assert math.isfinite(float(soft_infonce(q, q, w, 1e-4)))


@pytest.mark.parametrize("n_views", [2, 3])
@pytest.mark.parametrize("rectify", [False, True])
def test_one_step_loss_by_hand(n_views, rectify):
    """The step's total, all_pairs_mean: (1/(V(V−1))) Σ_{u≠v} ℓ(g_u(z^u), z̄^v, W^v) + (1/V)
    Σ_v ℓ(z^v, z̄^v, W^v), W^v = A(z̄^v) when rectified, I before."""
    views = views_of(n=12, dims=(5, 7, 4)[:n_views])
    trainer = make(views, drop_rate=0.0, batch_size=12, rectify_start_epoch=1)
    model = trainer.model
    with torch.no_grad():  # a target that differs from the online encoder
        for p in model.targets.parameters():
            p.add_(0.3 * torch.randn_like(p))
    idx = torch.arange(12)
    epoch = 2 if rectify else 1
    got = step_total(trainer, epoch, idx)
    with torch.no_grad():  # the same forward pass (train mode, batch statistics)
        xs = [v[idx] for v in trainer.inputs]
        z = [model.encoders[v](xs[v]).numpy() for v in range(n_views)]
        zbar = [model.targets[v](xs[v]).numpy() for v in range(n_views)]
        p = [model.decoders[u](torch.tensor(z[u])).numpy() for u in range(n_views)]
    w = [hand_walk(zb, 0.1, 5, 0.5) if rectify else None for zb in zbar]
    inter = [
        hand_infonce(p[u], zbar[v], w[v], 0.5, "mean_entries")
        for u in range(n_views)
        for v in range(n_views)
        if u != v
    ]
    intra = [hand_infonce(z[v], zbar[v], w[v], 0.5, "mean_entries") for v in range(n_views)]
    assert got == pytest.approx(np.mean(inter) + np.mean(intra), rel=1e-10)


# ------------------------------------------------------------------ schedule
def test_fixed_permutation_repeats_and_reshuffle_does_not():
    views = views_of(n=40)
    fixed = make(views, seed=3)
    g = torch.Generator().manual_seed(3)
    first, second = fixed.batches(1, g), fixed.batches(2, g)
    assert [b.tolist() for b in first] == [b.tolist() for b in second]
    assert len(first) == 2 and all(len(b) == 16 for b in first)  # drop_last: 8 never trained
    expected = torch.randperm(40, generator=torch.Generator().manual_seed(3))[:32]
    assert torch.cat(first).tolist() == expected.tolist()  # seeded with the run's seed + 0
    other_run = make(views, seed=4).batches(1, torch.Generator().manual_seed(3))
    assert torch.cat(other_run).tolist() != torch.cat(first).tolist()
    moving = make(views, seed=3, shuffle="reshuffle_each_epoch")
    g = torch.Generator().manual_seed(3)
    a, b = moving.batches(1, g), moving.batches(2, g)
    assert torch.cat(a).tolist() != torch.cat(b).tolist()
    assert sorted(set(torch.cat(a).tolist()) | set(torch.cat(b).tolist())) != sorted(
        torch.cat(a).tolist()
    )  # another epoch reaches samples the first one dropped


def test_batch_capped_to_n_and_lr_not_rescaled():
    trainer = make(views_of(n=10), batch_size=1024)
    assert trainer.batch_size() == 10
    assert [len(b) for b in trainer.batches(1, torch.Generator())] == [10]
    assert trainer.config.lr == pytest.approx(5e-4 * 1024 / 256)


def test_warmup_factor():
    trainer = make(views_of(), warmup_epochs=20)
    assert trainer.step_lr_factor(1, 1, 2) == pytest.approx(0.5 / 20)
    assert trainer.step_lr_factor(1, 2, 2) == pytest.approx(1 / 20)
    assert trainer.step_lr_factor(3, 1, 4) == pytest.approx(2.25 / 20)
    assert trainer.step_lr_factor(20, 1, 1) == 1.0
    assert trainer.step_lr_factor(150, 3, 7) == 1.0
    assert make(views_of(), warmup_epochs=0).step_lr_factor(1, 1, 5) == 1.0


def test_rectification_starts_after_rectify_start_epoch():
    config = DIVIDEConfig(rectify_start_epoch=100)
    assert not config.rectified(100) and config.rectified(101)  # 0-based 99 | 100
    trainer = make(views_of(), rectify_start_epoch=2, drop_rate=0.0)
    trainer.before_epoch(2)
    assert not trainer.rectified()
    trainer.before_epoch(3)
    assert trainer.rectified()


@pytest.mark.parametrize("m", [0.98, 0.5])
def test_ema_moves_the_target_by_one_minus_m(m):
    trainer = make(views_of(), momentum=m)
    model = trainer.model
    online, target = model.encoders[0][0].weight, model.targets[0][0].weight
    assert torch.equal(online, target)
    trainer.before_epoch(1)
    optimiser = torch.optim.Adam(model.parameters(), lr=0.05)
    total = trainer.step(torch.arange(16)).terms["total"]
    assert torch.equal(online, target)  # step 1's update is a no-op
    assert target.grad is None and not target.requires_grad
    total.backward()
    optimiser.step()
    before_t, before_o = target.detach().clone(), online.detach().clone()
    assert not torch.equal(before_t, before_o)
    trainer.step(torch.arange(16))
    expected = before_t + (1 - m) * (before_o - before_t)
    torch.testing.assert_close(target.detach(), expected, rtol=0, atol=1e-14)


def test_eval_step_reuses_predict_encoding():
    views = views_of(n=32)
    trainer = make(views, rectify_start_epoch=0)
    trainer.before_epoch(1)
    idx = trainer.batches(1, torch.Generator())[0]
    trainer.model.eval()
    with torch.no_grad():
        fresh = trainer.eval_step(idx).terms
        trainer.predict(views)
        assert trainer.eval_encoding is not None
        reused = trainer.eval_step(idx).terms
    trainer.model.train()
    for name in ("total", "inter", "intra"):
        assert float(reused[name]) == pytest.approx(float(fresh[name]), rel=1e-10)
    trainer.step(idx)
    assert trainer.eval_encoding is None


# ------------------------------------------------------------------ resolved keys
def test_config_defaults_are_the_spec():
    c = DIVIDEConfig()
    assert (c.epochs, c.total_epochs, c.batch_size, c.blr, c.lr) == (200, 200, 1024, 5e-4, 2e-3)
    assert (c.warmup_epochs, c.rectify_start_epoch, c.momentum, c.temperature) == (
        20,
        100,
        0.98,
        0.5,
    )
    assert (c.drop_rate, c.encoder_dims, c.decoder_hidden) == (0.2, (1024, 1024, 1024, 128), 512)
    assert (c.rw_sigma, c.rw_steps, c.rw_alpha) == (0.1, 5, 0.5)
    assert (c.target_mode, c.loss_reduction, c.view_pairs, c.cross_decoder) == (
        "train", "mean_entries", "all_pairs_mean", "per_view")  # fmt: skip
    assert (c.shuffle, c.kmeans_n_init, c.eval_features, c.soft_assign, c.data_norm) == (
        "fixed_permutation", 10, "target_decoder", "none", "standard")  # fmt: skip
    assert (c.grad_clip, c.init, c.adam_betas) == (None, "torch_default", (0.9, 0.99))
    assert DIVIDEConfig(batch_size=256).lr == pytest.approx(5e-4)
    assert DIVIDEConfig(blr=1e-3).lr == pytest.approx(4e-3)
    assert DIVIDEConfig(epochs=7).total_epochs == 7
    assert list(VARIANTS) == ["DIVIDE"]
    assert DIVIDEConfig.from_dict({"encoder_dims": [8, 4]}).encoder_dims == (8, 4)


def test_params_record_fields_and_derived_lr():
    trainer = make(views_of())
    params = trainer.params()
    assert params == {**dataclasses.asdict(trainer.config), "encoder_dims": [16, 16, 8],
                      "lr": 5e-4 * 16 / 256, "adam_betas": [0.9, 0.99]}  # fmt: skip


def test_architecture_keys():
    trainer = make(views_of(dims=(5, 7, 4)), drop_rate=0.3, encoder_dims=(16, 12, 6))
    enc = trainer.model.encoders[1]
    linears = [m for m in enc if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(7, 16), (16, 12), (12, 6)]
    assert all(m.bias is None for m in linears)
    dropouts = [m.p for m in enc if isinstance(m, torch.nn.Dropout)]
    assert dropouts == [0.3]  # after every hidden block but the last
    assert not enc[-1].affine  # z is batch-normalised without affine
    assert trainer.model.decoders[0][0].out_features == 8  # decoder_hidden
    assert len(trainer.model.decoders) == 3
    pairs = make(views_of(dims=(5, 7, 4)), cross_decoder="per_pair")
    assert len(pairs.model.decoders) == 6


def test_init_key():
    default = make(views_of(dims=(400, 7)), encoder_dims=(300, 8))
    he = make(views_of(dims=(400, 7)), encoder_dims=(300, 8), init="he")
    w_default = default.model.encoders[0][0].weight.std().item()
    w_he = he.model.encoders[0][0].weight.std().item()
    assert w_default == pytest.approx(1 / math.sqrt(3 * 400), rel=0.05)
    assert w_he == pytest.approx(math.sqrt(2 / 400), rel=0.05)
    assert torch.equal(he.model.targets[0][0].weight, he.model.encoders[0][0].weight)


def test_loss_keys_change_the_loss():
    views = views_of(n=16, dims=(5, 7, 4))
    base = dict(drop_rate=0.0, rectify_start_epoch=0)
    reference = step_total(make(views, **base), 1)
    assert step_total(make(views, **base), 1) == reference  # deterministic without dropout
    rows = step_total(make(views, **base, loss_reduction="mean_rows"), 1)
    assert rows == pytest.approx(16 * reference, rel=1e-12)
    assert step_total(make(views, **base, temperature=0.2), 1) != pytest.approx(reference)
    for key, value in [("rw_sigma", 0.5), ("rw_steps", 2), ("rw_alpha", 0.9)]:
        assert step_total(make(views, **base, **{key: value}), 1) != pytest.approx(reference), key
    # α = 1: A = I, the rectified loss is plain InfoNCE
    plain = step_total(make(views, drop_rate=0.0, rectify_start_epoch=5), 1)
    assert step_total(make(views, **base, rw_alpha=1.0), 1) == pytest.approx(plain, rel=1e-12)
    assert plain != pytest.approx(reference)  # rectify_start_epoch changes the targets


def test_view_pairs_and_cross_decoder():
    views = views_of(n=16, dims=(5, 7, 4))
    base = dict(drop_rate=0.0, rectify_start_epoch=0)
    totals = {}
    parts = {}
    for mode in ("all_pairs_mean", "all_pairs_sum", "fused", "first_two"):
        trainer = make(views, **base, view_pairs=mode)
        trainer.before_epoch(1)
        terms = trainer.step(torch.arange(16)).terms
        totals[mode] = float(terms["total"].detach())
        parts[mode] = (float(terms["inter"].detach()), float(terms["intra"].detach()))
    assert len(set(totals.values())) == 4
    mean_inter, mean_intra = parts["all_pairs_mean"]
    assert parts["all_pairs_sum"] == pytest.approx((6 * mean_inter, 3 * mean_intra), rel=1e-12)
    assert parts["fused"][1] == pytest.approx(mean_intra, rel=1e-12)  # same intra terms
    two = make(views, **base, view_pairs="first_two")
    assert two.model.n_views == 2
    assert step_total(make(views[:2], **base), 1) == pytest.approx(totals["first_two"])
    with torch.no_grad():
        assert two.predict(views)[1].shape == (16, 16)  # two views' features
    per_pair = step_total(make(views, **base, cross_decoder="per_pair"), 1)
    assert per_pair != pytest.approx(totals["all_pairs_mean"])


def test_fused_by_hand():
    """fused: mean_u ℓ(g_u(z^u), z̃^{−u}, A(z̃^{−u})) + mean_v ℓ(z^v, z̄^v, A(z̄^v))."""
    rng = np.random.default_rng(5)
    z = [rng.normal(size=(6, 3)) for _ in range(3)]
    zbar = [rng.normal(size=(6, 3)) for _ in range(3)]
    decoders = [torch.nn.Linear(3, 3) for _ in range(3)]

    def cross(u, v, x):
        return decoders[u](x)

    def walk(x):
        return random_walk(x, 0.1, 5, 0.5)

    zt, zbt = [torch.tensor(x) for x in z], [torch.tensor(x) for x in zbar]
    targets = [walk(x) for x in zbt]
    got = objective(zt, zbt, cross, targets, "fused", 0.5, "mean_entries", walk)
    unit = [x / np.linalg.norm(x, axis=1, keepdims=True) for x in zbar]
    inter = []
    for u in range(3):
        fused = np.mean([unit[v] for v in range(3) if v != u], axis=0)
        fused /= np.linalg.norm(fused, axis=1, keepdims=True)
        p = decoders[u](zt[u]).detach().numpy()
        inter.append(hand_infonce(p, fused, hand_walk(fused, 0.1, 5, 0.5), 0.5, "mean_entries"))
    intra = [hand_infonce(z[v], zbar[v], hand_walk(zbar[v], 0.1, 5, 0.5), 0.5, "mean_entries")
             for v in range(3)]  # fmt: skip
    assert float(got["total"].detach()) == pytest.approx(np.mean(inter) + np.mean(intra), rel=1e-10)


def test_target_mode_key():
    views = views_of(n=16)
    for mode, expected in (("train", True), ("eval", False)):
        trainer = make(views, target_mode=mode)
        seen: list[bool] = []

        def record(module, inputs, output, seen=seen):
            seen.append(module.training)

        trainer.model.targets[0].register_forward_hook(record)
        step_total(trainer, 1)
        assert seen == [expected], mode
        assert trainer.model.targets.training  # restored for the next step
    trainer = make(views, target_mode="eval")
    trainer.before_epoch(1)
    trainer.step(torch.arange(16))
    online_bn, target_bn = trainer.model.encoders[0][1], trainer.model.targets[0][1]
    stats = online_bn.running_mean.clone()
    trainer.step(torch.arange(16))  # copies the online statistics before its forward
    assert torch.equal(target_bn.running_mean, stats)


def test_eval_features_and_soft_assign_keys():
    views = views_of(n=30)
    reps = {}
    for mode in ("target_decoder", "target_z", "online_z"):
        trainer = make(views, eval_features=mode, drop_rate=0.0)
        trainer.before_epoch(1)
        optimiser = torch.optim.Adam(trainer.model.parameters(), lr=0.05)
        trainer.step(torch.arange(16)).terms["total"].backward()
        optimiser.step()
        trainer.step(torch.arange(16))  # the EMA: target and online now differ
        trainer.model.eval()
        with torch.no_grad():
            probs, reps[mode] = trainer.predict(views)
            _, zbar = trainer.encode(trainer.inputs)
        torch.testing.assert_close(reps[mode].norm(dim=1), torch.ones(30))
        if mode == "target_z":
            h = [zb / zb.norm(dim=1, keepdim=True) for zb in zbar]
            expected = torch.cat(h, dim=1) / math.sqrt(2)
            torch.testing.assert_close(reps[mode], expected)
        assert not trainer.has_soft_assignments()
        assert set(probs.sum(dim=1).tolist()) == {1.0} and set(probs.flatten().tolist()) <= {0, 1}
    assert reps["target_decoder"].shape == (30, 16) and reps["target_z"].shape == (30, 16)
    assert not torch.allclose(reps["target_z"], reps["online_z"])
    soft = make(views, soft_assign="centroid_softmax")
    assert soft.has_soft_assignments()
    soft.model.eval()
    with torch.no_grad():
        probs, _ = soft.predict(views)
    assert ((probs > 0) & (probs < 1)).all()
    torch.testing.assert_close(probs.sum(dim=1), torch.ones(30))


def test_kmeans_n_init_key(monkeypatch):
    import sklearn.cluster

    seen = []
    original = sklearn.cluster.KMeans

    class Recording(original):
        def fit(self, x, y=None, sample_weight=None):
            seen.append((self.n_init, self.random_state, x.dtype, x.flags["C_CONTIGUOUS"]))
            return super().fit(x, y, sample_weight)

    monkeypatch.setattr(sklearn.cluster, "KMeans", Recording)
    views = views_of(n=20)
    for n_init in (10, 1):
        trainer = make(views, kmeans_n_init=n_init)
        trainer.model.eval()
        with torch.no_grad():
            trainer.predict(views)
    assert seen == [(10, 0, np.float32, True), (1, 0, np.float32, True)]


def test_data_norm_key():
    views = views_of(n=20)
    views[0][:, 2] = 4.0  # a constant feature
    standard = make(views).inputs[0].numpy()
    np.testing.assert_allclose(standard, scale(views[0].numpy()), atol=1e-12)
    assert np.all(standard[:, 2] == 0)
    minmax = make(views, data_norm="min-max").inputs[1].numpy()
    np.testing.assert_allclose(minmax, minmax_scale(views[1].numpy()), atol=1e-15)
    l2 = make(views, data_norm="l2-norm").inputs[1].numpy()
    np.testing.assert_allclose(np.linalg.norm(l2, axis=1), 1.0, atol=1e-12)
    assert DIVIDEConfig().scaling() == "none"  # the trainer scales the stored views


@pytest.mark.parametrize(
    ("changes", "key"),
    [
        ({"epochs": -1}, "epochs"),
        ({"batch_size": 1}, "batch_size"),
        ({"blr": 0.0}, "blr"),
        ({"warmup_epochs": 1.5}, "warmup_epochs"),
        ({"rectify_start_epoch": -2}, "rectify_start_epoch"),
        ({"momentum": 1.2}, "momentum"),
        ({"temperature": -0.5}, "temperature"),
        ({"drop_rate": 1.0}, "drop_rate"),
        ({"encoder_dims": (16,)}, "encoder_dims"),
        ({"encoder_dims": (16, 0)}, "encoder_dims"),
        ({"decoder_hidden": 0}, "decoder_hidden"),
        ({"rw_sigma": 0}, "rw_sigma"),
        ({"rw_steps": 0}, "rw_steps"),
        ({"rw_alpha": -0.1}, "rw_alpha"),
        ({"kmeans_n_init": 0}, "kmeans_n_init"),
        ({"grad_clip": 0.0}, "grad_clip"),
        ({"target_mode": "frozen"}, "target_mode"),
        ({"view_pairs": "pairs"}, "view_pairs"),
        ({"data_norm": "zscore"}, "data_norm"),
        ({"view_pairs": "fused", "cross_decoder": "per_pair"}, "view_pairs"),
    ],
)
def test_config_refuses(changes, key):
    with pytest.raises(ValueError, match=key):
        DIVIDEConfig(**changes)


# ------------------------------------------------------------------ through the loop
def blobs(n: int = 40, seed: int = 0, views: int = 3) -> MultiViewData:
    x, y = make_blobs(n_samples=n, n_features=4, centers=3, random_state=seed)
    rng = np.random.default_rng(seed)
    vs = [(x @ rng.normal(size=(4, 3 + v)) + 0.3 * rng.normal(size=(n, 3 + v))) for v in
          range(views)]  # fmt: skip
    return MultiViewData(
        "blobs", [v.astype(np.float32) for v in vs], [f"v{i}" for i in range(views)],
        y.astype(np.int64), 3, {},
    )  # fmt: skip


@pytest.mark.parametrize(("soft_assign", "n_views"), [("none", 3), ("centroid_softmax", 2)])
def test_short_run_through_the_loop(soft_assign, n_views):
    from mmcbench.training.train import train

    torch.set_default_dtype(torch.float32)
    config = DIVIDEConfig(
        epochs=3, batch_size=16, rectify_start_epoch=1, warmup_epochs=2, encoder_dims=(32, 16),
        decoder_hidden=16, kmeans_n_init=2, soft_assign=soft_assign,
    )  # fmt: skip
    run = train("DIVIDE", blobs(views=n_views), "DIVIDE", 0, config, CPU, (0, 3))
    record, history = run.record, run.history
    assert record["status"] == "done"
    assert list(history["epoch"]) == [0, 1, 2, 3]
    assert list(history["rectified"].iloc[1:]) == [0.0, 1.0, 1.0]
    assert np.isfinite(history["total"].iloc[1:]).all()
    assert np.isfinite(history["eval_total"].iloc[1:]).all()
    assert 0 < record["metrics"]["ACC"] <= 100
    if soft_assign == "none":
        assert math.isnan(record["metrics"]["ECE"])
    else:
        assert math.isfinite(record["metrics"]["ECE"])
    assert record["params"]["lr"] == pytest.approx(5e-4 * 16 / 256)
    assert record["params"]["scaling"] == "none"
    assert run.embeddings["epoch_3"].shape == (40, 16 * n_views)
    assert record["diagnostics"]["batches_per_epoch"] == 2


def test_per_pair_evaluation_feature_is_the_mean_of_its_decoders():
    """cross_decoder per_pair: view u's feature is n(mean_{v≠u} g_{u→v}(z̄^u))."""
    views = views_of(n=20, dims=(5, 7, 4))
    trainer = make(views, cross_decoder="per_pair")
    model = trainer.model
    model.eval()
    with torch.no_grad():
        _, rep = trainer.predict(views)
        _, zbar = trainer.encode(trainer.inputs)
        h = []
        for u in range(3):
            outs = [model.decoders[model.pairs.index((u, v))](zbar[u]) for v in range(3) if v != u]
            mean = (outs[0] + outs[1]) / 2
            h.append(mean / mean.norm(dim=1, keepdim=True))
        expected = torch.cat(h, dim=1) / math.sqrt(3)
    torch.testing.assert_close(rep, expected)
