"""The house for many methods: method folders found by the catalogue, settings composed from key
groups, run paths of methods without α and β, one training loop (a stopped run, a pack of a
method without a stacked step), the views' scaling a method asks for, and the reproduced
"Ours vs Best Compared" claims."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.datasets import make_blobs

from mmcbench.cli import main
from mmcbench.data.load import load_hdf5
from mmcbench.planning import catalogue
from mmcbench.planning.run_paths import parse_run_path, setting_dir, setting_of, setting_values
from mmcbench.report.claims import claims
from mmcbench.runs import records
from mmcbench.summaries.aggregate import aggregate
from mmcbench.training.trainers import RunStopped
from tests.conftest import tiny_settings, write_dataset

COMPARED = ["SiMVC", "CoMVC", "MFLVC", "DIVIDE", "DealMVC", "COPER"]


@pytest.fixture(scope="module")
def blobs_file(tmp_path_factory):
    x, y = make_blobs(n_samples=120, centers=3, n_features=6, random_state=3)
    folder = tmp_path_factory.mktemp("blobs")
    return write_dataset(folder / "blobs.h5", "blobs", [x[:, :3], x[:, 3:]], y)


def test_the_catalogue_finds_every_method_folder():
    assert catalogue.deep_methods() == ["GIB", "CLIB", *COMPARED]
    assert catalogue.paper_methods() == ["GIB", "CLIB"]
    assert catalogue.compared_methods() == COMPARED
    assert catalogue.setting_methods() == ["GIB", "CLIB"]
    for method in COMPARED:
        assert catalogue.path_keys(method) == ()
        assert "alpha" not in catalogue.hyper_parameters(method), method
    assert catalogue.hyper_parameters("GIB")[:4] == ("batch_size", "lr", "init", "grad_clip")


def test_settings_are_composed_not_inherited_from_the_ib_methods():
    from mmcbench.core.settings import IBSettings, TrainingSettings
    from mmcbench.methods.mflvc.config import MFLVCConfig
    from mmcbench.methods.simvc.config import SiMVCConfig

    for config in (SiMVCConfig, MFLVCConfig):
        assert issubclass(config, TrainingSettings) and not issubclass(config, IBSettings)
    assert MFLVCConfig().total_epochs == 300 and SiMVCConfig().total_epochs == 100
    assert catalogue.total_epochs("MFLVC", {"mse_epochs": 2, "con_epochs": 1}) == 53


def test_run_paths_of_a_method_without_alpha_and_beta(tmp_path):
    assert setting_dir() == "default" and setting_values("default") == {}
    assert setting_of({"alpha": 0.5, "beta": 1.0}, ("alpha", "beta")) == "a0.5_b1"
    assert setting_of({"epochs": 3}, ()) == "default"
    with pytest.raises(ValueError, match="not a run setting"):
        setting_values("a0.5")
    root = tmp_path / "runs"
    found = parse_run_path(root / "SiMVC/mfeat/SiMVC/default/seed2.json", root)
    assert (found.method, found.seed, found.alpha, found.deep) == ("SiMVC", 2, None, True)
    point = parse_run_path(
        root / "MFLVC/mfeat/MFLVC/default/finetune_ce=log_probs/seed0.json", root
    )
    assert (point.key, point.value, point.alpha) == ("finetune_ce", "log_probs", None)
    assert parse_run_path(root / "SiMVC/mfeat/SiMVC/Default/seed0.json", root) is None


def test_alpha_for_a_method_without_it_is_refused(tmp_path, blobs_file, capsys):
    out = tmp_path / "SiMVC/blobs/SiMVC/default/seed0.json"
    args = ["train", "--method", "SiMVC", "--variant", "SiMVC", "--data", str(blobs_file)]
    assert main([*args, "--seed", "0", "--alpha", "0.3", "--out", str(out)]) == 2
    assert "--alpha: SiMVC has no hyper-parameter 'alpha'" in capsys.readouterr().err
    assert main([*args, "--seed", "0", "--epochs", "2", "--out", str(out)]) == 0
    assert not (tmp_path / "x").exists()
    mflvc = [*args[:2], "MFLVC", "--variant", "MFLVC", *args[5:]]
    assert main([*mflvc, "--seed", "0", "--epochs", "2", "--out", str(tmp_path / "m.json")]) == 2
    assert "MFLVC has no hyper-parameter 'epochs'" in capsys.readouterr().err


def test_a_method_scales_its_views_as_its_spec_says(tmp_path, blobs_file):
    """SiMVC's `preprocess: none` (mvc) wins over the suite-wide minmax, and is recorded."""
    out = tmp_path / "SiMVC/blobs/SiMVC/default/seed0.json"
    args = ["train", "--method", "SiMVC", "--variant", "SiMVC", "--data", str(blobs_file)]
    assert (
        main([*args, "--seed", "0", "--epochs", "1", "--scaling", "minmax", "--out", str(out)]) == 0
    )
    assert records.read(out)["params"]["scaling"] == "none"
    assert main([*args, "--seed", "0", "--epochs", "1", "--set", "preprocess=minmax_global",
                 "--out", str(out)]) == 0  # fmt: skip
    assert records.read(out)["params"]["scaling"] == "minmax_global"


