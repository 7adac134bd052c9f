"""How a deep run ends when it does not finish, and what it leaves: a diverged run stops as
`diverged` and never costs the runs beside it (every record of a pack is written, every log line
formats), a run whose soft assignments turn non-finite diverges, a method whose code raises ends
its run with `status: error` and the traceback in the record, and a setting or dataset a trainer
cannot train on is refused as one paragraph before any training."""

from __future__ import annotations

import json
import logging
import textwrap
from pathlib import Path

import numpy as np
import pytest

from mmcbench.cli import main
from mmcbench.runs import records
from tests.conftest import tiny_settings, write_dataset
from tests.test_catalogue import toy_env_for

SIMVC_TINY = {k: v for k, v in tiny_settings("SiMVC").items() if k != "epochs"}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    """n 60, k 3, views of 5 and 4 features."""
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(3), 20)
    views = [rng.normal(size=(60, d)) + labels[:, None] for d in (5, 4)]
    return write_dataset(tmp_path_factory.mktemp("data") / "tiny.h5", "tiny", views, labels)


@pytest.fixture(scope="module")
def one_view(tmp_path_factory) -> Path:
    rng = np.random.default_rng(1)
    labels = np.repeat(np.arange(3), 20)
    views = [rng.normal(size=(60, 5)) + labels[:, None]]
    return write_dataset(tmp_path_factory.mktemp("data") / "one.h5", "one", views, labels)


def train_args(method, data, out, *extra, seed=0):
    return [
        *("train", "--method", method, "--variant", method, "--data", str(data)),
        *("--seed", str(seed), "--device", "cpu", "--threads", "1", *extra, "--out", str(out)),
    ]


def no_logging_error(capsys) -> str:
    """stderr, asserted free of the logging module's '--- Logging error ---' tracebacks."""
    err = capsys.readouterr().err
    assert "Logging error" not in err and "Traceback" not in err, err[-3000:]
    return err


# ------------------------------------------------------------------ diverged runs


def test_a_diverged_pack_writes_every_record_and_logs_each_run(tmp_path, tiny, capsys, caplog):
    outs = [tmp_path / f"seed{s}.json" for s in (0, 1)]
    args = ["train-pack", "--method", "GIB", "--variant", "GIB", "--data", str(tiny)]
    args += ["--seeds", "0", "1", "--epochs", "3", "--device", "cpu", "--threads", "1"]
    args += ["--hparams", json.dumps({"lr": 1e10, "grad_clip": None}), "--out", *map(str, outs)]
    with caplog.at_level(logging.INFO, logger="mmcbench"):
        assert main(args) == 0
    no_logging_error(capsys)
    for seed, out in zip((0, 1), outs, strict=True):
        record = records.read(out)
        assert (record["seed"], record["status"]) == (seed, "diverged")
        assert record["metrics"]["ACC"] is None and record["error"]
        assert records.side_files(out)[0].is_file()
    lines = [r.getMessage() for r in caplog.records if r.name == "mmcbench"]
    assert sum(line.startswith("diverged: GIB GIB on tiny") for line in lines) == 2, lines


@pytest.mark.parametrize(
    ("method", "extra"),
    [
        ("SiMVC", ["--epochs", "3", "--set", "lr=1e30", "--hparams", json.dumps(SIMVC_TINY)]),
        ("GIB", ["--epochs", "3", "--set", "lr=1e10"]),
        ("MFLVC", ["--set", "lr=1e308", "--set", "mse_epochs=1", "--set", "con_epochs=1"]),
    ],
)
def test_a_diverged_run_alone_ends_with_one_clean_log_line(
    tmp_path, tiny, capsys, caplog, method, extra
):
    out = tmp_path / "run.json"
    with caplog.at_level(logging.INFO, logger="mmcbench"):
        assert main(train_args(method, tiny, out, *extra)) == 0
    no_logging_error(capsys)
    record = records.read(out)
    assert record["status"] == "diverged"
    assert "NaN/inf in epoch" in record["error"]
    [line] = [r.getMessage() for r in caplog.records if r.name == "mmcbench"]
    assert line.startswith(f"diverged: {method} {method} on tiny") and "NaN/inf" in line


def test_non_finite_soft_assignments_end_the_run_as_diverged(tmp_path, tiny):
    """A loss still finite while the evaluation's assignments are NaN: scored, they would read
    as ACC 33.3 (argmax of NaN rows), so the run diverges at that epoch and writes no row."""
    out = tmp_path / "run.json"
    hparams = json.dumps({"lr": 1e10, "grad_clip": None})
    assert main(train_args("GIB", tiny, out, "--epochs", "3", "--hparams", hparams)) == 0
    record = records.read(out)
    assert record["status"] == "diverged" and "soft assignments" in record["error"]
    history = np.genfromtxt(records.side_files(out)[0], delimiter=",", names=True)
    assert np.atleast_1d(history["epoch"]).tolist() == [0.0]  # the epoch that diverged: no row
    assert record["diagnostics"]["epochs_run"] == 0


