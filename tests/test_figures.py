"""Figure renderers on small synthetic inputs: a non-blank image whose labels name the metric."""

from __future__ import annotations

import json

import matplotlib.image as mpimg
import numpy as np
import pandas as pd
import pytest

from mmcbench.cli import main
from mmcbench.core.errors import MmcbenchError
from mmcbench.report.figures import style
from mmcbench.report.figures.convergence import convergence_figure, load_histories, warmup_epochs
from mmcbench.report.figures.grid import best_cell, grid_figure, grid_matrix, load_grid
from mmcbench.report.figures.paper_vs_reproduced import load_comparisons, paper_vs_reproduced_figure
from mmcbench.report.figures.tsne import tsne_coordinates, tsne_figure
from mmcbench.report.tables import TABLE2, load_published, render
from mmcbench.runs import records
from mmcbench.summaries.aggregate import runs_table, summarise


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


def write_history(path, seed, warmup=None, epochs=11, record=None, extra=None):
    """A history of `epochs` rows (0, 1, …) and, beside it, a record with `params` and
    `record`'s fields."""
    epochs = np.arange(0, epochs)
    frame = pd.DataFrame(
        {
            "epoch": epochs,
            "total": np.r_[np.nan, 5.0 / epochs[1:] + seed],
            "ACC": 10 + 5 * epochs + seed,
            "NMI": 3 * epochs + seed,
            "ECE": 20 - epochs + seed,
            **(extra or {}),
        }
    )
    frame.to_csv(path, index=False)
    record_path = path.with_name(path.name.removesuffix(".history.csv") + ".json")
    params = {"warmup_epochs": warmup} if warmup else {}
    record_path.write_text(json.dumps({"params": params, **(record or {})}))
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


def test_convergence_title_says_how_many_seeds_each_epoch_pools(tmp_path):
    paths = [write_history(tmp_path / f"seed{s}.history.csv", s) for s in range(3)]
    paths.append(write_history(tmp_path / "seed3.history.csv", 3, epochs=3))  # diverged early
    fig = convergence_figure("GIB", "mfeat", load_histories(paths))
    assert "mean ± std over 4 seeds (3 after epoch 2)" in text_of(fig)
    mean_acc = fig.axes[1].lines[0].get_ydata()
    assert mean_acc[2] == pytest.approx(10 + 5 * 2 + 1.5)  # seeds 0…3
    assert mean_acc[5] == pytest.approx(10 + 5 * 5 + 1.0)  # seeds 0…2 only


def test_convergence_of_runs_that_all_ended_in_epoch_one_says_so(tmp_path):
    """A run that diverged in its first epoch has only its untrained row (no loss column):
    the loss panel says there is no trained epoch; a loss column missing from trained
    histories is still refused."""
    path = tmp_path / "seed0.history.csv"
    pd.DataFrame({"epoch": [0], "ACC": [19.4], "NMI": [13.0], "ECE": [9.4]}).to_csv(path)
    fig = convergence_figure("COPER", "mfeat", load_histories([path]))
    assert "no trained epoch" in " ".join(t.get_text() for t in fig.axes[0].texts)
    assert fig.axes[1].lines[0].get_ydata()[0] == pytest.approx(19.4)
    trained = write_history(tmp_path / "seed1.history.csv", 1).read_text()
    (tmp_path / "seed1.history.csv").write_text(trained.replace("total", "other"))
    with pytest.raises(MmcbenchError, match="no column"):
        convergence_figure("GIB", "mfeat", load_histories([tmp_path / "seed1.history.csv"]))


def gib_on(dataset, method="GIB", variant="GIB", alpha=0.5):
    return {"method": method, "variant": variant, "dataset": dataset, "params": {"alpha": alpha}}


@pytest.mark.parametrize(
    "second,fragment",
    [
        (gib_on("mfeat", method="CLIB", variant="CLIB"), "different methods"),
        (gib_on("Caltech-2V"), "different datasets"),
        (gib_on("mfeat", variant="DDC"), "different variants"),
        (gib_on("mfeat", alpha=0.9), "different alphas"),
    ],
)
def test_convergence_refuses_histories_of_different_runs(tmp_path, second, fragment):
    first = write_history(tmp_path / "a.history.csv", 0, record=gib_on("mfeat"))
    other = write_history(tmp_path / "b.history.csv", 1, record=second)
    with pytest.raises(MmcbenchError, match=fragment) as info:
        load_histories([first, other])
    assert str(first) in str(info.value) and str(other) in str(info.value)


