"""Packs (mmcbench.training.pack): K runs trained as one stacked model give each run's history
alone."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.datasets import make_blobs

from mmcbench.cli import main
from mmcbench.core.settings import BallSettings
from mmcbench.data.load import MultiViewData
from mmcbench.methods.clib.config import CLIBConfig
from mmcbench.methods.clib.trainer import CLIBTrainer
from mmcbench.methods.comvc.config import CoMVCConfig
from mmcbench.methods.comvc.trainer import CoMVCTrainer
from mmcbench.methods.gib.config import GIBConfig
from mmcbench.methods.gib.trainer import GIBTrainer
from mmcbench.methods.mflvc.config import MFLVCConfig
from mmcbench.methods.mflvc.trainer import MFLVCTrainer
from mmcbench.methods.simvc.config import SiMVCConfig
from mmcbench.methods.simvc.trainer import SiMVCTrainer
from mmcbench.models.granular import (
    ball_generators,
    granular_balls,
    granular_balls_representations,
    granular_balls_runs,
)
from mmcbench.runs import records
from mmcbench.training.pack import Member, train_pack
from mmcbench.training.train import train
from mmcbench.training.trainers import TrainingData
from tests.conftest import write_dataset

SMALL = dict(encoder_hidden=(16, 16), latent_dim=8, head_hidden=8, batch_size=50, epochs=4)
# Seeds and (α, β) both vary; seed 0 twice with different (α, β).
MEMBERS = [Member(0, 0.5, 0.5), Member(1, 0.5, 0.5), Member(2, 0.2, 0.8), Member(0, 0.9, 0.1)]
TIMING = ["epoch_s", "ball_s"]
CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def blobs() -> MultiViewData:
    x, y = make_blobs(n_samples=150, centers=3, n_features=7, cluster_std=0.5, random_state=0)
    views = [x[:, :3].astype(np.float32), x[:, 3:].astype(np.float32)]
    return MultiViewData("blobs", views, ["a", "b"], y, 3, {})


def alone(method, data, variant, member, config):
    run_config = dataclasses.replace(config, alpha=member.alpha, beta=member.beta)
    return train(method, data, variant, member.seed, run_config, CPU, embeddings_at=(0, 4))


def assert_same_history(packed, single, atol=1e-6):
    a = single.history.drop(columns=TIMING, errors="ignore")
    b = packed.history.drop(columns=TIMING, errors="ignore")
    assert list(a.columns) == list(b.columns)
    assert len(a) == len(b)
    np.testing.assert_allclose(b.to_numpy(float), a.to_numpy(float), rtol=0, atol=atol)


@pytest.mark.parametrize(
    ("method", "variant", "config"),
    [
        ("GIB", "GIB", GIBConfig(**SMALL)),  # L_Balls and DDC on ball centres
        ("CLIB", "CLIB", CLIBConfig(**SMALL, warmup_epochs=2)),  # warm-up, then head init
        ("GIB", "GIB", GIBConfig(**SMALL, compression="cluster_balance")),
        ("CLIB", "CLIB", CLIBConfig(**SMALL, warmup_epochs=2, compression="cluster_balance")),
    ],
)
def test_a_run_in_a_pack_of_four_has_its_history_alone(float64, blobs, method, variant, config):
    packed = train_pack(method, blobs, variant, MEMBERS, config, CPU, embeddings_at=(0, 4))
    for member, run in zip(MEMBERS, packed, strict=True):
        single = alone(method, blobs, variant, member, config)
        assert_same_history(run, single)
        assert run.record["status"] == single.record["status"] == "done"
        assert run.record["time"]["pack_size"] == len(MEMBERS)
        for metric, value in single.record["metrics"].items():
            assert run.record["metrics"][metric] == pytest.approx(value, abs=1e-6)
        for key, value in single.embeddings.items():
            np.testing.assert_allclose(run.embeddings[key], value, atol=1e-6)
    loss_columns = [c for c in packed[0].history.columns if c.startswith(("L_", "mi_", "ddc"))]
    assert loss_columns  # the comparison covered the loss terms
    if method == "CLIB":
        assert packed[0].record["diagnostics"]["head_init"]["init_epoch"] == 3
        assert packed[0].history["screened_size"].iloc[-1] > 0


def test_runs_of_a_pack_differ_from_each_other(float64, blobs):
    packed = train_pack("GIB", blobs, "GIB", MEMBERS[:2], GIBConfig(**SMALL), CPU)
    totals = [run.history["total"].iloc[1] for run in packed]
    assert totals[0] != totals[1]  # seeds 0 and 1: not one run copied


def test_a_diverged_run_stops_alone_and_leaves_the_others_unchanged(float64, blobs, monkeypatch):
    """Run 1's loss turns NaN in epoch 2: it is recorded as diverged there, as alone; the
    other runs of the pack go on with the histories they have alone."""
    config = GIBConfig(**SMALL)
    calls = {"n": 0}
    original = GIBTrainer.pack_step

    def poisoned(self, *args):
        step = original(self, *args)
        calls["n"] += 1
        if calls["n"] == 4:  # epoch 2 (three batches of 50 per epoch)
            poison = torch.tensor([0.0, float("nan"), 0.0, 0.0])
            step.terms["total"] = step.terms["total"] + poison
        return step

    monkeypatch.setattr(GIBTrainer, "pack_step", poisoned)
    packed = train_pack("GIB", blobs, "GIB", MEMBERS, config, CPU, embeddings_at=(0,))
    monkeypatch.undo()
    assert packed[1].record["status"] == "diverged"
    assert packed[1].record["diagnostics"]["diverged_epoch"] == 2
    assert packed[1].history["epoch"].tolist() == [0, 1]
    for r in (0, 2, 3):
        assert packed[r].record["status"] == "done"
        single = train(
            "GIB",
            blobs,
            "GIB",
            MEMBERS[r].seed,
            dataclasses.replace(config, alpha=MEMBERS[r].alpha, beta=MEMBERS[r].beta),
            CPU,
            embeddings_at=(0,),
        )
        assert_same_history(packed[r], single)


def test_balls_of_k_runs_are_each_runs_balls_alone():
    settings = BallSettings(min_ball_size=2)
    h = torch.randn(3, 64, 6, generator=torch.Generator().manual_seed(0))
    seeds = [5, 6, 7]
    together = granular_balls_runs(
        h, 4, settings, [torch.Generator().manual_seed(s) for s in seeds]
    )
    assert torch.equal(together.run_of_ball.unique(), torch.arange(3))
    for r, seed in enumerate(seeds):
        single = granular_balls(h[r], 4, settings, torch.Generator().manual_seed(seed))
        rows = together.assignment[r * 64 : (r + 1) * 64]
        # The same partition: two samples share a ball in the pack iff they do alone.
        assert torch.equal(
            rows[:, None] == rows[None], single.assignment[:, None] == single.assignment[None]
        )
        assert int((together.run_of_ball == r).sum()) == single.n_balls
        per_run = together.per_run(3)
        assert float(per_run["balls"][r]) == single.n_balls
        assert float(per_run["purity"][r]) == pytest.approx(float(single.purity.double().mean()))


def _clustered(runs: int, seed: int) -> torch.Tensor:
    """runs × 96 × 8 rows around 4 centres: balls split over several rounds."""
    g = torch.Generator().manual_seed(seed)
    centres = 3 * torch.randn(4, 8, generator=g)
    labels = torch.randint(4, (runs, 96), generator=g)
    return centres[labels] + torch.randn(runs, 96, 8, generator=g)


def _assert_same_balls(a, b):
    assert a.n_balls == b.n_balls
    for field in ("assignment", "sizes", "purity", "reason", "pseudo_labels", "run_of_ball"):
        assert torch.equal(getattr(a, field), getattr(b, field)), field


@pytest.mark.parametrize("runs", [1, 3])
def test_balls_of_every_representation_in_one_call_equal_their_calls_alone(runs):
    """`batched`: the R representations of K runs as one call give, per representation, the
    partition of its own call (ball ids included), for a run alone and for a pack."""
    names = ["v0", "v1", "v2", "fused"]
    reps = {name: _clustered(runs, i) for i, name in enumerate(names)}
    settings = BallSettings(min_ball_size=2, theta=0.95)
    seeds = [11, 12, 13][:runs]
    streams = [ball_generators(s, names, "batched") for s in seeds]
    together = granular_balls_representations(reps, 4, settings, streams)
    assert len({id(g) for g in streams[0].values()}) == len(names)  # own streams
    most_balls = 0
    for name in names:
        alone = granular_balls_runs(
            reps[name],
            4,
            settings,
            [ball_generators(s, names, "batched")[name] for s in seeds],
        )
        _assert_same_balls(together[name], alone)
        most_balls = max(most_balls, alone.n_balls)
    assert most_balls > 2 * runs  # the partitions did split


def test_the_sequential_implementation_partitions_each_representation_in_turn():
    """`implementation: sequential` (the code before): the representations draw from one
    generator one after another, one call each; `batched` gives other partitions."""
    names = ["v0", "v1", "fused"]
    reps = {name: _clustered(1, i) for i, name in enumerate(names)}
    sequential = BallSettings(theta=0.95, implementation="sequential")
    got = granular_balls_representations(
        reps, 4, sequential, [ball_generators(3, names, "sequential")]
    )
    generator = torch.Generator().manual_seed(3)
    for name in names:
        _assert_same_balls(got[name], granular_balls_runs(reps[name], 4, sequential, [generator]))
    batched = granular_balls_representations(
        reps, 4, BallSettings(theta=0.95), [ball_generators(3, names, "batched")]
    )
    assert any(not torch.equal(batched[n].pseudo_labels, got[n].pseudo_labels) for n in names)


@pytest.fixture(scope="module")
def blobs_file(tmp_path_factory):
    x, y = make_blobs(n_samples=150, centers=3, n_features=7, cluster_std=0.5, random_state=0)
    path = tmp_path_factory.mktemp("data") / "blobs.h5"
    return write_dataset(path, "blobs", [x[:, :3], x[:, 3:]], y)


HPARAMS = json.dumps({**SMALL, "encoder_hidden": [16, 16], "epochs": 2})


def test_train_pack_cli_writes_each_runs_files_as_train_does(tmp_path, blobs_file):
    outs = [tmp_path / "pack" / f"seed{s}.json" for s in (0, 1)]
    args = ["train-pack", "--method", "GIB", "--variant", "GIB", "--data", str(blobs_file)]
    args += ["--seeds", "0", "1", "--hparams", HPARAMS, "--embeddings-at", "0", "2"]
    assert main([*args, "--device", "cpu", "--out", *map(str, outs)]) == 0
    single = tmp_path / "alone" / "seed1.json"
    args = ["train", "--method", "GIB", "--variant", "GIB", "--data", str(blobs_file)]
    args += ["--seed", "1", "--hparams", HPARAMS, "--embeddings-at", "0", "2"]
    assert main([*args, "--device", "cpu", "--out", str(single)]) == 0
    packed, one = records.read(outs[1]), records.read(single)
    assert packed["seed"] == 1 and packed["time"]["pack_size"] == 2
    assert set(packed) == set(one) and set(packed["params"]) == set(one["params"])
    for metric, value in one["metrics"].items():  # float32: equal up to rounding
        assert packed["metrics"][metric] == pytest.approx(value, abs=1e-3)
    history = pd.read_csv(outs[1].with_suffix(".history.csv"))
    assert history["epoch"].tolist() == [0, 1, 2]
    assert set(np.load(outs[1].with_suffix(".embeddings.npz"))) == {
        "epoch_0",
        "epoch_2",
        "assignments_final",
        "labels",
    }


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--seeds", "0", "1", "--out", "a.json"], "one per seed"),
        (["--seeds", "0", "0", "--out", "a.json", "b.json"], "same run"),
        (["--seeds", "0", "1", "--out", "a.json", "a.json"], "name the same files"),
        (
            [
                "--seeds",
                "0",
                "1",
                "2",
                "--alpha",
                "0.1",
                "0.2",
                "--out",
                "a.json",
                "b.json",
                "c.json",
            ],
            "--alpha",
        ),
        (["--seeds", "0", "--alpha", "3", "--out", "a.json"], "maximum"),
    ],
)
def test_train_pack_refuses_bad_options_in_one_paragraph(
    tmp_path, blobs_file, capsys, extra, message
):
    args = ["train-pack", "--method", "GIB", "--variant", "GIB", "--data", str(blobs_file)]
    extra = [str(tmp_path / e) if e.endswith(".json") else e for e in extra]
    assert main([*args, "--hparams", HPARAMS, *extra]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


MFLVC_STAGES = MFLVCConfig(mse_epochs=1, con_epochs=1, tune_epochs=1, batch_size=32)


@pytest.mark.parametrize(
    ("trainer_class", "variant", "config", "epoch"),
    [
        (GIBTrainer, "GIB", GIBConfig(batch_size=32), 1),
        (CLIBTrainer, "CLIB", CLIBConfig(batch_size=32, warmup_epochs=0), 1),
        (SiMVCTrainer, "SiMVC", SiMVCConfig(batch_size=32), 1),
        (SiMVCTrainer, "SiMVC", SiMVCConfig(batch_size=32, encoder="deepmvc_dense5"), 1),
        (CoMVCTrainer, "CoMVC", CoMVCConfig(batch_size=32), 1),
        (MFLVCTrainer, "MFLVC", MFLVC_STAGES, 1),
        (MFLVCTrainer, "MFLVC", MFLVC_STAGES, 2),
        (MFLVCTrainer, "MFLVC", MFLVC_STAGES, 3),
    ],
)
def test_an_evaluation_reuses_its_encodings_and_then_drops_them(
    float64, blobs, trainer_class, variant, config, epoch
):
    """The eval steps take the rows they need from the evaluation's `predict` (one pass over
    all samples: GIB's, CLIB's and MFLVC's encoders' output, SiMVC's and CoMVC's fused DDC
    output, BatchNorm at its running statistics): the same eval losses as a pass over each
    batch; afterwards (and after a training step) nothing is kept."""
    from mmcbench.training.loop import evaluate
    from mmcbench.training.trainers import evaluation_losses

    views = [torch.as_tensor(v, dtype=torch.float64) for v in blobs.views]
    given = TrainingData(blobs.name, views, blobs.n_clusters)
    trainer = trainer_class(given, variant, 0, config, CPU)
    for e in range(1, epoch + 1):
        trainer.before_epoch(e)  # CLIB: the heads from k-means; MFLVC: its stage
    trainer.step(torch.arange(32))  # BatchNorm's running statistics move off their start
    fresh = evaluation_losses(trainer, epoch, 0)  # no predict before: each batch encoded
    evaluate(trainer, views, blobs.labels)
    assert trainer.eval_encoding is not None
    reused = evaluation_losses(trainer, epoch, 0)
    assert trainer.eval_encoding is None
    assert fresh.keys() == reused.keys() and "eval_total" in fresh
    for name, value in fresh.items():
        assert reused[name] == pytest.approx(value, rel=1e-9, abs=1e-12), name
    evaluate(trainer, views, blobs.labels)
    trainer.step(torch.arange(32))
    assert trainer.eval_encoding is None
    evaluate(trainer, [v.clone() for v in views], blobs.labels)  # not the run's own views
    assert trainer.eval_encoding is None