def test_a_run_its_method_stops_is_recorded_as_stopped_with_its_last_evaluation(
    tmp_path, blobs_file, monkeypatch
):
    from mmcbench.methods.simvc.trainer import SiMVCTrainer
    from mmcbench.training.train import train

    original = SiMVCTrainer.step
    calls = {"n": 0}

    def stopping(self, idx):
        calls["n"] += 1
        if calls["n"] > 1:  # the first batch of epoch 2 (one batch per epoch)
            raise RunStopped("no negatives in this batch")
        return original(self, idx)

    monkeypatch.setattr(SiMVCTrainer, "step", stopping)
    config = catalogue.config_class("SiMVC")(epochs=4, batch_size=120)
    run = train("SiMVC", load_hdf5(blobs_file), "SiMVC", 0, config, torch.device("cpu"), (0,))
    record = run.record
    assert record["status"] == "stopped"
    assert record["error"] == "stopped in epoch 2: no negatives in this batch"
    assert list(run.history["epoch"]) == [0, 1]
    assert record["metrics"]["ACC"] == pytest.approx(run.history["ACC"].iloc[-1])
    out = tmp_path / "runs/SiMVC/blobs/SiMVC/default/seed0.json"
    records.write_run(out, record, run.history, run.embeddings)
    assert records.read(out)["status"] == "stopped"  # valid against the record schema
    summary = aggregate([out], tmp_path / "runs.csv", tmp_path / "summary.csv")
    acc = summary[summary["metric"] == "ACC"].iloc[0]
    assert (acc["n"], acc["n_stopped"]) == (1, 1) and acc["mean"] == pytest.approx(
        record["metrics"]["ACC"]
    )


def test_a_pack_of_a_method_without_a_stacked_step_trains_its_runs_one_by_one(blobs_file):
    from mmcbench.training.pack import Member, train_pack
    from mmcbench.training.train import train

    data = load_hdf5(blobs_file)
    config = catalogue.config_class("CoMVC")(epochs=2, batch_size=40)
    packed = train_pack("CoMVC", data, "CoMVC", [Member(1), Member(0)], config, torch.device("cpu"))
    alone = train("CoMVC", data, "CoMVC", 0, config, torch.device("cpu"), (0, 5, 100))
    timing = ["epoch_s"]
    pd.testing.assert_frame_equal(
        packed[1].history.drop(columns=timing), alone.history.drop(columns=timing)
    )
    assert packed[0].record["seed"] == 1


