"""One deep run end to end on tiny data: record, history, embeddings, determinism, divergence."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.datasets import make_blobs

from mmcbench.cli import main
from mmcbench.core.settings import TrainingSettings
from mmcbench.methods.gib import model as gib_module
from mmcbench.methods.gib.model import GIBConfig
from mmcbench.runs import records
from mmcbench.runs.metrics import accuracy, ece
from mmcbench.training.batches import batch_plan
from mmcbench.training.train import run_from_file
from tests.conftest import tiny_settings, write_dataset

TINY = tiny_settings("GIB", encoder_hidden=[32, 32], latent_dim=16, batch_size=64, epochs=3)


@pytest.fixture(scope="module")
def tiny_file(tmp_path_factory):
    x, y = make_blobs(n_samples=150, centers=3, n_features=6, cluster_std=0.5, random_state=0)
    path = tmp_path_factory.mktemp("data") / "tiny.h5"
    return write_dataset(path, "tiny", [x[:, :3], x[:, 3:]], y)


def train_cli(tiny_file, out, variant="GIB", seed=0, extra=()):
    args = [
        "train",
        "--method",
        "GIB",
        "--variant",
        variant,
        "--data",
        str(tiny_file),
        "--seed",
        str(seed),
        "--hparams",
        json.dumps(TINY),
        "--embeddings-at",
        "0",
        "2",
        "--device",
        "cpu",
        "--out",
        str(out),
        *extra,
    ]
    assert main(args) == 0
    return records.read(out)


def without_timings(record):
    record = json.loads(json.dumps(record))
    for key in ("time", "environment"):
        record.pop(key)
    record["diagnostics"].pop("history_file")
    record["diagnostics"].pop("embeddings_file")
    return record


def test_three_epoch_run_writes_a_complete_record(tmp_path, tiny_file):
    record = train_cli(tiny_file, tmp_path / "seed0.json")
    assert record["status"] == "done" and record["method"] == "GIB"
    assert all(record["metrics"][m] is not None for m in ("ACC", "NMI", "ARI", "ECE"))
    assert record["params"]["alpha"] == 0.5 and record["params"]["ball_theta"] == 0.9
    assert record["loss"]["name"] == "total" and np.isfinite(record["loss"]["value"])
    assert record["diagnostics"]["epochs_run"] == 3
    assert set(record["diagnostics"]["balls"]) == {"v0", "v1", "fused"}
    assert record["diagnostics"]["balls"]["fused"]["single_sample_share"] == 0.0
    assert 0 <= record["time"]["ball_share"] < 1
    history = pd.read_csv(tmp_path / "seed0.history.csv")
    assert history["epoch"].tolist() == [0, 1, 2, 3]
    for column in (
        "total",
        "L_DDC",
        "L_Samples",
        "L_Balls",
        "vib",
        "mi_cs",
        "ACC",
        "NMI",
        "ARI",
        "ECE",
        "w_a",
        "w_b",
        "balls_v0",
        "purity_fused",
        "epoch_s",
    ):
        assert column in history, column
    assert history.loc[3, "ACC"] == pytest.approx(record["metrics"]["ACC"])
    assert history[["w_a", "w_b"]].sum(axis=1).round(6).eq(1).all()
    embeddings = np.load(tmp_path / "seed0.embeddings.npz")
    assert sorted(embeddings.files) == ["assignments_final", "epoch_0", "epoch_2", "labels"]
    assert embeddings["epoch_2"].shape == (150, 16)
    assert embeddings["assignments_final"].shape == (150, 3)


def test_same_seed_gives_identical_records_on_cpu(tmp_path, tiny_file):
    first = train_cli(tiny_file, tmp_path / "a" / "seed3.json", seed=3)
    second = train_cli(tiny_file, tmp_path / "b" / "seed3.json", seed=3)
    assert without_timings(first) == without_timings(second)
    history_a = pd.read_csv(tmp_path / "a" / "seed3.history.csv").drop(
        columns=["epoch_s", "ball_s"]
    )
    history_b = pd.read_csv(tmp_path / "b" / "seed3.history.csv").drop(
        columns=["epoch_s", "ball_s"]
    )
    pd.testing.assert_frame_equal(history_a, history_b)
    other = train_cli(tiny_file, tmp_path / "c" / "seed4.json", seed=4)
    assert without_timings(other)["loss"] != without_timings(first)["loss"]


@pytest.mark.parametrize("variant", ["DDC", "DDC+Balls", "DDC+Samples"])
def test_ablation_runs_record_only_their_terms(tmp_path, tiny_file, variant):
    record = train_cli(tiny_file, tmp_path / "seed0.json", variant=variant)
    assert record["variant"] == variant and record["status"] == "done"
    history = pd.read_csv(tmp_path / "seed0.history.csv")
    assert ("L_Balls" in history) == ("Balls" in variant)
    assert ("L_Samples" in history) == ("Samples" in variant)


def test_metrics_in_the_record_match_the_saved_assignments(tiny_file):
    config = GIBConfig.from_dict(TINY)
    result = run_from_file("GIB", "GIB", tiny_file, 0, config, device="cpu", embeddings_at=[])
    saved = result.embeddings
    recomputed = ece(saved["labels"], saved["assignments_final"].astype(np.float64))
    assert result.record["metrics"]["ECE"] == pytest.approx(recomputed, abs=1e-4)
    assert result.record["metrics"]["ACC"] == pytest.approx(
        accuracy(saved["labels"], saved["assignments_final"].argmax(1))
    )


def test_a_non_finite_loss_is_recorded_as_diverged(tmp_path, tiny_file, monkeypatch):
    real = gib_module.gib_loss
    calls = {"n": 0}

    def exploding(model, out, variant):
        step = real(model, out, variant)
        calls["n"] += 1
        if calls["n"] > 4:  # from the 2nd epoch on (3 batches per epoch)
            step.terms["total"] = step.terms["total"] * float("nan")
        return step

    monkeypatch.setattr("mmcbench.methods.gib.trainer.gib_loss", exploding)
    record = train_cli(tiny_file, tmp_path / "seed0.json")
    assert record["status"] == "diverged"
    assert record["metrics"] == dict.fromkeys(records.METRICS)
    assert record["diagnostics"]["diverged_epoch"] == 2
    assert "NaN/inf" in record["error"]
    history = pd.read_csv(tmp_path / "seed0.history.csv")
    assert history["epoch"].tolist() == [0, 1]


def test_batch_plan_keeps_every_sample_and_merges_a_small_last_batch():
    g = torch.Generator().manual_seed(0)
    plan = batch_plan(1000, 256, min_last=20, generator=g)
    assert [len(b) for b in plan] == [256, 256, 256, 232]
    plan = batch_plan(1030, 256, min_last=20, generator=g)
    assert [len(b) for b in plan] == [256, 256, 256, 262]
    assert sorted(torch.cat(plan).tolist()) == list(range(1030))


def test_bad_hyper_parameters_are_a_clear_error(tmp_path, tiny_file, capsys):
    args = [
        "train",
        "--method",
        "GIB",
        "--variant",
        "GIB",
        "--data",
        str(tiny_file),
        "--seed",
        "0",
        "--hparams",
        '{"epoch": 3}',
        "--out",
        str(tmp_path / "r.json"),
    ]
    assert main(args) == 2
    assert "invalid hyper-parameters" in capsys.readouterr().err
    assert not (tmp_path / "r.json").exists()
    args[args.index("--variant") + 1] = "Nope"
    args[args.index("--hparams") + 1] = "{}"
    assert main(args) == 2
    assert "unknown GIB variant 'Nope'" in capsys.readouterr().err
    assert not (tmp_path / "r.json").exists()


def test_gradient_clipping_bounds_every_step(tiny_file):
    """Clipped to a norm of 1e-12, Adam's steps shrink to ~lr·1e-4 and the fused
    representation after an epoch is the untrained one; unclipped it moves."""
    moved = {}
    for clip in (1e-12, None):
        config = GIBConfig.from_dict({**TINY, "epochs": 1, "grad_clip": clip})
        run = run_from_file("GIB", "GIB", tiny_file, 0, config, device="cpu", embeddings_at=[0, 1])
        saved = run.embeddings
        moved[clip] = float(np.abs(saved["epoch_1"] - saved["epoch_0"]).max())
    assert moved[1e-12] < 1e-5 < 1e-3 < moved[None]


@pytest.mark.parametrize("ddc_input,eval_input", [("balls", "balls"), ("samples", "samples")])
def test_a_run_records_its_health_and_clusters_per_epoch(tiny_file, ddc_input, eval_input):
    config = GIBConfig.from_dict({**TINY, "ddc_input": ddc_input, "eval_input": eval_input})
    run = run_from_file("GIB", "DDC", tiny_file, 0, config, device="cpu", embeddings_at=[])
    health = run.record["health"]
    predicted = run.embeddings["assignments_final"].argmax(1)
    assert health["clusters_used"] == len(np.unique(predicted)) == run.history["clusters"].iloc[-1]
    assert health["n_clusters"] == 3
    assert health["collapsed"] == (health["clusters_used"] < 2 or run.record["metrics"]["NMI"] < 5)
    assert run.history["clusters"].between(1, 3).all()
    assert run.record["params"]["ddc_input"] == ddc_input
    balls = [c for c in run.history.columns if c.startswith("balls_")]
    assert balls == (["balls_fused"] if ddc_input == "balls" else [])  # DDC: fused balls only


def test_history_tracks_the_encoders_sigma_and_mu(tiny_file):
    config = GIBConfig.from_dict({**TINY, "epochs": 2})
    history = run_from_file(
        "GIB", "GIB", tiny_file, 0, config, device="cpu", embeddings_at=[]
    ).history
    trained = history[history["epoch"] > 0]
    assert trained["sigma_mean"].between(1e-7, 1).all() and (trained["mu_abs_mean"] > 0).all()
    deterministic = GIBConfig.from_dict({**TINY, "epochs": 1, "variational": False})
    history = run_from_file(
        "GIB", "GIB", tiny_file, 0, deterministic, device="cpu", embeddings_at=[]
    ).history
    assert "sigma_mean" not in history


# ------------------------------------------------------------------ the trainer contract
def test_a_capability_is_its_flag_and_its_method_together():
    """`has_eval_step` / `packable` without their method (or the method without the flag) is
    refused when the class is defined, not found missing in the middle of a run."""
    from mmcbench.training.trainers import StepOutcome, Trainer

    with pytest.raises(TypeError, match="has_eval_step = True but does not define eval_step"):

        class Flagged(Trainer):
            has_eval_step = True

    with pytest.raises(TypeError, match="packable = True but defines pack_step"):

        class Unflagged(Trainer):
            def pack_step(self, state, idx, pack, *run_values) -> StepOutcome:
                raise AssertionError

    class Plain(Trainer):
        def batches(self, epoch, generator):
            return []

        def step(self, idx):
            raise AssertionError

        def predict(self, views):
            raise AssertionError

    assert not Plain.has_eval_step and not Plain.packable


def test_a_trainer_gets_views_and_sizes_never_labels_and_its_settings_checked():
    from mmcbench.training.trainers import FlooredBatches, TrainingData

    views = [torch.zeros(10, 3), torch.zeros(10, 4)]
    data = TrainingData("d", views, 2)
    assert (data.n_samples, data.view_dims) == (10, [3, 4])
    assert not hasattr(data, "labels")

    @dataclasses.dataclass(frozen=True)
    class NoFloor(TrainingSettings):
        pass

    class Floored(FlooredBatches):
        def step(self, idx):
            raise AssertionError

        def predict(self, views):
            raise AssertionError

    with pytest.raises(TypeError, match="min_batch_factor"):
        Floored(data, "v", 0, NoFloor(), torch.device("cpu"))
    trainer = Floored(data, "v", 0, Floor(), torch.device("cpu"))
    params = trainer.params()  # the settings' fields, tuples as lists (JSON's)
    assert params == {**dataclasses.asdict(Floor()), "dims": [1, 2]}
    assert trainer.lr_factor(7) == 1.0 and trainer.fusion_weights() is None


@dataclasses.dataclass(frozen=True)
class Floor(TrainingSettings):
    min_batch_factor: int = 1
    dims: tuple[int, ...] = (1, 2)


def test_the_loop_scores_what_a_trainer_reports_for_scoring():
    from mmcbench.training.trainers import Predicted, score_predictions

    labels = np.array([0, 0, 1, 1, 2, 2])
    found = {
        "all": Predicted(np.array([1, 1, 2, 2, 0, 0])),
        "some": [Predicted(np.array([0, 1]), np.array([0, 2]))],
        "n": 3,
    }
    assert score_predictions(found, labels) == {"all": 100.0, "some": [100.0], "n": 3}


def test_a_trainer_class_outside_the_contract_is_refused(monkeypatch):
    from mmcbench.core.errors import MmcbenchError
    from mmcbench.planning import catalogue
    from mmcbench.training.train import trainer_of

    monkeypatch.setattr(catalogue, "trainer_class", lambda method: object)
    with pytest.raises(MmcbenchError, match="not a subclass of"):
        trainer_of("GIB")
