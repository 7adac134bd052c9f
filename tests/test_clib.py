"""CLIB components (spec/CLIB.md): screening, losses, warm-up, head initialisation, detach,
ablations, and one run's ECE against an independent computation."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import linear_sum_assignment
from sklearn.cluster import KMeans
from sklearn.datasets import make_blobs

from mmcbench.cli import main
from mmcbench.methods.clib.config import VARIANTS
from mmcbench.methods.clib.head_init import initialise_heads
from mmcbench.methods.clib.model import (
    CAL_TERMS,
    CLIB,
    CLIBConfig,
    Terms,
    calibration_terms,
    clib_loss,
    per_cluster_quota,
    quality,
    screen,
    screen_all,
)
from mmcbench.runs import records
from mmcbench.training.train import run_from_file
from tests.conftest import write_dataset

TINY = {
    "encoder_hidden": [32, 32],
    "latent_dim": 16,
    "head_hidden": 8,
    "batch_size": 64,
    "epochs": 4,
    "warmup_epochs": 2,
    "head_init_steps": 50,
}


def tiny_model(k: int = 3, **changes) -> CLIB:
    torch.manual_seed(0)
    fields = {key: value for key, value in TINY.items() if key != "epochs"}
    return CLIB([3, 4], k, CLIBConfig.from_dict({**fields, **changes}))


def tiny_views(n: int = 48, seed: int = 0) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return [torch.rand(n, 3, generator=g), torch.rand(n, 4, generator=g)]


# ------------------------------------------------------------------ screening


@pytest.mark.parametrize("k", [2, 5, 21])
def test_quality_is_one_for_one_hot_and_half_for_uniform(k):
    one_hot = torch.eye(k)
    uniform = torch.full((3, k), 1.0 / k)
    assert torch.allclose(quality(one_hot), torch.ones(k))
    assert torch.allclose(quality(uniform), torch.full((3,), 0.5))


def test_quota_is_the_ceiling_of_half_the_batch_per_cluster():
    assert per_cluster_quota(256, 10, 0.5) == 13
    assert per_cluster_quota(256, 7, 0.5) == math.ceil(128 / 7)


@given(
    seed=st.integers(0, 10**6),
    n=st.integers(1, 80),
    k=st.integers(2, 8),
    quota=st.integers(1, 12),
)
@settings(max_examples=80, deadline=None)
def test_screen_picks_the_best_samples_of_each_cluster_at_most_quota(seed, n, k, quota):
    g = torch.Generator().manual_seed(seed)
    p = torch.softmax(3 * torch.randn(n, k, generator=g), dim=1)
    idx, clusters = screen(p, quota)
    assert idx.unique().numel() == idx.numel()  # never a sample twice
    assert torch.equal(clusters, p.argmax(1)[idx])  # each sample's own argmax cluster
    score, argmax = quality(p), p.argmax(1)
    for c in range(k):
        members = (argmax == c).nonzero().flatten()
        picked = idx[clusters == c]
        assert picked.numel() == min(quota, members.numel())
        rest = members[~torch.isin(members, picked)]
        if picked.numel() and rest.numel():
            assert score[picked].min() >= score[rest].max()


def test_screened_union_counts_a_pair_chosen_by_two_modalities_once():
    p = torch.softmax(torch.randn(30, 3, generator=torch.Generator().manual_seed(1)), dim=1)
    alone = screen_all([p], quota=4)
    twice = screen_all([p, p.clone()], quota=4)
    assert twice.samples.numel() == alone.samples.numel()
    other = torch.roll(p, 1, dims=1)  # disagrees on every sample: pairs add up
    both = screen_all([p, other], quota=4)
    assert both.samples.numel() == alone.samples.numel() + screen(other, 4)[0].numel()


# ------------------------------------------------------------------ losses and ablations


def _loss_terms(model, views, variant, warming_up):
    out = model(views, heads=not warming_up)
    return out, clib_loss(model, out, variant, warming_up)


def test_warm_up_trains_the_information_bottleneck_only():
    model = tiny_model()
    _, step = _loss_terms(model, tiny_views(), "CLIB", warming_up=True)
    assert set(step.terms) == {"vib", "mi_hh", "mi_hf", "L_IB", "total", "clustering"}
    assert step.screened is None
    step.terms["total"].backward()
    heads = [*model.cali_heads, model.cluster_head]
    assert all(p.grad is None for head in heads for p in head.parameters())
    assert any(p.grad is not None for p in model.encoders.parameters())


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_each_ablation_turns_off_exactly_its_terms(variant):
    terms = VARIANTS[variant]
    model = tiny_model().train()
    _, step = _loss_terms(model, tiny_views(), variant, warming_up=False)
    expected = {
        name
        for name, on in zip(CAL_TERMS, (terms.caliH, terms.re, terms.cluH, terms.con), strict=True)
        if on
    }
    assert {t for t in step.terms if t in CAL_TERMS} == expected
    cal = sum(step.terms[t] for t in expected)
    assert step.terms["total"].item() == pytest.approx(
        (step.terms["L_IB"] + model.config.alpha * cal).item(), rel=1e-6
    )


def test_variants_set_warm_up_and_detach():
    config = CLIBConfig()
    assert config.for_variant("CLIB") == config
    assert config.for_variant("no-warmup").warmup_epochs == 0
    assert config.for_variant("calihead-backprop").detach_cali is False
    assert config.for_variant("IB+cluH").detach_cali is True
    with pytest.raises(ValueError, match="unknown CLIB variant"):
        config.for_variant("IB")


def _encoder_gradient(detach: bool) -> float:
    model = tiny_model(detach_cali=detach).train()
    out = model(tiny_views())
    screened = screen_all(out.p_cal, quota=4)
    caliH = calibration_terms(out, screened, Terms(re=False, cluH=False, con=False))["L_caliH"]
    caliH.backward()
    assert any(p.grad is not None for p in model.cali_heads.parameters())
    return sum(float(p.grad.abs().sum()) for p in model.encoders.parameters() if p.grad is not None)


def test_calibration_heads_send_no_gradient_to_the_encoders_by_default():
    assert _encoder_gradient(detach=True) == 0.0
    assert _encoder_gradient(detach=False) > 0.0


def test_loss_terms_match_their_definitions():
    p_cal = torch.tensor([[0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.2, 0.2, 0.6]])
    p_clu = torch.tensor([[0.6, 0.3, 0.1], [0.3, 0.4, 0.3], [0.1, 0.1, 0.8]])
    out = type("Out", (), {"p_cal": [p_cal], "p_clu": p_clu})()
    screened = screen_all([p_cal], quota=1)  # every sample is the only one of its cluster
    terms = calibration_terms(out, screened, Terms())
    idx = torch.arange(3)
    assert terms["L_caliH"].item() == pytest.approx(-p_cal[idx, idx].log().sum().item() / 3)
    assert terms["L_cluH"].item() == pytest.approx(-p_clu[idx, idx].log().mean().item())
    mean = p_cal.mean(0)
    assert terms["L_re"].item() == pytest.approx((mean * mean.log()).sum().item())
    kl = (p_cal * (p_cal.log() - p_clu.log())).sum(1).mean()
    assert terms["L_con"].item() == pytest.approx(kl.item())


# ------------------------------------------------------------------ head initialisation


def test_heads_initialised_from_k_means_agree_with_it_and_with_each_other():
    x, _ = make_blobs(n_samples=240, centers=3, n_features=7, cluster_std=0.3, random_state=2)
    x = (x - x.min(0)) / (x.max(0) - x.min(0))
    views = [
        torch.tensor(x[:, :3], dtype=torch.float32),
        torch.tensor(x[:, 3:], dtype=torch.float32),
    ]
    model = tiny_model(head_init_steps=200, variational=False)
    agreement = initialise_heads(model, views, seed=0)
    assert agreement["init_agree_cluster"] > 0.9
    assert agreement["init_agree_v0"] > 0.9 and agreement["init_agree_v1"] > 0.9
    model.eval()
    with torch.no_grad():
        out = model(views)
        fused = KMeans(3, n_init=10, random_state=0).fit_predict(out.hf.double().numpy())
    clu = out.p_clu.argmax(1).numpy()
    assert (clu == fused).mean() > 0.9  # argmax follows the k-means labels, ids included
    # Hungarian alignment: every modality's head names the clusters as the cluster head does.
    for p in out.p_cal:
        assert (p.argmax(1).numpy() == clu).mean() > 0.9


# ------------------------------------------------------------------ one run end to end


@pytest.fixture(scope="module")
def tiny_file(tmp_path_factory):
    x, y = make_blobs(n_samples=150, centers=3, n_features=7, cluster_std=0.5, random_state=0)
    path = tmp_path_factory.mktemp("data") / "tiny.h5"
    return write_dataset(path, "tiny", [x[:, :3], x[:, 3:]], y)


def train_cli(tiny_file, out, variant="CLIB"):
    args = ["train", "--method", "CLIB", "--variant", variant, "--data", str(tiny_file)]
    args += ["--seed", "0", "--hparams", json.dumps(TINY), "--embeddings-at", "0", "4"]
    args += ["--device", "cpu", "--out", str(out)]
    assert main(args) == 0
    return records.read(out)


def test_run_records_warm_up_screening_and_ece_per_epoch(tmp_path, tiny_file):
    record = train_cli(tiny_file, tmp_path / "seed0.json")
    assert record["method"] == "CLIB" and record["status"] == "done"
    assert record["params"]["warmup_epochs"] == 2 and record["params"]["screen_frac"] == 0.5
    diagnostics = record["diagnostics"]
    assert diagnostics["head_init"]["init_epoch"] == 3
    assert 0 < diagnostics["screened_acc_final"] <= 100
    history = pd.read_csv(tmp_path / "seed0.history.csv")
    assert history["epoch"].tolist() == [0, 1, 2, 3, 4]
    assert history["ECE"].notna().all()
    warm, trained = history[history["epoch"].between(1, 2)], history[history["epoch"] > 2]
    for column in ("L_Cal", "L_caliH", "L_re", "L_cluH", "L_con", "screened_size"):
        assert warm[column].isna().all() and trained[column].notna().all(), column
    assert (trained["screened_size"] > 0).all()


def test_no_warmup_initialises_the_heads_before_the_first_epoch(tmp_path, tiny_file):
    record = train_cli(tiny_file, tmp_path / "seed0.json", variant="no-warmup")
    assert record["params"]["warmup_epochs"] == 0
    assert record["diagnostics"]["head_init"]["init_epoch"] == 1
    history = pd.read_csv(tmp_path / "seed0.history.csv")
    assert history.loc[history["epoch"] >= 1, "L_cluH"].notna().all()


def test_run_ece_equals_an_independent_computation(tiny_file):
    from torchmetrics.functional.classification import multiclass_calibration_error

    # A setting that clusters the toy set well, so that the Hungarian map has no ties.
    config = CLIBConfig.from_dict(
        {**TINY, "epochs": 8, "lr": 1e-3, "variational": False, "init": "torch_default"}
    )
    result = run_from_file("CLIB", "CLIB", tiny_file, 0, config, device="cpu", embeddings_at=[])
    assert result.record["metrics"]["ACC"] > 90
    labels = result.embeddings["labels"]
    probs = result.embeddings["assignments_final"].astype(np.float64)
    # Independent: Hungarian on the contingency matrix, permute the columns, torchmetrics' ECE.
    k = probs.shape[1]
    table = np.zeros((k, k))
    np.add.at(table, (probs.argmax(1), labels), 1)
    rows, cols = linear_sum_assignment(table, maximize=True)
    permuted = np.zeros_like(probs)
    permuted[:, cols] = probs[:, rows]
    reference = 100 * float(
        multiclass_calibration_error(
            torch.tensor(permuted), torch.tensor(labels), num_classes=k, n_bins=15, norm="l1"
        )
    )
    assert result.record["metrics"]["ECE"] == pytest.approx(reference, abs=1e-3)


# ------------------------------------------------------------------ reliability diagrams


def test_reliability_diagram_from_saved_runs_and_a_clear_error_for_a_bad_file(tmp_path, capsys):
    from mmcbench.report.figures.reliability import pooled_bins
    from mmcbench.runs.metrics import ece

    rng = np.random.default_rng(0)
    files = []
    for seed in range(2):
        labels = np.repeat(np.arange(3), 20)
        logits = rng.normal(size=(60, 3))
        logits[np.arange(60), labels] += 2.0
        probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
        path = tmp_path / f"seed{seed}.embeddings.npz"
        np.savez(path, labels=labels, assignments_final=probs.astype(np.float32))
        files.append(path)
    pooled, per_run = pooled_bins(files)
    saved = [np.load(f) for f in files]
    assert per_run == pytest.approx(
        [ece(s["labels"], s["assignments_final"].astype(np.float64)) for s in saved]
    )
    assert pooled.counts.sum() == 120
    out = tmp_path / "fig" / "toy.png"
    args = ["reliability", "--dataset", "toy", "--runs", "GIB", str(files[0])]
    args += ["--runs", "CLIB", *map(str, files), "--out", str(out)]
    assert main(args) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    bad = tmp_path / "bad.npz"
    np.savez(bad, other=np.zeros(3))
    assert (
        main(
            [
                "reliability",
                "--dataset",
                "toy",
                "--runs",
                "CLIB",
                str(bad),
                "--out",
                str(tmp_path / "bad.png"),
            ]
        )
        != 0
    )
    err = capsys.readouterr().err
    assert "bad.npz" in err and "assignments_final" in err
    assert not (tmp_path / "bad.png").exists()