def test_hard_assignments_record_no_ece_and_the_lr_is_set_at_every_step(
    tmp_path, blobs_file, monkeypatch
):
    """A trainer whose predictions are hard clusters (`has_soft_assignments` False) gets ECE,
    NLL and Brier NaN (N/A), never a number; `step_lr_factor` sets the lr before each step."""
    from mmcbench.methods.simvc.trainer import SiMVCTrainer
    from mmcbench.training.train import train

    seen, lrs = [], []
    original = SiMVCTrainer.step

    def step(self, idx):
        lrs.append(self.optimiser_lr())
        return original(self, idx)

    monkeypatch.setattr(SiMVCTrainer, "has_soft_assignments", lambda self: False)
    monkeypatch.setattr(
        SiMVCTrainer,
        "step_lr_factor",
        lambda self, epoch, j, steps: seen.append((epoch, j, steps)) or 0.5 * j,
    )
    monkeypatch.setattr(SiMVCTrainer, "step", step, raising=True)
    captured = {}
    real_adam = torch.optim.Adam

    def adam(params, lr, betas):
        captured["opt"] = real_adam(params, lr=lr, betas=betas)
        return captured["opt"]

    monkeypatch.setattr(torch.optim, "Adam", adam)
    monkeypatch.setattr(
        SiMVCTrainer,
        "optimiser_lr",
        lambda self: captured["opt"].param_groups[0]["lr"],
        raising=False,
    )
    config = catalogue.config_class("SiMVC")(epochs=2, batch_size=40)
    run = train("SiMVC", load_hdf5(blobs_file), "SiMVC", 0, config, torch.device("cpu"), (0,))
    assert seen == [(e, j, 3) for e in (1, 2) for j in (1, 2, 3)]
    assert lrs == pytest.approx([config.lr * 0.5 * j for _ in (1, 2) for j in (1, 2, 3)])
    for column in ("ECE", "NLL", "Brier"):
        assert run.history[column].isna().all(), column
    assert run.history["ACC"].notna().all()
    out = tmp_path / "runs/SiMVC/blobs/SiMVC/default/seed0.json"
    records.write_run(out, run.record, run.history, run.embeddings)
    assert records.read(out)["status"] == "done"
    summary = aggregate([out], tmp_path / "runs.csv", tmp_path / "summary.csv")
    final = summary[summary["protocol"] == "final"].set_index("metric")
    assert np.isnan(final.loc["ECE", "mean"]) and final.loc["ACC", "n"] == 1


@pytest.mark.parametrize("method", ["DIVIDE", "DealMVC", "COPER"])
def test_a_pack_of_the_new_compared_methods_gives_each_run_its_history_alone(
    blobs_file, method, tiny
):
    """None of them has a stacked step: a pack trains its runs one by one, each as alone."""
    from mmcbench.training.pack import Member, train_pack
    from mmcbench.training.train import train

    data = load_hdf5(blobs_file)
    config = catalogue.config_class(method).from_dict(tiny(method))
    packed = train_pack(method, data, method, [Member(1), Member(0)], config, torch.device("cpu"))
    alone = train(method, data, method, 0, config, torch.device("cpu"), (0,))
    timing = [c for c in alone.history if c.endswith("_s")]
    pd.testing.assert_frame_equal(
        packed[1].history.drop(columns=timing), alone.history.drop(columns=timing)
    )
    assert packed[0].record["seed"] == 1


def test_one_training_loop_serves_every_method():
    """train.py and pack.py hold no loop of their own, and the loop names no method and looks
    up no member of a trainer by name (the Trainer class declares them all)."""
    from pathlib import Path

    import mmcbench

    root = Path(mmcbench.__file__).parent / "training"
    loop = (root / "loop.py").read_text()
    for name in catalogue.deep_methods():
        assert name not in loop, name
    assert "getattr(" not in loop and "hasattr(" not in loop
    for module in ("train.py", "pack.py"):
        text = (root / module).read_text()
        assert "optimiser.step()" not in text and "backward()" not in text, module


# ------------------------------------------------------------------------------ the claims
def _long(rows):
    return pd.DataFrame(
        rows,
        columns=["paper", "paper_table", "dataset", "label", "method", "metric", "published",
                 "mean", "std", "n"],
    )  # fmt: skip


