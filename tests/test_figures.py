"""Figure renderers on small synthetic inputs: a non-blank image whose labels name the metric."""

from __future__ import annotations

import json

import matplotlib.image as mpimg
import numpy as np
import pandas as pd
import pytest

from benchmark import records
from benchmark.aggregate import runs_table, summarise
from benchmark.cli import main
from benchmark.errors import MmcbenchError
from benchmark.figures import style
from benchmark.figures.convergence import convergence_figure, load_histories, warmup_epochs
from benchmark.figures.grid import best_cell, grid_figure, grid_matrix, load_grid
from benchmark.figures.paper_vs_reproduced import load_comparisons, paper_vs_reproduced_figure
from benchmark.figures.tsne import tsne_coordinates, tsne_figure
from benchmark.tables import TABLE2, load_published, render


def assert_not_blank(path):
    pixels = mpimg.imread(path)
    assert pixels.ndim == 3 and pixels[..., :3].std() > 0.01, f"{path} is blank"


def text_of(fig) -> str:
    """Every axis label and title of a figure (colour bars included), and its suptitle."""
    parts = [fig._suptitle.get_text() if fig._suptitle else ""]
    for ax in fig.axes:
        parts += [ax.get_xlabel(), ax.get_ylabel(), ax.get_title()]
        if hasattr(ax, "get_zlabel"):
            parts.append(ax.get_zlabel())
    return " | ".join(parts)


@pytest.fixture
def grid_csv(tmp_path):
    rows = []
    for alpha in (0.0, 0.5, 1.0):
        for beta in (0.0, 0.5, 1.0):
            for metric, value in (("ACC", 40 + 20 * alpha + 10 * beta), ("ECE", 30 - 10 * beta)):
                rows.append(
                    {
                        "method": "GIB",
                        "variant": "GIB",
                        "dataset": "mfeat",
                        "metric": metric,
                        "p_alpha": alpha,
                        "p_beta": beta,
                        "mean": value,
                        "n": 1,
                        "n_runs": 1,
                    }
                )
    path = tmp_path / "grid.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def test_grid_best_cell_is_the_maximum_or_for_ece_the_minimum(grid_csv):
    grid = load_grid(grid_csv)
    assert best_cell(grid_matrix(grid, "GIB", "mfeat", "ACC"), "ACC") == (1.0, 1.0, 70.0)
    _, beta, value = best_cell(grid_matrix(grid, "GIB", "mfeat", "ECE"), "ECE")
    assert (beta, value) == (1.0, 20.0)


@pytest.mark.parametrize("kind", ["heatmap", "bars3d"])
def test_grid_figure_is_drawn_and_names_the_metric(tmp_path, grid_csv, kind):
    fig = grid_figure(load_grid(grid_csv), "GIB", "mfeat", "ACC", kind)
    labels = text_of(fig)
    assert "ACC" in labels and "α" in labels and "β" in labels
    assert "best α = 1, β = 1: 70.0" in labels
    paths = style.save(fig, tmp_path / "g")
    assert [p.suffix for p in paths] == [".png", ".pdf"]
    assert_not_blank(paths[0])
    assert paths[1].read_bytes().startswith(b"%PDF")


def test_grid_hatches_and_counts_collapsed_cells(tmp_path, grid_csv):
    from matplotlib.patches import Rectangle

    grid = load_grid(grid_csv).assign(n_collapsed=0)
    grid.loc[(grid["p_alpha"] == 1.0) & (grid["p_beta"] == 0.0), "n_collapsed"] = 1
    fig = grid_figure(grid, "GIB", "mfeat", "ACC", "heatmap")
    assert "1 collapsed (hatched)" in text_of(fig)
    hatched = [p for p in fig.axes[0].patches if isinstance(p, Rectangle) and p.get_hatch()]
    assert len(hatched) == 1


def test_grid_input_errors_name_the_file(tmp_path, grid_csv):
    bad = tmp_path / "bad.csv"
    bad.write_text("method,dataset\nGIB,mfeat\n")
    with pytest.raises(MmcbenchError, match=r"bad\.csv: not a grid summary"):
        load_grid(bad)
    with pytest.raises(MmcbenchError, match="no NMI of GIB on mfeat"):
        grid_figure(load_grid(grid_csv), "GIB", "mfeat", "NMI")


def write_history(path, seed, warmup=None):
    epochs = np.arange(0, 11)
    frame = pd.DataFrame(
        {
            "epoch": epochs,
            "total": np.r_[np.nan, 5.0 / epochs[1:] + seed],
            "ACC": 10 + 5 * epochs + seed,
            "NMI": 3 * epochs + seed,
            "ECE": 20 - epochs + seed,
        }
    )
    frame.to_csv(path, index=False)
    record = path.with_name(path.name.removesuffix(".history.csv") + ".json")
    params = {"warmup_epochs": warmup} if warmup else {}
    record.write_text(json.dumps({"params": params}))
    return path


def test_convergence_figure_has_a_panel_per_quantity(tmp_path):
    paths = [write_history(tmp_path / f"seed{s}.history.csv", s, warmup=3) for s in (0, 1)]
    histories = load_histories(paths)
    assert warmup_epochs(paths[0]) == 3
    fig = convergence_figure("CLIB", "mfeat", histories, warmup=3)
    ylabels = [ax.get_ylabel() for ax in fig.axes]
    assert ylabels == ["total loss", "ACC (%)", "NMI (%)", "ECE (%)"]
    assert all(ax.get_xlabel() == "epoch" for ax in fig.axes)
    assert "2 seeds" in text_of(fig)
    mean_acc = fig.axes[1].lines[0].get_ydata()
    assert np.allclose(mean_acc, 10.5 + 5 * np.arange(11))  # mean over the two seeds
    assert_not_blank(style.save(fig, tmp_path / "c")[0])
    gib = convergence_figure("GIB", "mfeat", histories)
    assert [ax.get_ylabel() for ax in gib.axes] == ["total loss", "ACC (%)", "NMI (%)"]


