"""SiMVC and CoMVC (spec/SiMVC-CoMVC.md): the DDC terms and the contrastive terms against hand
computations, CoMVC's negative sampling, the one-cluster rule, the configs, the model, and a
short training of each method."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch
from sklearn.datasets import make_blobs
from sklearn.metrics import adjusted_rand_score
from sklearn.preprocessing import minmax_scale

from mmcbench.data.load import MultiViewData
from mmcbench.methods.comvc.config import VARIANTS as COMVC_VARIANTS
from mmcbench.methods.comvc.config import CoMVCConfig
from mmcbench.methods.comvc.losses import (
    NoNegatives,
    adaptive_weight,
    draw_negatives,
    negative_count,
    nt_xent_two_views,
    positive_pairs,
    sampled_contrastive_loss,
)
from mmcbench.methods.comvc.trainer import ONE_CLUSTER_STOP, CoMVCTrainer
from mmcbench.methods.simvc.config import VARIANTS as SIMVC_VARIANTS
from mmcbench.methods.simvc.config import SiMVCConfig
from mmcbench.methods.simvc.losses import simvc_terms
from mmcbench.methods.simvc.model import SiMVC
from mmcbench.methods.simvc.trainer import SiMVCTrainer, epoch_batches
from mmcbench.models.layers import ClusteringHead, SoftmaxFusion
from mmcbench.training.trainers import RunStopped, TrainingData

CPU = torch.device("cpu")
# float() of a loss term that still carries its graph
pytestmark = pytest.mark.filterwarnings("ignore:Converting a tensor with requires_grad")


def softmax_rows(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def hand_squared_distances(x: np.ndarray) -> np.ndarray:
    n = x.shape[0]
    d = np.zeros((n, n))
    for i in range(n):
        for j in range(n):
            d[i, j] = sum((x[i, c] - x[j, c]) ** 2 for c in range(x.shape[1]))
    return d


def lower_median(values: np.ndarray) -> float:
    """torch.median's rule: the lower of the two middle values for an even count."""
    flat = np.sort(values.ravel())
    return float(flat[(flat.size - 1) // 2])


def hand_kernel(x: np.ndarray, rel_sigma: float, median=lower_median) -> np.ndarray:
    d = hand_squared_distances(x)
    sigma2 = max(rel_sigma * median(d), 1e-9)
    return np.exp(-d / (2 * sigma2))


def hand_dcs(p: np.ndarray, kernel: np.ndarray) -> float:
    b, k = p.shape
    n = np.zeros((k, k))
    for a in range(k):
        for c in range(k):
            n[a, c] = sum(p[i, a] * kernel[i, j] * p[j, c] for i in range(b) for j in range(b))
    total = 0.0
    for a in range(k):
        for c in range(a + 1, k):
            total += max(n[a, c], 1e-9) / math.sqrt(max(n[a, a] * n[c, c], 1e-18))
    return 2 / (k * (k - 1)) * total


# ------------------------------------------------------------------ DDC terms
def test_ddc2_samples_is_the_double_loop():
    rng = np.random.default_rng(0)
    b, k = 5, 3
    a = softmax_rows(rng.normal(size=(b, k)))
    h = rng.normal(size=(b, 4))
    samples = 0.0
    for i in range(b):
        for j in range(i + 1, b):
            samples += sum(a[i, c] * a[j, c] for c in range(k))
    samples *= 2 / (b * (b - 1))
    clusters = 0.0
    for c in range(k):
        for e in range(c + 1, k):
            clusters += sum(a[i, c] * a[i, e] for i in range(b))
    clusters *= 2 / (k * (k - 1))
    at, ht = torch.tensor(a), torch.tensor(h)
    assert float(simvc_terms(at, ht)["ddc2"]) == pytest.approx(samples, rel=1e-12)
    assert float(simvc_terms(at, ht, ddc2="clusters")["ddc2"]) == pytest.approx(clusters, 1e-12)
    assert abs(samples - clusters) > 1e-3  # the default is the sample-wise form


def test_ddc1_ddc3_are_d_cs_by_hand():
    rng = np.random.default_rng(1)
    b, k = 4, 3  # 16 kernel entries: the median is the lower of the two middle values
    a = softmax_rows(2 * rng.normal(size=(b, k)))
    h = rng.normal(size=(b, 5))
    kernel = hand_kernel(h, 0.15)
    m = np.zeros((b, k))
    for i in range(b):
        for e in range(k):
            m[i, e] = math.exp(-sum((a[i, c] - float(c == e)) ** 2 for c in range(k)))
    terms = simvc_terms(torch.tensor(a), torch.tensor(h), 0.15)
    assert float(terms["ddc1"]) == pytest.approx(hand_dcs(a, kernel), rel=1e-10)
    assert float(terms["ddc3"]) == pytest.approx(hand_dcs(m, kernel), rel=1e-10)
    assert float(terms["total"]) == pytest.approx(
        float(terms["ddc1"] + terms["ddc2"] + terms["ddc3"]), rel=1e-12
    )
    # numpy's median (the mean of the two middle values) would give another DDC1
    averaged = hand_kernel(h, 0.15, median=lambda d: float(np.median(d)))
    assert abs(hand_dcs(a, averaged) - float(terms["ddc1"])) > 1e-6


# ------------------------------------------------------------------ negative sampling
def test_positive_pairs_are_every_ordered_view_pair():
    anchors, positives = positive_pairs(3, 2)
    pairs = list(zip(anchors.tolist(), positives.tolist(), strict=True))
    # view u rows u·B + i; (u, v) for u ≠ v, u-major
    expected = [
        *[(0, 2), (1, 3), (0, 4), (1, 5)],  # u = 0: v = 1, then v = 2
        *[(2, 0), (3, 1), (2, 4), (3, 5)],  # u = 1
        *[(4, 0), (5, 1), (4, 2), (5, 3)],  # u = 2
    ]
    assert pairs == expected
    assert len(pairs) == 3 * 2 * 2
    assert negative_count(0.25, 2, 100) == 50
    assert negative_count(0.25, 3, 7) == 5


def test_negatives_come_from_other_clusters_uniformly_with_replacement():
    clusters = torch.tensor([0, 0, 1, 2, 2, 1, 0])
    n_views, b = 3, clusters.numel()
    anchors, _ = positive_pairs(n_views, b)
    stacked = clusters.repeat(n_views)
    global_state = torch.get_rng_state()
    generator = torch.Generator().manual_seed(3)
    count = 3000
    neg = draw_negatives(clusters, n_views, anchors, count, generator)
    assert torch.equal(torch.get_rng_state(), global_state)  # only the given generator draws
    assert neg.shape == (n_views * (n_views - 1) * b, count)
    assert neg.dtype == torch.long
    anchor_clusters = stacked[anchors]
    assert bool((stacked[neg] != anchor_clusters[:, None]).all())  # never the anchor's cluster
    for c in range(3):
        rows = neg[anchor_clusters == c]
        eligible = torch.nonzero(stacked != c).flatten()
        freq = torch.bincount(rows.flatten(), minlength=n_views * b).double()
        assert bool((freq[stacked == c] == 0).all())
        expected = rows.numel() / eligible.numel()
        assert float((freq[eligible] / expected - 1).abs().max()) < 0.05  # uniform
        # every row: each eligible row drawn, and repeats (with replacement)
        for row in rows:
            assert set(row.tolist()) == set(eligible.tolist())
        assert not all(torch.equal(rows[0], r) for r in rows[1:])  # independent per row
    # with replacement even when M is below the eligible count: repeats occur
    small = draw_negatives(clusters, n_views, anchors, 5, torch.Generator().manual_seed(0))
    assert any(len(set(r.tolist())) < 5 for r in small)
    # the same seed draws the same negatives
    again = draw_negatives(clusters, n_views, anchors, count, torch.Generator().manual_seed(3))
    assert torch.equal(neg, again)
    with pytest.raises(NoNegatives):
        draw_negatives(torch.zeros(5, dtype=torch.long), 2, positive_pairs(2, 5)[0], 3, generator)


# ------------------------------------------------------------------ contrastive terms
def hand_sampled_loss(x, anchors, positives, negatives, tau, sim) -> float:
    total = 0.0
    for r, (a, p) in enumerate(zip(anchors, positives, strict=True)):
        pos = math.exp(sim[a, p] / tau)
        neg = sum(math.exp(sim[a, j] / tau) for j in negatives[r])
        total += -math.log(pos / (pos + neg))
    return total / len(anchors)


def hand_cosine(x: np.ndarray) -> np.ndarray:
    n = x.shape[0]
    return np.array(
        [
            [float(x[i] @ x[j]) / (np.linalg.norm(x[i]) * np.linalg.norm(x[j])) for j in range(n)]
            for i in range(n)
        ]
    )


@pytest.mark.parametrize("similarity", ["cos", "gauss"])
def test_sampled_contrastive_loss_by_hand(similarity):
    rng = np.random.default_rng(2)
    n_views, b, tau = 2, 3, 0.1
    x = np.abs(rng.normal(size=(n_views * b, 4)))  # z ≥ 0 as after the encoders' ReLU
    anchors, positives = positive_pairs(n_views, b)
    negatives = torch.tensor([[1, 4], [0, 0], [5, 3], [2, 1], [0, 2], [4, 4]])
    sim = hand_cosine(x) if similarity == "cos" else hand_kernel(x, 0.15)
    expected = hand_sampled_loss(
        x, anchors.tolist(), positives.tolist(), negatives.tolist(), tau, sim
    )
    got = sampled_contrastive_loss(
        torch.tensor(x), anchors, positives, negatives, tau, similarity, 0.15
    )
    assert float(got) == pytest.approx(expected, rel=1e-10)


def test_nt_xent_is_the_sum_of_both_directions_by_hand():
    rng = np.random.default_rng(4)
    b, tau = 4, 0.1
    z1, z2 = rng.normal(size=(b, 3)), rng.normal(size=(b, 3))
    u1 = z1 / np.linalg.norm(z1, axis=1, keepdims=True)
    u2 = z2 / np.linalg.norm(z2, axis=1, keepdims=True)

    def direction(p, q):  # anchor p_i, positive q_i; B cross-view, B − 1 same-view terms
        total = 0.0
        for i in range(b):
            cross = sum(math.exp(p[i] @ q[j] / tau) for j in range(b))
            same = sum(math.exp(p[i] @ p[j] / tau) for j in range(b) if j != i)
            total += -math.log(math.exp(p[i] @ q[i] / tau) / (cross + same))
        return total / b

    expected = direction(u1, u2) + direction(u2, u1)
    got = float(nt_xent_two_views(torch.tensor(z1), torch.tensor(z2), tau))
    assert got == pytest.approx(expected, rel=1e-10)
    assert abs(got - expected / 2) > 1e-3


# ------------------------------------------------------------------ data and trainers
def blobs(n: int = 150, n_views: int = 2, seed: int = 0) -> MultiViewData:
    x, y = make_blobs(n_samples=n, n_features=4, centers=3, random_state=seed)
    rng = np.random.default_rng(seed)
    views = [x] + [
        x @ rng.normal(size=(4, 5 + v)) + 0.3 * rng.normal(size=(n, 5 + v))
        for v in range(n_views - 1)
    ]
    views = [minmax_scale(v).astype(np.float32) for v in views]
    names = [f"v{v}" for v in range(n_views)]
    return MultiViewData("blobs", views, names, y.astype(np.int64), 3, {})


def make_trainer(data: MultiViewData, method: str = "CoMVC", seed: int = 0, **changes):
    torch.manual_seed(seed)
    views = [torch.from_numpy(v) for v in data.views]
    given = TrainingData(data.name, views, data.n_clusters)
    if method == "SiMVC":
        return SiMVCTrainer(given, "SiMVC", seed, SiMVCConfig(**changes), CPU), views
    return CoMVCTrainer(given, "CoMVC", seed, CoMVCConfig(**changes), CPU), views


def one_cluster(trainer) -> None:
    """Make the DDC head put every sample into cluster 0."""
    with torch.no_grad():
        trainer.model.ddc.out.weight.zero_()
        trainer.model.ddc.out.bias.copy_(torch.tensor([50.0, 0.0, 0.0]))


def test_one_cluster_batch_stops_the_run_or_skips_the_term():
    data = blobs(n=20, n_views=2)
    trainer, _ = make_trainer(data, batch_size=10)
    one_cluster(trainer)
    idx = torch.arange(10)
    with pytest.raises(RunStopped) as stop:
        trainer.step(idx)
    assert str(stop.value) == ONE_CLUSTER_STOP
    assert "neg_sampling_empty: stop_run" in str(stop.value)

    trainer, _ = make_trainer(data, batch_size=10, neg_sampling_empty="skip_term")
    normal = trainer.step(idx)
    assert normal.stats == {"contrast_skipped": 0.0}
    assert float(normal.terms["contrast"].detach()) > 0
    one_cluster(trainer)
    skipped = trainer.step(idx)
    assert float(skipped.terms["contrast"]) == 0.0
    assert skipped.stats == {"contrast_skipped": 1.0}
    ddc = skipped.terms["ddc1"] + skipped.terms["ddc2"] + skipped.terms["ddc3"]
    assert float(skipped.terms["total"].detach()) == pytest.approx(float(ddc.detach()), rel=1e-7)


def test_contrast_term_is_delta_min_weight_l_con_with_detached_weight():
    data = blobs(n=40, n_views=3)
    trainer, views = make_trainer(data, batch_size=20, delta=0.7)
    with torch.no_grad():
        trainer.model.fusion.logits.copy_(torch.tensor([0.3, -0.2, 0.1]))
    idx = torch.arange(5, 25)
    state = trainer.negative_rng.get_state()
    step = trainer.step(idx)
    # the same negatives, drawn again from the generator's state before the step
    out = trainer.model([v[idx] for v in views])
    clusters = out.assignments.detach().argmax(dim=1)
    anchors, positives = positive_pairs(3, 20)
    replay = torch.Generator()
    replay.set_state(state)
    negatives = draw_negatives(clusters, 3, anchors, 15, replay)
    l_con = sampled_contrastive_loss(out.projections, anchors, positives, negatives, 0.1)
    min_w = float(torch.softmax(torch.tensor([0.3, -0.2, 0.1]), 0).min())
    assert float(step.terms["contrast"]) == pytest.approx(0.7 * min_w * float(l_con), rel=1e-5)
    assert float(step.terms["total"]) == pytest.approx(
        float(sum(step.terms[t] for t in ("ddc1", "ddc2", "ddc3", "contrast"))), rel=1e-6
    )
    # the weight is detached: the contrastive term alone sends no gradient to ω
    trainer.model.zero_grad()
    step.terms["contrast"].backward()
    grad = trainer.model.fusion.logits.grad
    assert grad is None or float(grad.abs().max()) == 0.0
    assert float(adaptive_weight(trainer.model.fusion.weights)) == pytest.approx(min_w, rel=1e-6)


def test_nt_xent_refused_beyond_two_views_and_too_few_negatives():
    with pytest.raises(ValueError, match="negative_samples_ratio"):
        make_trainer(blobs(n=30, n_views=3), batch_size=10, negative_samples_ratio=-1)
    make_trainer(blobs(n=30, n_views=2), batch_size=10, negative_samples_ratio=-1)
    with pytest.raises(ValueError, match="negative_samples_ratio"):
        make_trainer(blobs(n=30, n_views=2), batch_size=10, negative_samples_ratio=0.01)


# ------------------------------------------------------------------ configs
SIMVC_DEFAULTS = {
    "epochs": 100,
    "batch_size": 100,
    "lr": 1e-3,
    "init": "he",
    "grad_clip": None,
    "encoder": "mvc_mlp",
    "fusion": "weighted_mean",
    "n_hidden": 100,
    "ddc2": "samples",
    "rel_sigma": 0.15,
    "lr_step": None,
    "preprocess": "none",
    "nmi_average": "geometric",
    "checkpoint_select": "min_eval_ddc1",
    "run_select_loss": "ddc_1",
}
COMVC_DEFAULTS = {
    **SIMVC_DEFAULTS,
    "delta": 0.1,
    "tau": 0.1,
    "negative_samples_ratio": 0.25,
    "contrastive_similarity": "cos",
    "adaptive_contrastive_weight": True,
    "projector": "none",
    "neg_sampling_empty": "stop_run",
}


def test_config_defaults_are_the_spec():
    assert dataclasses.asdict(SiMVCConfig()) == SIMVC_DEFAULTS
    assert dataclasses.asdict(CoMVCConfig()) == COMVC_DEFAULTS
    assert SiMVCConfig().total_epochs == 100
    assert list(SIMVC_VARIANTS) == ["SiMVC"] and list(COMVC_VARIANTS) == ["CoMVC"]
    config = CoMVCConfig.from_dict({"lr_step": [50, 0.1]})
    assert config.lr_step == (50, 0.1)
    assert CoMVCTrainer.config_params(config)["lr_step"] == [50, 0.1]
    assert CoMVCConfig(fusion="mean", adaptive_contrastive_weight=False).fusion == "mean"


@pytest.mark.parametrize(
    ("changes", "key"),
    [
        ({"fusion": "mean"}, "fusion"),
        ({"negative_samples_ratio": 0}, "negative_samples_ratio"),
        ({"negative_samples_ratio": -2}, "negative_samples_ratio"),
        ({"tau": 0}, "tau"),
        ({"delta": -1}, "delta"),
        ({"negative_samples_ratio": -1, "contrastive_similarity": "gauss"}, "gauss"),
        ({"lr_step": (0, 0.1)}, "lr_step"),
        ({"lr_step": (50,)}, "lr_step"),
        ({"encoder": "cnn"}, "encoder"),
        ({"projector": "mlp"}, "projector"),
        ({"ddc2": "flipped"}, "ddc2"),
        ({"preprocess": "zscore"}, "preprocess"),
        ({"neg_sampling_empty": "retry"}, "neg_sampling_empty"),
        ({"batch_size": 1}, "batch_size"),
    ],
)
def test_config_refuses(changes, key):
    with pytest.raises(ValueError, match=key):
        CoMVCConfig(**changes)


def test_lr_factor_and_batches():
    trainer, _ = make_trainer(blobs(n=30), "SiMVC", batch_size=10, lr_step=(50, 0.1))
    assert [trainer.lr_factor(e) for e in (1, 50, 51, 100, 101)] == pytest.approx(
        [1, 1, 0.1, 0.1, 0.01]
    )
    trainer.before_epoch(51)
    assert trainer.after_epoch() == {"lr_factor": pytest.approx(0.1)}
    plain, _ = make_trainer(blobs(n=30), "SiMVC", batch_size=10)
    assert plain.lr_factor(80) == 1.0 and plain.after_epoch() == {}
    batches = epoch_batches(250, 100, torch.Generator().manual_seed(0))
    assert [len(b) for b in batches] == [100, 100]  # drop_last
    assert len(torch.cat(batches).unique()) == 200
    assert torch.equal(
        torch.cat(batches), torch.randperm(250, generator=torch.Generator().manual_seed(0))[:200]
    )
    (only,) = epoch_batches(30, 100, torch.Generator().manual_seed(0))  # n < B: one batch of all
    assert sorted(only.tolist()) == list(range(30))


def test_model_architecture_and_init():
    config = SiMVCConfig()
    model = SiMVC([7, 9], 3, config)
    linears = [m for m in model.encoders[0] if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(7, 512), (512, 512), (512, 256)]
    assert [type(m).__name__ for m in model.encoders[0]] == ["Linear", "ReLU"] * 3
    assert isinstance(model.ddc, ClusteringHead) and isinstance(model.fusion, SoftmaxFusion)
    assert model.ddc.hidden[0].out_features == 100
    for m in model.modules():  # He normal: std √(2 / fan_in), biases kept
        if isinstance(m, torch.nn.Linear) and m.weight.numel() > 5000:
            assert float(m.weight.std()) == pytest.approx(math.sqrt(2 / m.in_features), rel=0.1)
    x = [torch.rand(16, 7), torch.rand(16, 9)]
    out = model(x)
    assert all(bool((z >= 0).all()) for z in out.z)  # ReLU after the last layer too
    assert out.assignments.shape == (16, 3)
    assert torch.allclose(out.assignments.sum(dim=1), torch.ones(16))
    assert float(out.hidden.mean(dim=0).abs().max()) < 1e-5  # the kernel sees H after BN
    assert torch.allclose(out.fused, (out.z[0] + out.z[1]) / 2)  # w uniform at the start

    dense = SiMVC([7, 9], 3, SiMVCConfig(encoder="deepmvc_dense5", fusion="mean"))
    names = [type(m).__name__ for m in dense.encoders[1]]
    assert names == ["Linear", "BatchNorm1d", "ReLU"] * 4 + ["Linear"]
    assert dense.encoders[1][-1].out_features == 256
    assert not any(p.numel() == 2 for p in dense.fusion.parameters())
    assert torch.allclose(dense.fusion.weights, torch.tensor([0.5, 0.5]))


def short_run(method: str, seed: int = 0, n_views: int = 2, epochs: int = 12, **changes):
    """A hand-written loop: Adam(model.parameters(), lr), backward on total."""
    data = blobs(n=150, n_views=n_views)
    trainer, views = make_trainer(data, method, seed, batch_size=50, **changes)
    optimiser = torch.optim.Adam(trainer.model.parameters(), lr=trainer.config.lr)
    generator = torch.Generator().manual_seed(seed)
    losses = []
    for epoch in range(1, epochs + 1):
        trainer.before_epoch(epoch)
        totals = []
        for idx in trainer.batches(epoch, generator):
            step = trainer.step(idx)
            optimiser.zero_grad()
            step.terms["total"].backward()
            optimiser.step()
            totals.append(float(step.terms["total"].detach()))
        losses.append(float(np.mean(totals)))
    trainer.model.eval()
    probs, representation = trainer.predict(views)
    trainer.model.train()
    return trainer, losses, probs, representation


@pytest.mark.parametrize(
    ("method", "n_views", "changes"),
    [
        ("SiMVC", 2, {}),
        ("CoMVC", 3, {}),
        ("CoMVC", 2, {"negative_samples_ratio": -1}),
    ],
)
def test_short_training_lowers_the_loss_and_uses_clusters(method, n_views, changes):
    _, losses, probs, representation = short_run(method, n_views=n_views, **changes)
    assert np.mean(losses[-2:]) < losses[0] - 0.05
    assert probs.shape == (150, 3) and representation.shape == (150, 256)
    assert torch.allclose(probs.sum(dim=1), torch.ones(150), atol=1e-5)
    predicted = probs.argmax(dim=1).numpy()
    assert len(np.unique(predicted)) > 1
    assert adjusted_rand_score(blobs(n=150, n_views=n_views).labels, predicted) > 0.5


def test_same_seed_same_losses():
    _, first, p1, _ = short_run("CoMVC", seed=0, n_views=3, epochs=3)
    _, again, p2, _ = short_run("CoMVC", seed=0, n_views=3, epochs=3)
    _, other, _, _ = short_run("CoMVC", seed=1, n_views=3, epochs=3)
    assert first == again and torch.equal(p1, p2)
    assert first != other