def test_ours_vs_best_compared_published_and_reproduced():
    published = pd.DataFrame(
        [
            ("GIB", "table1", "Caltech-2V", "GIB", "ACC", 65.0),
            ("GIB", "table1", "Caltech-2V", "MFLVC", "ACC", 60.6),
            ("GIB", "table1", "Caltech-2V", "SPDMC", "ACC", 62.0),
            ("CLIB", "results", "Caltech-2V", "CLIB", "ECE", 10.0),
            ("CLIB", "results", "Caltech-2V", "SiMVC", "ECE", 30.2),
        ],
        columns=["paper", "table", "dataset", "method", "metric", "value"],
    )
    long = _long(
        [
            ("GIB", "table1", "Caltech-2V", "GIB", "GIB", "ACC", 65.0, 50.0, 2.0, 3),
            ("GIB", "table1", "Caltech-2V", "SiMVC", "SiMVC", "ACC", 50.8, 55.0, 1.0, 3),
            ("GIB", "table1", "Caltech-2V", "MFLVC", "MFLVC", "ACC", 60.6, 58.0, 1.0, 3),
            ("GIB", "table1", "Caltech-2V", "KM", "KM", "ACC", 40.0, 70.0, 1.0, 3),
            ("CLIB", "results", "Caltech-2V", "CLIB", "CLIB", "ECE", 10.0, 12.0, 1.0, 3),
            ("CLIB", "results", "Caltech-2V", "SiMVC", "SiMVC", "ECE", 30.2, 20.0, 2.0, 3),
            ("", "", "mfeat", "GIB", "GIB", "ACC", math.nan, 80.0, 1.0, 3),
            ("", "", "mfeat", "CoMVC", "CoMVC", "ACC", math.nan, 79.5, 1.0, 3),
        ]
    )
    table = claims([long], published).set_index(["paper", "dataset", "metric"])
    gib = table.loc[("GIB", "Caltech-2V", "ACC")]
    # published: GIB − the best other method the paper prints (SPDMC, 62.0, no public code),
    # and like for like, − the best of the methods the suite runs (MFLVC, 60.6)
    assert (gib["published_best"], gib["published_margin_overall"]) == (
        "SPDMC",
        pytest.approx(3.0),
    )
    assert gib["published_like_for_like"] == "MFLVC"
    assert gib["published_margin"] == pytest.approx(4.4)
    # reproduced: GIB − the best competing method the suite runs: the baseline KM (70)
    assert gib["best_compared"] == "KM" and gib["difference"] == pytest.approx(-20.0)
    assert gib["verdict"] == "does not hold" and gib["p_value"] > 0.99
    ece = table.loc[("CLIB", "Caltech-2V", "ECE")]  # lower is better: best − ours
    assert ece["difference"] == pytest.approx(8.0) and ece["verdict"] == "holds"
    assert ece["published_margin"] == pytest.approx(20.2)
    extra = table.loc[("GIB", "mfeat", "ACC")]
    assert extra["difference"] == pytest.approx(0.5) and extra["verdict"] == "undecided"


def test_claims_are_computed_under_the_honest_and_the_papers_protocol():
    rows = [
        ("", "", "mfeat", "GIB", "GIB", "ACC", math.nan, 46.0, 5.0, 3),
        ("", "", "mfeat", "SiMVC", "SiMVC", "ACC", math.nan, 89.0, 6.0, 3),
        ("", "", "mfeat", "CoMVC", "CoMVC", "ACC", math.nan, 77.0, 8.0, 3),
    ]
    long = _long(rows).assign(protocol_mean=[77.0, 82.0, math.nan], protocol_n=[1, 1, math.nan])
    table = claims([long], pd.DataFrame(columns=["paper", "table", "dataset", "method",
                                                 "metric", "value"]))  # fmt: skip
    gib = table[table["paper"] == "GIB"].set_index("protocol")
    assert list(gib.index) == ["final", "paper"]
    assert gib.loc["final", "difference"] == pytest.approx(46.0 - 89.0)
    assert gib.loc["final", "verdict"] == "does not hold"
    # the paper's protocol: GIB's chosen 77 against SiMVC's chosen 82; the spread and n are the
    # honest seeds' (one chosen run has none of its own), as the row's test says
    assert gib.loc["paper", "ours_mean"] == 77.0 and gib.loc["paper", "ours_n"] == 3
    assert "spread and n of its honest seeds" in gib.loc["paper", "test"]
    assert gib.loc["paper", "best_compared"] == "SiMVC"
    assert gib.loc["paper", "difference"] == pytest.approx(-5.0)
    assert gib.loc["paper", "verdict"] == "undecided"
    assert gib.loc["paper", "honest_stand_ins"] == ""
    # a compared method whose histories gave no protocol value stands in with its honest mean,
    # named in the cell, rather than silently leaving the comparison
    long.loc[1, "protocol_mean"] = math.nan
    again = claims([long], pd.DataFrame(columns=["paper", "table", "dataset", "method",
                                                 "metric", "value"]))  # fmt: skip
    paper = again[(again["paper"] == "GIB") & (again["protocol"] == "paper")].iloc[0]
    assert paper["best_compared"] == "SiMVC" and paper["best_mean"] == 89.0
    assert paper["honest_stand_ins"] == "SiMVC"