def test_convergence_rejects_a_file_that_is_not_a_history(tmp_path):
    bad = tmp_path / "x.csv"
    bad.write_text("a,b\n1,2\n")
    with pytest.raises(MmcbenchError, match=r"x\.csv: not a run history"):
        load_histories([bad])


def test_tsne_of_saved_epochs_and_its_figure(tmp_path):
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(3), 20)
    centres = rng.normal(size=(3, 8)) * 10
    path = tmp_path / "run.embeddings.npz"
    np.savez(
        path,
        epoch_0=rng.normal(size=(60, 8)).astype(np.float32),
        epoch_5=(centres[labels] + rng.normal(size=(60, 8))).astype(np.float32),
        labels=labels,
        assignments_final=np.full((60, 3), 1 / 3, dtype=np.float32),
    )
    coordinates = tsne_coordinates(path, seed=0, perplexity=10, max_samples=40)
    assert sorted(coordinates["epoch"].unique()) == [0, 5]
    assert len(coordinates) == 2 * 40  # the same subsample at every epoch
    assert coordinates.groupby("epoch")["sample"].apply(tuple).nunique() == 1
    again = tsne_coordinates(path, seed=0, perplexity=10, max_samples=40)
    assert np.allclose(coordinates[["x", "y"]], again[["x", "y"]])  # fixed seed: reproducible
    scores = pd.DataFrame({"epoch": [0, 5], "ACC": [33.3, 90.0], "NMI": [0.0, 80.0]})
    fig = tsne_figure(coordinates, "GIB", "toy", scores.set_index("epoch"))
    labels_text = text_of(fig)
    assert "epoch 5" in labels_text and "ACC 90.0" in labels_text and "t-SNE 1" in labels_text
    assert_not_blank(style.save(fig, tmp_path / "t")[0])
    with pytest.raises(MmcbenchError, match=r"no embeddings saved at epoch\(s\) \[100\]"):
        tsne_coordinates(path, epochs=[0, 100])


def _table_csvs(tmp_path):
    from tests.test_aggregate_tables import gib_record

    paths = []
    for variant, acc in {"DDC": 61.0, "DDC+Balls": 75.0, "GIB": 68.0}.items():
        for seed, shift in ((0, -1.0), (1, 1.0)):
            path = tmp_path / "runs" / variant / f"seed{seed}.json"
            records.write(path, gib_record(variant, "Caltech-2V", seed, acc + shift, 1.0))
            paths.append(path)
    render(summarise(runs_table(paths)), load_published(), TABLE2, tmp_path / "table2")
    return [tmp_path / "table2.csv"]


def test_paper_vs_reproduced_draws_every_cell(tmp_path):
    comparisons = load_comparisons(_table_csvs(tmp_path))
    assert set(comparisons["table2"]["metric"]) == {"ACC", "NMI"}  # the metrics Table 2 prints
    fig = paper_vs_reproduced_figure(comparisons)
    labels = text_of(fig)
    assert "table2 · ACC" in labels and "table2 · NMI" in labels and "ACC (%)" in labels
    # GIB ACC 68.0 vs 69.7 and DDC NMI 51.0 vs 50.1 are within 2 points.
    assert "within 2 pts" in labels
    ticks = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert ticks == ["Caltech-2V · DDC", "Caltech-2V · DDC+Balls", "Caltech-2V · GIB"]
    assert_not_blank(style.save(fig, tmp_path / "p")[0])
    collapsed = {
        k: v.assign(n_collapsed=(v["label"] == "GIB").astype(int)) for k, v in comparisons.items()
    }
    fig = paper_vs_reproduced_figure(collapsed)
    crosses = [c for c in fig.axes[0].collections if c.get_offsets().shape[0] == 1]
    assert any(tuple(c.get_offsets()[0]) == (68.0, 2.0) for c in crosses)  # GIB's row, crossed


def test_plot_commands_write_png_and_pdf_or_fail_clearly(tmp_path, grid_csv, capsys):
    prefix = tmp_path / "fig" / "GIB_mfeat_ACC"
    argv = ["plot", "grid", "--grid", str(grid_csv), "--method", "GIB", "--dataset", "mfeat"]
    assert main([*argv, "--metric", "ACC", "--out-prefix", str(prefix)]) == 0
    assert prefix.with_suffix(".png").is_file() and prefix.with_suffix(".pdf").is_file()
    missing = tmp_path / "fig" / "missing"
    assert main([*argv, "--metric", "ARI", "--out-prefix", str(missing)]) == 2
    assert "no ARI of GIB on mfeat" in capsys.readouterr().err
    assert not list((tmp_path / "fig").glob("missing*"))  # nothing half written
    tables = _table_csvs(tmp_path)
    out = tmp_path / "pvr"
    assert (
        main(
            ["plot", "paper-vs-reproduced", "--tables", *map(str, tables), "--out-prefix", str(out)]
        )
        == 0
    )
    assert_not_blank(out.with_suffix(".png"))