# ------------------------------------------------------------------ a method that raises

RAISING_TRAINER = """
import torch
from torch import nn

from mmcbench.training.batches import batch_plan
from mmcbench.training.trainers import Trainer


class BadTrainer(Trainer):
    def __init__(self, data, variant, seed, config, device):
        super().__init__(data, variant, seed, config, device)
        self.model = nn.Linear(data.view_dims[0], data.n_clusters)

    def batches(self, epoch, generator):
        return batch_plan(self.n_samples, self.config.batch_size, 2, generator)

    def step(self, idx):
        raise RuntimeError("a bug in the step")

    def predict(self, views):
        logits = self.model(views[0])
        return torch.softmax(logits, 1), logits
"""


def method_folder(root: Path, trainer: str, name: str = "Bad") -> Path:
    """A method folder `<root>/<name lower>/` (README "Add a method") with `trainer` as its
    trainer.py, its class named `<name>Trainer`."""
    folder = root / name.lower()
    folder.mkdir(parents=True)
    (folder / "__init__.py").write_text(
        "from mmcbench.methods import DeepMethod\n\n"
        f'METHOD = DeepMethod(name="{name}", section="{name.lower()}", config="{name}Config", '
        f'trainer="{name}Trainer")\n'
    )
    (folder / "config.py").write_text(
        textwrap.dedent(
            f"""
            from dataclasses import dataclass

            from mmcbench.core.settings import Epochs, TrainingSettings

            VARIANTS = {{"{name}": None}}


            @dataclass(frozen=True)
            class {name}Config(Epochs, TrainingSettings):
                pass
            """
        )
    )
    (folder / "trainer.py").write_text(trainer.replace("BadTrainer", f"{name}Trainer"))
    return root


def test_a_method_whose_step_raises_ends_with_an_error_record(tmp_path, tiny):
    """README: a run that fails inside a method is recorded with status error (the record keeps
    the traceback), not a traceback on the terminal and no record."""
    import subprocess
    import sys

    folder = method_folder(tmp_path / "methods", RAISING_TRAINER)
    out = tmp_path / "bad.json"
    result = subprocess.run(
        [sys.executable, "-m", "mmcbench", *train_args("Bad", tiny, out, "--epochs", "2")],
        env=toy_env_for(folder),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    record = records.read(out)
    assert record["status"] == "error" and record["metrics"]["ACC"] is None
    assert record["error"].startswith("epoch 1: RuntimeError: a bug in the step")
    assert "trainer.py" in record["error"]  # where in the method it was raised
    assert "error: Bad Bad on tiny" in result.stderr


# ------------------------------------------------------------------ refused before training


def test_comvc_on_a_one_view_dataset_is_refused_before_training(tmp_path, one_view, capsys):
    out = tmp_path / "run.json"
    assert main(train_args("CoMVC", one_view, out, "--epochs", "1")) == 2
    err = capsys.readouterr().err
    assert "CoMVC needs at least 2 views" in err and "one has 1" in err
    assert "Traceback" not in err and not out.exists()


def test_a_trainer_refusing_its_setting_is_one_paragraph(tmp_path, tiny, capsys):
    out = tmp_path / "run.json"
    args = train_args("CoMVC", tiny, out, "--epochs", "1", "--set", "negative_samples_ratio=0.001")
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "draws no negative" in err and "Traceback" not in err and not out.exists()


def test_a_config_planning_a_view_pair_method_on_one_view_is_refused():
    from mmcbench.planning.catalogue import views_problem

    assert views_problem("MFLVC", 1, "x") == (
        "MFLVC needs at least 2 views (its contrastive loss pairs views) and x has 1"
    )
    assert views_problem("SiMVC", 1, "x") is None


def test_scaling_a_method_does_not_take_is_said(tmp_path, tiny, caplog):
    out = tmp_path / "run.json"
    extra = ["--epochs", "1", "--scaling", "minmax", "--hparams", json.dumps(SIMVC_TINY)]
    with caplog.at_level(logging.WARNING, logger="mmcbench"):
        assert main(train_args("SiMVC", tiny, out, *extra)) == 0
    assert records.read(out)["params"]["scaling"] == "none"
    assert any("--scaling minmax does not apply to SiMVC" in r.getMessage() for r in caplog.records)