def test_claims_cli_writes_the_csv_and_refuses_a_wrong_suffix(tmp_path, capsys):
    long = _long(
        [
            ("GIB", "table1", "WVU", "GIB", "GIB", "NMI", 50.0, 40.0, 1.0, 2),
            ("GIB", "table1", "WVU", "CoMVC", "CoMVC", "NMI", 44.4, 30.0, 1.0, 2),
        ]
    )
    tables = tmp_path / "table1.csv"
    long.to_csv(tables, index=False)
    assert main(["claims", "--tables", str(tables), "--out", str(tmp_path / "c.txt")]) == 2
    assert main(["claims", "--tables", str(tables), "--out", str(tmp_path / "claims.csv")]) == 0
    written = pd.read_csv(tmp_path / "claims.csv")
    assert list(written["verdict"]) == ["holds"] and written["difference"].iloc[0] == 10.0


def test_every_compared_method_trains_from_the_command_line_and_learns(tmp_path, blobs_file):
    """A few epochs on small blobs: the loss falls and more than one cluster is used."""
    hparams = {
        "SiMVC": {"epochs": 4, "batch_size": 40},
        "CoMVC": {"epochs": 4, "batch_size": 40},
        "MFLVC": {"mse_epochs": 3, "con_epochs": 3, "tune_epochs": 2, "batch_size": 16},
    }
    for method, values in hparams.items():
        out = tmp_path / f"{method}/blobs/{method}/default/seed0.json"
        args = ["train", "--method", method, "--variant", method, "--data", str(blobs_file)]
        args += ["--seed", "0", "--hparams", json.dumps(values), "--out", str(out)]
        assert main(args) == 0, method
        record = records.read(out)
        history = pd.read_csv(out.with_name("seed0.history.csv"))
        trained = history[history["epoch"] > 0]
        assert record["status"] == "done" and record["health"]["clusters_used"] > 1, method
        first = trained["recon" if method == "MFLVC" else "total"].iloc[0]
        last = trained["recon" if method == "MFLVC" else "total"].dropna().iloc[-1]
        assert last < first, method
        assert np.isfinite(record["metrics"]["ECE"]), method
        assert dataclasses.is_dataclass(catalogue.config_class(method))


@pytest.mark.parametrize("method", ["DIVIDE", "DealMVC", "COPER"])
def test_the_methods_that_win_published_cells_train_and_find_the_blobs(
    tmp_path, blobs_file, method, tiny
):
    """Three well-separated blobs: each run finishes, its loss falls in its last stage, it
    learns (DIVIDE finds the three blobs; at this tiny schedule DealMVC and COPER find at least
    two, as MFLVC, DealMVC's backbone, does at the same schedule: ACC 66.7 on seeds 0 and 1),
    and DIVIDE's hard k-means clusters have no ECE while the others' soft assignments have
    one."""
    hparams = {
        "DIVIDE": tiny("DIVIDE", epochs=6, rectify_start_epoch=3, batch_size=60),
        "DealMVC": tiny("DealMVC", mse_epochs=4, con_epochs=4, tune_epochs=2),
        "COPER": tiny("COPER", epochs=8, stage2_epoch=3, stage3_epoch=5, validation_every=2),
    }[method]
    out = tmp_path / f"{method}/blobs/{method}/default/seed0.json"
    args = ["train", "--method", method, "--variant", method, "--data", str(blobs_file)]
    args += ["--seed", "0", "--hparams", json.dumps(hparams), "--out", str(out)]
    args += ["--embeddings-at", "0"]
    assert main(args) == 0
    record = records.read(out)
    history = pd.read_csv(out.with_name("seed0.history.csv"))
    assert record["status"] == "done" and record["health"]["clusters_used"] >= 2
    assert record["metrics"]["ACC"] > (90 if method == "DIVIDE" else 60), record["metrics"]
    last_stage = history[(history["epoch"] > 0) & (history["stage"] == history["stage"].max())]
    assert last_stage["total"].iloc[-1] < last_stage["total"].iloc[0]
    ece = record["metrics"]["ECE"]
    assert (ece is None or np.isnan(ece)) == (method == "DIVIDE"), ece


