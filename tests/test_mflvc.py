"""MFLVC (spec/MFLVC.md): each loss term against a hand computation, the pseudo-label matching,
the stage schedule and its batches, the config, and a short three-stage training."""

from __future__ import annotations

import dataclasses
import json
import math
from collections import defaultdict

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.datasets import make_blobs
from sklearn.preprocessing import minmax_scale

from mmcbench.data.load import MultiViewData
from mmcbench.methods.mflvc.config import VARIANTS, MFLVCConfig
from mmcbench.methods.mflvc.losses import (
    contrastive_terms,
    entropy_gap,
    entropy_term,
    feature_contrast,
    label_contrast,
    match_pseudo_labels,
    pseudo_label_ce,
    reconstruction,
)
from mmcbench.methods.mflvc.model import MFLVC
from mmcbench.methods.mflvc.trainer import MFLVCTrainer
from mmcbench.training.trainers import TrainingData, score_predictions

CPU = torch.device("cpu")


def unit_rows(rng: np.random.Generator, n: int, d: int) -> np.ndarray:
    x = rng.normal(size=(n, d))
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def softmax_rows(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def hand_nt_xent(sim: np.ndarray) -> float:
    """Plain loops: anchor a, positive a ± m, negatives every other row but a itself."""
    n2 = sim.shape[0]
    m = n2 // 2
    total = 0.0
    for a in range(n2):
        pos = a + m if a < m else a - m
        denominator = sum(math.exp(sim[a, b]) for b in range(n2) if b != a)
        total += -math.log(math.exp(sim[a, pos]) / denominator)
    return total / n2


# ------------------------------------------------------------------ loss terms
def test_feature_contrast_is_nt_xent_by_hand():
    rng = np.random.default_rng(0)
    tau = 0.5
    h1, h2 = unit_rows(rng, 3, 4), unit_rows(rng, 3, 4)
    h = np.vstack([h1, h2])
    sim = h @ h.T / tau
    expected = hand_nt_xent(sim)
    # The paper's form: the denominator over all 2B rows minus the self term e^{1/τ}.
    paper = 0.0
    for a in range(6):
        pos = (a + 3) % 6
        paper += -math.log(math.exp(sim[a, pos]) / (np.exp(sim[a]).sum() - math.exp(1 / tau)))
    paper /= 6
    got = float(feature_contrast(torch.tensor(h1), torch.tensor(h2), tau))
    assert got == pytest.approx(expected, rel=1e-10)
    assert got == pytest.approx(paper, rel=1e-10)
    # Without the masked self term (or without the 1/2B) the value would differ.
    unmasked = np.mean(
        [-math.log(math.exp(sim[a, (a + 3) % 6]) / np.exp(sim[a]).sum()) for a in range(6)]
    )
    assert abs(got - unmasked) > 1e-3
    assert abs(got - 6 * expected) > 1e-3


def hand_label_terms(q1: np.ndarray, q2: np.ndarray, tau: float) -> tuple[float, float]:
    """(ℓ_L by hand over the 2k cluster columns, E(1) + E(2))."""
    k = q1.shape[1]
    cols = np.vstack([q1.T, q2.T])
    sim = np.zeros((2 * k, 2 * k))
    for a in range(2 * k):
        for b in range(2 * k):
            sim[a, b] = cols[a] @ cols[b] / (np.linalg.norm(cols[a]) * np.linalg.norm(cols[b]))
    entropy = 0.0
    for q in (q1, q2):
        s = q.sum(axis=0) / q.sum()
        entropy += math.log(k) + sum(sj * math.log(sj) for sj in s)
    return hand_nt_xent(sim / tau), entropy


@pytest.mark.parametrize("tau", [1.0, 0.7])
def test_label_contrast_and_entropy_by_hand(tau):
    rng = np.random.default_rng(1)
    q1, q2 = softmax_rows(rng.normal(size=(5, 3))), softmax_rows(rng.normal(size=(5, 3)))
    expected_label, expected_entropy = hand_label_terms(q1, q2, tau)
    t1, t2 = torch.tensor(q1), torch.tensor(q2)
    assert float(label_contrast(t1, t2, tau)) == pytest.approx(expected_label, rel=1e-10)
    h = [torch.tensor(unit_rows(rng, 5, 4)) for _ in range(2)]
    terms = contrastive_terms(h, [t1, t2], 0.5, tau, entropy_per_pair=True)
    assert float(terms["label"]) == pytest.approx(expected_label, rel=1e-10)
    assert float(terms["entropy"]) == pytest.approx(expected_entropy, rel=1e-10)
    assert float(terms["entropy"]) >= 0


def test_entropy_per_pair_counts_each_view_v_minus_1_times():
    rng = np.random.default_rng(2)
    k = 4
    qs_np = [softmax_rows(rng.normal(size=(8, k)) * 2) for _ in range(3)]
    gaps = []
    sum_slogs = []
    for q in qs_np:
        s = q.sum(axis=0) / q.sum()
        slogs = float(np.sum(s * np.log(s)))
        sum_slogs.append(slogs)
        gaps.append(math.log(k) + slogs)
    qs = [torch.tensor(q) for q in qs_np]
    assert [float(entropy_gap(q)) for q in qs] == pytest.approx(gaps, rel=1e-10)
    # V = 3: per pair, every view's E counts V − 1 = 2 times.
    assert float(entropy_term(qs, per_pair=True)) == pytest.approx(2 * sum(gaps), rel=1e-10)
    # Once per view, the paper's Σ_v Σ_j s log s (no log k).
    assert float(entropy_term(qs, per_pair=False)) == pytest.approx(sum(sum_slogs), rel=1e-10)
    # V = 2: the two differ by the constant 2 log k only.
    two = qs[:2]
    diff = float(entropy_term(two, per_pair=True)) - float(entropy_term(two, per_pair=False))
    assert diff == pytest.approx(2 * math.log(k), rel=1e-10)


def test_finetune_ce_modes_by_hand():
    rng = np.random.default_rng(3)
    logits = rng.normal(size=(6, 4)) * 3
    targets = np.array([0, 1, 2, 3, 1, 0])
    q = softmax_rows(logits)
    rows = range(6)
    code = np.mean([-q[i, targets[i]] + math.log(np.exp(q[i]).sum()) for i in rows])
    paper = -np.mean([math.log(q[i, targets[i]]) for i in rows])
    t_logits, t_targets = torch.tensor(logits), torch.tensor(targets)
    got_code = float(pseudo_label_ce(t_logits, t_targets, "probs_as_logits"))
    got_paper = float(pseudo_label_ce(t_logits, t_targets, "log_probs"))
    assert got_code == pytest.approx(code, rel=1e-10)
    assert got_paper == pytest.approx(paper, rel=1e-10)
    # probs_as_logits never goes below log(1 + (k − 1)/e) > 0, reached at one-hot q.
    k = 4
    one_hot = torch.nn.functional.one_hot(t_targets, k).double() * 60.0
    floor = float(pseudo_label_ce(one_hot, t_targets, "probs_as_logits"))
    assert floor == pytest.approx(math.log(1 + (k - 1) / math.e), rel=1e-9)
    assert floor > 0.5
    assert float(pseudo_label_ce(one_hot, t_targets, "log_probs")) < 1e-20


def test_matching_relabels_pseudo_labels_into_q_indices():
    # A pure renaming: pseudo 2 is predicted 0, pseudo 0 is predicted 1, pseudo 1 is 2.
    predicted = torch.tensor([0, 0, 1, 1, 2, 2])
    pseudo = torch.tensor([2, 2, 0, 0, 1, 1])
    assert match_pseudo_labels(pseudo, predicted, 3).tolist() == [0, 0, 1, 1, 2, 2]
    # With a disagreement: w[ŷ, p] is maximised by 1→0 (3), 2→1 (2), 0→2 (1).
    predicted = torch.tensor([0, 0, 0, 1, 1, 2, 2])
    pseudo = torch.tensor([1, 1, 1, 2, 2, 0, 2])
    assert match_pseudo_labels(pseudo, predicted, 3).tolist() == [0, 0, 0, 1, 1, 2, 1]


def test_recon_sum_features_is_d_times_mean():
    g = torch.Generator().manual_seed(4)
    xs = [
        torch.rand(5, 3, generator=g, dtype=torch.float64),
        torch.rand(5, 7, generator=g).double(),
    ]
    xr = [torch.rand(5, 3, generator=g).double(), torch.rand(5, 7, generator=g).double()]
    mses = [float(((a - b) ** 2).numpy().mean()) for a, b in zip(xs, xr, strict=True)]
    assert float(reconstruction(xs, xr, "mean")) == pytest.approx(sum(mses), rel=1e-12)
    expected = 3 * mses[0] + 7 * mses[1]
    assert float(reconstruction(xs, xr, "sum_features")) == pytest.approx(expected, rel=1e-12)


# ------------------------------------------------------------------ model and config
def test_model_shapes_and_heads():
    torch.manual_seed(0)
    model = MFLVC([4, 6], 3, MFLVCConfig(feature_dim=16, high_feature_dim=8))
    enc = [m for m in model.encoders[0] if isinstance(m, torch.nn.Linear)]
    dec = [m for m in model.decoders[1] if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in enc] == [
        (4, 500),
        (500, 500),
        (500, 2000),
        (2000, 16),
    ]
    assert [(m.in_features, m.out_features) for m in dec] == [
        (16, 2000),
        (2000, 500),
        (500, 500),
        (500, 6),
    ]
    assert isinstance(model.encoders[0][-1], torch.nn.Linear)  # linear z, no ReLU
    out = model([torch.rand(5, 4), torch.rand(5, 6)])
    assert out.h[0].shape == (5, 8)
    assert torch.allclose(out.h[1].norm(dim=1), torch.ones(5))
    assert torch.allclose(out.q[0].sum(dim=1), torch.ones(5))
    assert out.xr[1].shape == (5, 6)


def test_config_defaults_are_the_spec():
    c = MFLVCConfig()
    assert (c.mse_epochs, c.con_epochs, c.tune_epochs, c.total_epochs) == (200, 50, 50, 300)
    assert (c.batch_size, c.lr, c.init, c.grad_clip) == (256, 3e-4, "torch_default", None)
    assert (c.feature_dim, c.high_feature_dim, c.feature_head_layers) == (512, 128, 1)
    assert (c.temperature_f, c.temperature_l) == (0.5, 1.0)
    assert c.recon_reduction == "mean" and c.entropy_per_pair is True
    assert c.pseudo_label_scaling == "minmax" and c.pseudo_label_n_init == 100
    assert c.finetune_ce == "probs_as_logits" and c.finetune_batch == "full"
    assert c.reset_optimizer_per_stage is False and c.batch_size_cap == "n_samples"
    assert c.eval_labels == "mean_q" and c.preprocess == "minmax_feature"
    assert not hasattr(c, "epochs")
    assert MFLVCConfig(mse_epochs=3, con_epochs=2, tune_epochs=1).total_epochs == 6
    assert c.for_variant("no-finetune").total_epochs == 250
    assert c.for_variant("MFLVC") == c and "MFLVC" in VARIANTS
    json.dumps(MFLVCTrainer.config_params(c))
    with pytest.raises(ValueError, match="variant"):
        c.for_variant("nope")


@pytest.mark.parametrize(
    ("changes", "key"),
    [
        ({"reset_optimizer_per_stage": True}, "reset_optimizer_per_stage"),
        ({"eval_labels": "per_view_q"}, "eval_labels"),
        ({"eval_labels": "kmeans_h"}, "eval_labels"),
        ({"feature_head_layers": 2}, "feature_head_layers"),
        ({"finetune_batch": "256"}, "finetune_batch"),
        ({"tune_epochs": -1}, "tune_epochs"),
        ({"temperature_f": 0.0}, "temperature_f"),
    ],
)
def test_config_refuses(changes, key):
    with pytest.raises(ValueError, match=key):
        MFLVCConfig(**changes)


# ------------------------------------------------------------------ schedule and training
def blobs(n: int = 90, seed: int = 0) -> MultiViewData:
    x1, y = make_blobs(n_samples=n, n_features=4, centers=3, random_state=seed)
    rng = np.random.default_rng(seed)
    # The second view: another linear image of the same clusters plus noise.
    x2 = x1 @ rng.normal(size=(4, 6)) + 0.3 * rng.normal(size=(n, 6))
    views = [minmax_scale(x).astype(np.float32) for x in (x1, x2)]
    return MultiViewData("blobs", views, ["a", "b"], y.astype(np.int64), 3, {})


def make_trainer(data: MultiViewData, seed: int = 0, variant: str = "MFLVC", **changes):
    fields = {"feature_dim": 32, "high_feature_dim": 16, "pseudo_label_n_init": 3, **changes}
    torch.manual_seed(seed)
    views = [torch.from_numpy(v) for v in data.views]
    given = TrainingData(data.name, views, data.n_clusters)
    return MFLVCTrainer(given, variant, seed, MFLVCConfig(**fields), CPU), views


def test_stages_and_batches():
    data = blobs(n=10)
    trainer, _ = make_trainer(data, mse_epochs=2, con_epochs=3, tune_epochs=2, batch_size=4)
    assert [trainer.stage(e) for e in range(1, 8)] == [1, 1, 2, 2, 2, 3, 3]
    for outside in (0, 8):
        with pytest.raises(ValueError):
            trainer.stage(outside)
    g = torch.Generator().manual_seed(7)
    for epoch in (1, 3):
        batches = trainer.batches(epoch, g)
        assert [b.numel() for b in batches] == [4, 4]  # drop_last: 2 of 10 left out
        assert len(set(torch.cat(batches).tolist())) == 8
    # The batches are the generator's permutation, cut in order.
    expected = torch.randperm(10, generator=torch.Generator().manual_seed(7))[:8].split(4)
    got = trainer.batches(1, torch.Generator().manual_seed(7))
    assert all(torch.equal(a, b) for a, b in zip(got, expected, strict=True))
    state = g.get_state()
    for epoch in (6, 7):  # stage 3: one full batch in fixed order, nothing drawn
        batches = trainer.batches(epoch, g)
        assert len(batches) == 1 and torch.equal(batches[0], torch.arange(10))
    assert torch.equal(g.get_state(), state)
    # finetune_batch "batch": stage 3 uses the stage 1–2 loader.
    per_batch, _ = make_trainer(
        data, mse_epochs=1, con_epochs=0, tune_epochs=1, batch_size=4, finetune_batch="batch"
    )
    assert [b.numel() for b in per_batch.batches(2, g)] == [4, 4]


def test_batch_size_cap():
    data = blobs(n=10)
    capped, _ = make_trainer(data, mse_epochs=1, con_epochs=1, tune_epochs=1, batch_size=16)
    g = torch.Generator().manual_seed(0)
    assert [b.numel() for b in capped.batches(1, g)] == [10]
    uncapped, _ = make_trainer(
        data, mse_epochs=1, con_epochs=1, tune_epochs=1, batch_size=16, batch_size_cap="none"
    )
    assert uncapped.batches(1, g) == [] and uncapped.batches(2, g) == []  # trains nothing
    assert [b.numel() for b in uncapped.batches(3, g)] == [10]  # fine-tuning is full-batch


def test_step_terms_per_stage():
    data = blobs(n=12)
    trainer, views = make_trainer(data, mse_epochs=1, con_epochs=1, tune_epochs=1, batch_size=6)
    idx = torch.arange(6)
    trainer.before_epoch(1)
    one = trainer.step(idx).terms
    assert set(one) == {"total", "recon"} and torch.equal(one["total"], one["recon"])
    trainer.before_epoch(2)
    two = trainer.step(idx).terms
    assert set(two) == {"total", "recon", "feature", "label", "entropy"}
    parts = two["feature"] + two["label"] + two["entropy"] + two["recon"]
    assert float(two["total"].detach()) == pytest.approx(float(parts.detach()), rel=1e-6)
    assert trainer.after_epoch() == {"stage": 2.0}
    assert trainer.pseudo_labels is None
    trainer.before_epoch(3)
    pseudo = trainer.pseudo_labels
    assert pseudo is not None and [p.shape for p in pseudo] == [(12,), (12,)]
    assert sorted(trainer.pseudo_diagnostics) == ["acc", "epoch"]
    outcome = trainer.step(torch.arange(12))
    assert set(outcome.terms) == {"total", "pseudo"}
    assert "pseudo_agreement" in outcome.stats
    # By hand: P̂ matched to argmax q of the same forward, then Σ_v CE(q as logits).
    with torch.no_grad():
        out = trainer.model(views, features=False, decode=False)
        expected = 0.0
        for v in range(2):
            target = match_pseudo_labels(pseudo[v], out.q[v].argmax(dim=1), 3)
            expected += float(torch.nn.functional.cross_entropy(out.q[v], target))
    assert float(outcome.terms["pseudo"].detach()) == pytest.approx(expected, rel=1e-6)
    # Gradients reach the encoders and the label head only.
    trainer.model.zero_grad(set_to_none=True)
    outcome.terms["total"].backward()
    assert trainer.model.decoders[0][0].weight.grad is None
    assert trainer.model.feature_head.weight.grad is None
    assert trainer.model.label_head.weight.grad is not None
    trainer.before_epoch(3)
    assert trainer.pseudo_labels is pseudo  # computed once


def short_run(seed: int) -> tuple[MFLVCTrainer, list[dict[str, float]], torch.Tensor]:
    """mse 3, con 3, tune 2 epochs (5 batches of 16 in stages 1–2, one full batch in stage 3)
    with the loop's protocol: one Adam across the stages."""
    data = blobs(n=90)
    trainer, views = make_trainer(
        data, seed=seed, mse_epochs=3, con_epochs=3, tune_epochs=2, batch_size=16
    )
    cfg = trainer.config
    optimiser = torch.optim.Adam(trainer.model.parameters(), lr=cfg.lr)
    generator = torch.Generator().manual_seed(seed)
    history = []
    for epoch in range(1, cfg.total_epochs + 1):
        trainer.before_epoch(epoch)
        sums: dict[str, float] = defaultdict(float)
        batches = trainer.batches(epoch, generator)
        for idx in batches:
            step = trainer.step(idx)
            optimiser.zero_grad(set_to_none=True)
            step.terms["total"].backward()
            optimiser.step()
            for term, value in step.terms.items():
                sums[term] += float(value.detach())
        row = {k: v / len(batches) for k, v in sums.items()}
        history.append({"epoch": epoch, **row, **trainer.after_epoch()})
    trainer.model.eval()
    with torch.no_grad():
        probs, rep = trainer.predict(views)
    assert rep.shape == (90, 2 * cfg.high_feature_dim)
    assert torch.allclose(probs.sum(dim=1), torch.ones(90))
    return trainer, history, probs


@pytest.fixture(scope="module")
def two_runs():
    return short_run(0), short_run(0)


def test_short_training_lowers_recon_and_uses_clusters(two_runs):
    (trainer, history, probs), _ = two_runs
    assert [row["stage"] for row in history] == [1, 1, 1, 2, 2, 2, 3, 3]
    assert history[2]["total"] < history[0]["total"]
    assert "feature" in history[3] and "pseudo" in history[6]
    assert len(set(probs.argmax(dim=1).tolist())) > 1
    with torch.no_grad():
        out = trainer.model([torch.from_numpy(v) for v in blobs(n=90).views], decode=False)
    assert torch.allclose(probs, (out.q[0] + out.q[1]) / 2)


def test_same_seed_same_history(two_runs):
    (_, first, p1), (_, second, p2) = two_runs
    assert first == second
    assert torch.equal(p1, p2)


def test_diagnostics_reads_end_of_stage2(two_runs):
    (trainer, history, _), _ = two_runs
    table = pd.DataFrame([{**row, "ACC": 10.0 * row["epoch"]} for row in history])
    diag = trainer.diagnostics(table)
    assert diag["stage2_end_epoch"] == 6 and diag["stage2_end"] == {"ACC": 60.0}
    assert diag["pseudo_labels"]["epoch"] == 7
    scored = score_predictions(diag, blobs(n=90).labels)  # the trainer never sees the labels
    assert all(0 <= acc <= 100 for acc in scored["pseudo_labels"]["acc"])
    json.dumps(scored)
    assert dataclasses.asdict(trainer.config) == trainer.params()
