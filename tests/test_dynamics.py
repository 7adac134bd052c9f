"""The dynamics figure (`mmcbench plot dynamics`): every loss term and per-view σ/|μ|."""

from __future__ import annotations

import pandas as pd
import pytest
from sklearn.datasets import make_blobs

from benchmark.cli import main
from benchmark.figures.dynamics import loss_terms, panels
from tests.conftest import write_dataset


@pytest.fixture(scope="module")
def gib_histories(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("dynamics")
    x, y = make_blobs(n_samples=120, centers=3, n_features=6, cluster_std=0.5, random_state=2)
    data = write_dataset(tmp / "blobs.h5", "blobs", [x[:, :3], x[:, 3:]], y)
    outs = [tmp / "runs" / "GIB" / "blobs" / "GIB" / "a0.5_b0.5" / f"seed{s}.json" for s in (0, 1)]
    for seed, out in enumerate(outs):
        args = ["train", "--method", "GIB", "--variant", "GIB", "--data", str(data)]
        args += ["--seed", str(seed), "--hparams", '{"epochs": 3}', "--device", "cpu"]
        assert main([*args, "--out", str(out)]) == 0
    return tmp, [o.with_suffix(".history.csv") for o in outs]


def test_the_panels_are_the_scores_every_gib_term_and_sigma_mu_per_view(gib_histories):
    _, paths = gib_histories
    history = pd.read_csv(paths[0])
    terms = loss_terms(history)
    assert {"vib", "mi_yy", "mi_ys", "mi_cc", "mi_cs", "ddc1", "total"} <= set(terms)
    shown = dict(panels(history))
    assert shown["vib"] == ["vib", "eval_vib"]
    assert shown["mean σ (eval)"] == ["eval_sigma_v0", "eval_sigma_v1"]
    assert shown["mean |μ| (eval)"] == ["eval_mu_abs_v0", "eval_mu_abs_v1"]


def test_plot_dynamics_writes_the_figure(gib_histories):
    tmp, paths = gib_histories
    prefix = tmp / "figures" / "GIB_blobs"
    args = ["plot", "dynamics", "--method", "GIB", "--dataset", "blobs"]
    args += ["--histories", *map(str, paths), "--out-prefix", str(prefix)]
    assert main(args) == 0
    assert prefix.with_suffix(".png").stat().st_size > 0 and prefix.with_suffix(".pdf").is_file()


def test_a_history_without_eval_losses_shows_scores_and_total_and_says_so(gib_histories):
    tmp, paths = gib_histories
    old = tmp / "old" / "GIB" / "blobs" / "GIB" / "a0.5_b0.5"
    old.mkdir(parents=True)
    history = pd.read_csv(paths[0])
    history.drop(columns=[c for c in history if c.startswith("eval_")]).to_csv(
        old / "seed0.history.csv", index=False
    )
    args = ["plot", "dynamics", "--method", "GIB", "--dataset", "blobs"]
    args += ["--histories", str(old / "seed0.history.csv"), "--out-prefix", str(tmp / "x")]
    assert main(args) == 0 and (tmp / "x.png").is_file()
    shown = dict(panels(pd.read_csv(old / "seed0.history.csv")))
    assert set(shown) == {"ACC (%)", "NMI (%)", "ECE (%)"}  # the figure adds the total loss
