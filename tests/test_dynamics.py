"""The dynamics figure (`mmcbench plot dynamics`): every loss term and per-view σ/|μ|."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_blobs

from mmcbench.cli import main
from mmcbench.report.figures.dynamics import loss_terms, panels
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


def test_loss_panels_carry_the_papers_names_and_views_their_dataset_names(gib_histories):
    from mmcbench.report.figures.convergence import load_histories
    from mmcbench.report.figures.dynamics import dynamics_figure
    from mmcbench.report.figures.inputs import read_record_beside
    from mmcbench.report.figures.names import term_name, view_names

    _, paths = gib_histories
    history = pd.read_csv(paths[0])
    shown = dict(panels(history, "GIB"))
    assert shown[r"$\Sigma_i\, I(X^i; H^i)$ [vib]"] == ["vib", "eval_vib"]
    assert shown[r"$L_{Samples}$ (Eq. 6) [L_Samples]"] == ["L_Samples", "eval_L_Samples"]
    assert term_name("GIB", "sigma_mean") == "sigma_mean"  # no paper name: the column's
    record = read_record_beside(paths[0], ".history.csv")
    views = view_names(record, history, "blobs")
    assert views == ["a", "b"]  # write_dataset's view names, by the run record
    assert view_names(None, history) == ["a", "b"]  # by the fusion-weight columns w_a, w_b
    assert view_names(None, history.drop(columns=["w_a", "w_b"])) is None
    fig = dynamics_figure("GIB", "blobs", load_histories(paths), views=views)
    legends = [ax.get_legend() for ax in fig.axes if ax.get_legend() is not None]
    view_legend = [lg for lg in legends if lg.get_title().get_text() == "view"]
    assert [t.get_text() for t in view_legend[0].get_texts()] == ["a", "b"]
    assert all("v0" not in t.get_text() for lg in legends for t in lg.get_texts())
    titles = [ax.get_title() for ax in fig.axes]
    assert r"$\Sigma_{i<j}\, I(C^i; C^j)$ [mi_cc]" in titles


def stage_history(path, seed):
    """An MFLVC-like history: stages 1 (epochs 1–2), 2 (3–4), 3 (5–6); `label` only in 2."""
    epochs = np.arange(0, 7)
    stage = [np.nan, 1, 1, 2, 2, 3, 3]
    label = [np.nan, np.nan, np.nan, 5.0, 4.0, np.nan, np.nan]
    frame = pd.DataFrame(
        {
            "epoch": epochs,
            "ACC": 10.0 + epochs + seed,
            "NMI": 5.0 + epochs,
            "ECE": 9.0 - epochs,
            "total": np.r_[np.nan, 1.0 / epochs[1:]],
            "label": label,
            "eval_label": label,
            "eval_total": np.r_[np.nan, 1.0 / epochs[1:]],
            "stage": stage,
        }
    )
    frame.to_csv(path, index=False)
    return path


def test_stages_are_marked_where_they_end_and_named_in_the_title(tmp_path):
    from mmcbench.report.figures.convergence import convergence_figure, load_histories
    from mmcbench.report.figures.dynamics import dynamics_figure

    paths = [stage_history(tmp_path / f"seed{s}.history.csv", s) for s in (0, 1)]
    histories = load_histories(paths)

    def stage_lines(ax):
        return sorted(
            line.get_xdata()[0]
            for line in ax.lines
            if line.get_linestyle() == ":" and line.get_xdata()[0] == line.get_xdata()[1]
        )

    fig = convergence_figure("MFLVC", "toy", histories, warmup=1)
    title = fig._suptitle.get_text()
    assert "pre-training 1–2, contrastive 3–4, fine-tuning 5–6" in title
    assert all(stage_lines(ax) == [2, 4] for ax in fig.axes)  # the warm-up line is not drawn
    fig = dynamics_figure("MFLVC", "toy", histories)
    assert "pre-training 1–2" in fig._suptitle.get_text()
    by_title = {ax.get_title(): ax for ax in fig.axes if ax.get_visible()}
    assert stage_lines(by_title["ACC (%)"]) == [2, 4]
    assert stage_lines(by_title[r"$\Sigma_{v<w}\, \ell_L$ (label contrast) [label]"]) == []
    unknown = convergence_figure("SiMVC", "toy", histories)  # stages without names
    assert "stage 1 1–2, stage 2 3–4, stage 3 5–6" in unknown._suptitle.get_text()
    flat = convergence_figure("MFLVC", "toy", histories.drop(columns="stage"))
    assert "stages" not in flat._suptitle.get_text()