def test_convergence_refuses_histories_whose_columns_tell_other_runs(tmp_path):
    """Without records, the history's own views and loss terms tell runs apart."""
    views_a = {"w_fou": 0.5, "w_fac": 0.5}
    a = write_history(tmp_path / "a.csv", 0, extra=views_a)
    b = write_history(tmp_path / "b.csv", 1, extra={"w_WM": 0.5, "w_CENTRIST": 0.5})
    with pytest.raises(MmcbenchError, match="different views") as info:
        load_histories([a, b])
    assert "a.csv" in str(info.value) and "b.csv" in str(info.value)
    gib = write_history(tmp_path / "gib.csv", 0, extra={**views_a, "L_DDC": 1.0, "L_Balls": 1.0})
    clib = write_history(tmp_path / "clib.csv", 1, extra={**views_a, "L_IB": 1.0, "L_Cal": 1.0})
    with pytest.raises(MmcbenchError, match="different methods or variants"):
        load_histories([gib, clib])
    cut = write_history(tmp_path / "cut.csv", 2, epochs=1, extra={**views_a, "L_DDC": 1.0})
    assert load_histories([gib, cut])["run"].nunique() == 2  # fewer terms: a run cut short


def test_plot_convergence_refuses_histories_of_another_method_or_alpha(tmp_path, capsys):
    paths = [
        str(write_history(tmp_path / f"s{s}.history.csv", s, record=gib_on("mfeat", "CLIB")))
        for s in (0, 1)
    ]
    argv = ["plot", "convergence", "--histories", *paths, "--dataset", "mfeat"]
    out = ["--out-prefix", str(tmp_path / "c")]
    assert main([*argv, "--method", "GIB", *out]) == 2
    err = capsys.readouterr().err
    assert "figure is of method GIB" in err and paths[0] in err and "Traceback" not in err
    assert main([*argv, "--method", "CLIB", "--alpha", "0.9", "--beta", "0.5", *out]) == 2
    assert "figure is of alpha 0.9" in capsys.readouterr().err
    assert main([*argv, "--method", "CLIB", "--alpha", "0.5", *out]) == 2
    assert "--alpha given without --beta" in capsys.readouterr().err
    assert not list(tmp_path.glob("c.*"))
    assert main([*argv, "--method", "CLIB", "--alpha", "0.5", "--beta", "0.5", *out]) == 0
    assert (tmp_path / "c.png").is_file()


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


def tsne_error(argv, capsys) -> str:
    assert main(["tsne", *argv]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.startswith("mmcbench tsne: error:")
    return err


def test_tsne_refuses_bad_options_and_files_in_one_paragraph(tmp_path, capsys):
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(2), 10)
    good = tmp_path / "good.embeddings.npz"
    np.savez(good, epoch_0=rng.normal(size=(20, 4)), labels=labels)
    out = tmp_path / "xy.csv"
    argv = ["--embeddings", str(good), "--out", str(out)]
    assert "--perplexity 0 must be a finite number above 0" in tsne_error(
        [*argv, "--perplexity", "0"], capsys
    )
    assert "--perplexity nan" in tsne_error([*argv, "--perplexity", "nan"], capsys)
    assert "--max-samples 1 must be at least 2" in tsne_error([*argv, "--max-samples", "1"], capsys)
    assert "--epochs names no epoch" in tsne_error([*argv, "--epochs"], capsys)

    bare = tmp_path / "bare.embeddings.npz"  # a run that saved no epochs
    np.savez(bare, labels=labels, assignments_final=np.full((20, 2), 0.5))
    err = tsne_error(["--embeddings", str(bare), "--out", str(out)], capsys)
    assert str(bare) in err and "saved no fused embeddings" in err and "embeddings_at" in err
    nan = tmp_path / "nan.embeddings.npz"
    np.savez(nan, epoch_3=np.full((20, 4), np.nan), labels=labels)
    err = tsne_error(["--embeddings", str(nan), "--out", str(out)], capsys)
    assert "epoch_3 has NaN/inf values" in err
    flat = tmp_path / "flat.embeddings.npz"
    np.savez(flat, epoch_0=np.ones((20, 1)), labels=labels)
    assert "needs 2 or more" in tsne_error(["--embeddings", str(flat), "--out", str(out)], capsys)
    single = tmp_path / "single.npy"
    np.save(single, np.ones(3))
    assert "not a run's embeddings file" in tsne_error(
        ["--embeddings", str(single), "--out", str(out)], capsys
    )
    assert not out.exists()
    assert main(["tsne", *argv, "--max-samples", "2", "--perplexity", "50"]) == 0  # capped
    assert len(pd.read_csv(out)) == 2


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
    # the paper's-protocol value is drawn, and the verdict count reads it (honest count beside)
    title = fig.axes[0].get_title()
    selected = {
        k: v.assign(protocol_mean=v["mean"].where(v["label"] != "GIB", 90.0))
        for k, v in comparisons.items()
    }
    fig = paper_vs_reproduced_figure(selected)
    within = int(title.split("\n")[1].split("/")[0])
    assert fig.axes[0].get_title().split("\n")[1].startswith(f"{within - 1}/")
    assert f"({within} honest)" in fig.axes[0].get_title()
    triangles = [c for c in fig.axes[0].collections if c.get_offsets().shape[0] == 3]
    assert any((c.get_offsets()[:, 0] == 90.0).any() for c in triangles)


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