def test_table1_shows_the_compared_rows_and_ours_vs_best_compared(tmp_path):
    from mmcbench.report.tables import TABLE1, load_published, render

    rows = []
    values = {"GIB": (70.0, 2.0), "SiMVC": (60.0, 1.0), "CoMVC": (65.0, 1.0), "MFLVC": (66.0, 1.0)}
    for dataset in ("Caltech-2V", "mfeat"):
        for method, (mean, std) in values.items():
            for metric in ("ACC", "NMI", "ARI", "ECE"):
                rows.append(
                    {
                        "method": method,
                        "variant": method,
                        "dataset": dataset,
                        "metric": metric,
                        "view_name": "",
                        "n": 3,
                        "n_runs": 3,
                        "n_diverged": 0,
                        "n_error": 0,
                        "n_collapsed": 0,
                        "mean": mean if metric != "ECE" else 10.0,
                        "std": std,
                        "label_selected": mean,
                        "label_selected_seed": 0,
                        "loss_selected": mean,
                        "loss_selected_seed": 0,
                        "p_alpha": 0.5 if method == "GIB" else math.nan,
                        "p_beta": 0.5 if method == "GIB" else math.nan,
                        "overrides": "",
                    }
                )
    long = render(pd.DataFrame(rows), load_published(), TABLE1, tmp_path / "table1")
    text = (tmp_path / "table1.md").read_text()
    for method in ("SiMVC", "CoMVC", "MFLVC"):
        assert f"| Caltech-2V | {method} | " in text and f"| mfeat | {method} | " in text
    # GIB 70 ± 2 against the best compared, MFLVC 66 ± 1, 3 seeds each: Welch t 3.10, df 2.94,
    # one-sided p 0.027 < 0.05 (the two-sided 95 % interval still touches 0)
    assert "GIB vs best compared, honest | +4.0 [-0.2, +8.2] (vs MFLVC, n 3/3): holds" in text
    assert "### Ours vs Best Compared (GIB paper, Table 1)" in text
    assert "### GIB vs Best Compared (reproduced only)" in text
    assert "| mfeat | GIB vs best compared, published" not in text  # no paper has mfeat
    assert "| Caltech-2V | GIB vs best compared, published" in text
    # each paper's own published value of the same method (Caltech-2V: SiMVC 50.8 vs 51.1)
    simvc = long[(long["label"] == "SiMVC") & (long["metric"] == "ACC")]
    assert sorted(simvc["published"].dropna()) == [50.8, 51.1]