def test_tsne_title_names_the_samples_and_seeds_and_the_legend_whole_classes(tmp_path):
    rng = np.random.default_rng(1)
    labels = np.repeat(np.arange(3), 20)
    path = tmp_path / "run.embeddings.npz"
    np.savez(
        path, epoch_0=rng.normal(size=(60, 4)), epoch_2=rng.normal(size=(60, 4)), labels=labels
    )
    csv = tmp_path / "xy.csv"
    tsne_coordinates(path, seed=3, perplexity=5, max_samples=40).to_csv(csv, index=False)
    coordinates = pd.read_csv(csv, dtype={"label": float, "epoch": float})  # as a CSV reads back
    fig = tsne_figure(coordinates, "GIB", "toy", seed=3, n_samples=60, run_seed=1)
    title = fig._suptitle.get_text()
    assert "(run seed 1)" in title and "40 of 60 samples" in title and "t-SNE seed 3" in title
    assert [ax.get_title() for ax in fig.axes] == ["epoch 0", "epoch 2"]
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["0", "1", "2"]
    whole = tsne_figure(coordinates, "GIB", "toy", n_samples=40)._suptitle.get_text()
    assert "40 samples" in whole and " of " not in whole.split("\n")[1] and "seed" not in whole


def test_grid_title_names_the_epoch_and_the_protocol(grid_csv):
    grid = load_grid(grid_csv)
    title = grid_figure(grid, "GIB", "mfeat", "ACC", epochs=12).axes[0].get_title()
    assert "epoch 12 (protocol final: each run's last epoch)" in title
    other = grid.assign(protocol="label_free")
    title = grid_figure(other, "GIB", "mfeat", "ACC", epochs=12).axes[0].get_title()
    assert "protocol label_free" in title and "epoch 12" not in title


def test_plot_commands_take_the_epochs_and_the_tsne_seed(tmp_path, grid_csv):
    prefix = tmp_path / "g"
    argv = ["plot", "grid", "--grid", str(grid_csv), "--method", "GIB", "--dataset", "mfeat"]
    assert main([*argv, "--metric", "ACC", "--epochs", "12", "--out-prefix", str(prefix)]) == 0
    coordinates = pd.DataFrame(
        {"epoch": 0, "sample": range(6), "x": range(6), "y": range(6), "label": [0, 1] * 3}
    )
    coordinates.to_csv(tmp_path / "xy.csv", index=False)
    argv = ["plot", "tsne", "--coordinates", str(tmp_path / "xy.csv"), "--seed", "4"]
    argv += ["--method", "GIB", "--dataset", "toy", "--out-prefix", str(tmp_path / "t")]
    assert main(argv) == 0
    assert_not_blank(tmp_path / "t.png")
    assert_not_blank(prefix.with_suffix(".png"))