def test_a_summary_accepts_a_methods_own_scaling_but_not_a_mix_of_the_suites(tmp_path, blobs_file):
    """SiMVC's `preprocess: none` and DIVIDE's own z-scoring beside minmax runs are their
    specs; two suite-wide scalings are refused."""
    from mmcbench.core.errors import RecordError

    runs = tmp_path / "runs"
    common = ["--data", str(blobs_file), "--seed", "0", "--epochs", "1"]
    simvc = runs / "SiMVC/blobs/SiMVC/default/seed0.json"
    assert (
        main(["train", "--method", "SiMVC", "--variant", "SiMVC", *common, "--out", str(simvc)])
        == 0
    )
    km = runs / "AmKM/blobs/all/seed0.json"
    args = ["baseline", "--method", "AmKM", "--variant", "all", "--data", str(blobs_file)]
    assert main([*args, "--seed", "0", "--out", str(km)]) == 0
    # DIVIDE z-scores its views itself (`data_norm`; its record's scaling is none)
    divide = runs / "DIVIDE/blobs/DIVIDE/default/seed0.json"
    hparams = json.dumps(tiny_settings("DIVIDE", epochs=1, rectify_start_epoch=0))
    args = ["train", "--method", "DIVIDE", "--variant", "DIVIDE", "--hparams", hparams]
    assert main([*args, *common[:4], "--out", str(divide)]) == 0
    summary = aggregate([simvc, km, divide], tmp_path / "runs.csv", tmp_path / "summary.csv")
    assert set(summary["method"]) == {"SiMVC", "AmKM", "DIVIDE"}
    raw = runs / "AmKM/blobs/all/seed1.json"
    args = ["baseline", "--method", "AmKM", "--variant", "all", "--data", str(blobs_file)]
    assert main([*args, "--seed", "1", "--scaling", "none", "--out", str(raw)]) == 0
    with pytest.raises(RecordError, match="mix scalings"):
        aggregate([simvc, km, raw], tmp_path / "runs.csv", tmp_path / "summary.csv")


def test_claims_csv_keeps_the_rows_of_datasets_no_paper_has(tmp_path):
    long = _long(
        [
            ("", "", "mfeat", "GIB", "GIB", "ACC", math.nan, 80.0, 1.0, 3),
            ("", "", "mfeat", "CoMVC", "CoMVC", "ACC", math.nan, 70.0, 1.0, 3),
        ]
    )
    tables = tmp_path / "table1.csv"
    long.to_csv(tables, index=False)  # the empty paper column reads back as text, not NaN
    assert main(["claims", "--tables", str(tables), "--out", str(tmp_path / "claims.csv")]) == 0
    written = pd.read_csv(tmp_path / "claims.csv", keep_default_na=False)
    assert list(written["dataset"]) == ["mfeat"] and list(written["verdict"]) == ["holds"]


def test_a_record_at_the_wrong_kind_of_run_path_is_not_that_run():
    from mmcbench.planning.run_paths import RunPath, identity_mismatch

    simvc = {"method": "SiMVC", "dataset": "mfeat", "variant": "SiMVC", "seed": 0, "params": {}}
    assert identity_mismatch(simvc, RunPath("SiMVC", "mfeat", "SiMVC", 0, deep=True)) is None
    assert "baseline run's path" in identity_mismatch(simvc, RunPath("SiMVC", "mfeat", "SiMVC", 0))
    km = {"method": "KM", "dataset": "mfeat", "variant": "view0", "seed": 0, "params": {}}
    assert "deep run's path" in identity_mismatch(km, RunPath("KM", "mfeat", "view0", 0, deep=True))
    gib = {"method": "GIB", "dataset": "mfeat", "variant": "GIB", "seed": 0, "params": {}}
    assert "spells α and β" in identity_mismatch(gib, RunPath("GIB", "mfeat", "GIB", 0, deep=True))


def test_a_variant_with_a_shorter_schedule_is_checked_and_kept_as_itself(tmp_path, blobs_file):
    from mmcbench.planning.config import deep_problems

    section = {"embeddings_at": [0, 300]}
    assert deep_problems("MFLVC", section, ["MFLVC"]) == []
    [problem] = deep_problems("MFLVC", section, ["no-finetune"])
    assert "beyond the 250 epochs MFLVC no-finetune trains" in problem
    assert catalogue.total_epochs("MFLVC", {}, "no-finetune") == 250
    out = tmp_path / "MFLVC/blobs/no-finetune/default/seed0.json"
    args = ["train", "--method", "MFLVC", "--variant", "no-finetune", "--data", str(blobs_file)]
    args += ["--seed", "0", "--set", "mse_epochs=1", "--set", "con_epochs=1", "--out", str(out)]
    assert main([*args, "--keep-finished"]) == 0
    written = out.stat().st_mtime_ns
    assert records.read(out)["params"]["tune_epochs"] == 0
    assert main([*args, "--keep-finished"]) == 0  # the finished run is kept, not retrained
    assert out.stat().st_mtime_ns == written
