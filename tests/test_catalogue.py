"""The method catalogue is the one source of methods and variants, and a new deep method is one
new folder: shown by a toy method written here into a folder outside the package (named by
MMCBENCH_METHODS), trained through the command line, aggregated and planned by the workflow
with nothing else edited."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from sklearn.datasets import make_blobs

from mmcbench import methods
from mmcbench.cli import main
from mmcbench.planning import catalogue, config
from tests.conftest import REPO, write_dataset

# ------------------------------------------------------------ the toy method's folder, toy/

TOY_FILES = {
    "__init__.py": '''
        """Toy: one linear map per view, fused by softmax weights (tests/test_catalogue.py)."""

        from mmcbench.methods import DeepMethod

        METHOD = DeepMethod(name="Toy", section="toy", config="ToyConfig", trainer="ToyTrainer")
        ''',
    "config.py": '''
        """The toy method's settings (torch-free): the shared keys, plus one of its own."""

        from dataclasses import dataclass

        from mmcbench.core.settings import Epochs, TrainingSettings, setting

        VARIANTS = {"Toy": None}


        @dataclass(frozen=True)  # its config section (toy:) is generated from these fields
        class ToyConfig(Epochs, TrainingSettings):
            temperature: float = setting(1.0, "softmax temperature", exclusiveMinimum=0)
        ''',
    "trainer.py": '''
        """The toy method's trainer (mmcbench.training.trainers.Trainer holds the whole contract):
        maximise the batch's cluster balance and each sample's confidence."""

        import torch
        from torch import nn

        from mmcbench.training.batches import batch_plan
        from mmcbench.training.trainers import StepOutcome, Trainer


        class ToyModel(nn.Module):
            def __init__(self, dims, k):
                super().__init__()
                self.heads = nn.ModuleList(nn.Linear(d, k) for d in dims)
                self.fusion = nn.Parameter(torch.zeros(len(dims)))  # softmax → view weights

            def forward(self, views):
                logits = torch.stack([h(v) for h, v in zip(self.heads, views, strict=True)])
                return (torch.softmax(self.fusion, 0)[:, None, None] * logits).sum(0)


        class ToyTrainer(Trainer):
            def __init__(self, data, variant, seed, config, device):
                super().__init__(data, variant, seed, config, device)  # self.views, .config, …
                self.model = ToyModel(data.view_dims, data.n_clusters).to(device)

            def batches(self, epoch, generator):
                return batch_plan(self.n_samples, self.config.batch_size, 2, generator)

            def step(self, idx):
                logits = self.model([v[idx] for v in self.views])
                p = torch.softmax(logits / self.config.temperature, 1)
                confidence = -(p * p.clamp_min(1e-9).log()).sum(1).mean()
                balance = (p.mean(0) * p.mean(0).clamp_min(1e-9).log()).sum()
                return StepOutcome({"total": confidence + balance})

            def predict(self, views):
                logits = self.model(views)
                return torch.softmax(logits, 1), logits

            def fusion_weights(self):  # optional: the history's w_<view> columns
                return torch.softmax(self.model.fusion, 0)
        ''',
}


@pytest.fixture(scope="module")
def toy_methods(tmp_path_factory) -> Path:
    """A folder of method folders holding only toy/ (what MMCBENCH_METHODS names)."""
    folder = tmp_path_factory.mktemp("methods")
    (folder / "toy").mkdir()
    for name, text in TOY_FILES.items():
        (folder / "toy" / name).write_text(textwrap.dedent(text).lstrip())
    return folder


def toy_env_for(folder: Path) -> dict[str, str]:
    """The environment of a subprocess that sees the method folders in `folder` (this process
    does not)."""
    env = dict(os.environ, OMP_NUM_THREADS="1")
    env[methods.EXTRA_FOLDERS_VARIABLE] = str(folder)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")])
    return env


@pytest.fixture
def toy_env(toy_methods) -> dict[str, str]:
    """The environment of a subprocess that sees the toy method (this process does not)."""
    return toy_env_for(toy_methods)


def run(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=300
    )


@pytest.fixture
def blobs(tmp_path) -> Path:
    x, y = make_blobs(n_samples=90, centers=3, n_features=4, random_state=0)
    return write_dataset(tmp_path / "blobs.h5", "blobs", [x[:, :2], x[:, 2:]], y)


# ----------------------------------------------------------------------------------- tests


def test_a_new_method_folder_trains_and_aggregates_from_the_command_line(tmp_path, toy_env, blobs):
    assert "Toy" not in catalogue.CATALOGUE  # the package itself knows nothing of it
    hparams = json.dumps({"epochs": 3, "batch_size": 30, "lr": 0.01, "temperature": 0.5})
    runs = tmp_path / "runs"
    for seed in (0, 1):
        out = runs / "Toy/blobs/Toy/default" / f"seed{seed}.json"
        args = ["mmcbench", "train", "--method", "Toy", "--variant", "Toy", "--data", str(blobs)]
        args += ["--seed", str(seed), "--hparams", hparams, "--threads", "1", "--out", str(out)]
        result = run(args, toy_env, tmp_path)
        assert result.returncode == 0, result.stderr[-3000:]
    record = json.loads((runs / "Toy/blobs/Toy/default/seed0.json").read_text())
    assert (record["method"], record["params"]["temperature"]) == ("Toy", 0.5)
    assert record["status"] == "done" and record["data"]["file"] == str(blobs)
    history = pd.read_csv(runs / "Toy/blobs/Toy/default/seed0.history.csv")
    assert list(history["epoch"]) == [0, 1, 2, 3] and history["total"].notna().sum() == 3
    weights = history.filter(like="w_")  # its optional fusion_weights(), one column per view
    assert weights.shape[1] == 2 and np.allclose(weights.sum(axis=1), 1)
    summary_csv = tmp_path / "summary.csv"
    args = ["mmcbench", "aggregate", "--runs-dir", str(runs)]
    args += ["--runs-csv", str(tmp_path / "runs.csv"), "--summary-csv", str(summary_csv)]
    result = run(args, toy_env, tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    summary = pd.read_csv(summary_csv)
    acc = summary[(summary["method"] == "Toy") & (summary["metric"] == "ACC")]
    acc = acc.set_index("protocol")
    assert list(acc.index) == ["final", "paper", "label_free"] and acc.loc["final", "n"] == 2
    assert acc.loc["paper", "rule"] == "final"  # a folder that names no paper protocol
    # no eval_step: no eval-mode losses, so no label-free value, and the reason says why
    assert acc.loc["label_free", "n"] == 0
    assert "eval_total" in acc.loc["label_free", "protocol_note"]


@pytest.mark.workflow
def test_the_workflow_plans_the_runs_of_a_new_method_folder(tmp_path, toy_env):
    plan = {
        "datasets": ["mfeat"],
        "seeds": 2,
        "baselines": {"methods": []},
        "gib": {"variants": []},
        "clib": {"variants": []},
        "resolution": {"seeds": 0},
        "data": {"offline": True},
        # embeddings_at: the generated default [0, 5, 100] is beyond 2 epochs (refused)
        "toy": {"variants": ["Toy"], "epochs": 2, "embeddings_at": [0, 2]},
    }
    configfile = tmp_path / "config.yaml"
    configfile.write_text(yaml.safe_dump(plan))
    args = ["snakemake", "-s", str(REPO / "Snakefile"), "--directory", str(tmp_path / "work")]
    args += ["--cores", "1", "-n", "--configfile", str(configfile)]
    result = run(args, toy_env, tmp_path)
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    for seed in (0, 1):
        assert f"results/runs/Toy/mfeat/Toy/default/seed{seed}.json" in result.stdout, seed
    assert "results/runs/GIB/" not in result.stdout
    assert not (tmp_path / "work" / "results").exists()


def test_a_wrong_hyper_parameter_of_a_method_folder_is_refused(
    tmp_path, toy_methods, blobs, monkeypatch
):
    """In this process: the toy method added to the catalogue as discover() finds it, its
    section generated from its settings class into the config schema; a wrong key or value
    exits with status 2."""
    monkeypatch.setenv(methods.EXTRA_FOLDERS_VARIABLE, str(toy_methods))
    monkeypatch.setattr(methods, "__path__", list(methods.__path__))  # discover() extends it
    package, entry = methods.discover().methods["Toy"]
    monkeypatch.setitem(catalogue.CATALOGUE, "Toy", catalogue._deep_method(package, entry))
    config.config_schema.cache_clear()
    try:
        assert config.config_schema()["properties"]["toy"]["properties"]["temperature"]
        args = ["train", "--method", "Toy", "--variant", "Toy", "--data", str(blobs)]
        args += ["--seed", "0", "--out", str(tmp_path / "x.json"), "--hparams"]
        assert main([*args, json.dumps({"epochs": 1, "temperature_typo": 1.0})]) == 2
        assert main([*args, json.dumps({"epochs": 1, "temperature": -1.0})]) == 2
        assert not (tmp_path / "x.json").exists()
    finally:
        config.config_schema.cache_clear()
        for name in [m for m in sys.modules if m == package or m.startswith(package + ".")]:
            del sys.modules[name]
        if hasattr(methods, "toy"):
            delattr(methods, "toy")


def test_schema_enums_are_the_catalogues(schema):
    properties = schema["properties"]
    assert properties["baselines"]["properties"]["methods"]["items"]["enum"] == (
        catalogue.baseline_methods()
    )
    study = properties["resolution"]["properties"]["variants"]["properties"]
    assert set(study) == set(catalogue.deep_methods())
    for method, section in catalogue.sections().items():
        enum = properties[section]["properties"]["variants"]["items"]["enum"]
        assert set(enum) == set(catalogue.variants(method)), method
        assert set(study[method]["items"]["enum"]) == set(catalogue.variants(method)), method


def test_the_catalogue_loads_without_torch():
    code = (
        "import sys, mmcbench.planning.catalogue, mmcbench.planning.config; "
        "print('torch' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "False", result.stderr


def test_unknown_method_is_a_clear_error():
    with pytest.raises(Exception, match="unknown method 'NoSuch'; known methods: KM"):
        catalogue.get("NoSuch")
    assert np.array_equal(catalogue.single_view_methods(), ["KM", "Ncuts"])


@pytest.fixture
def schema(repo):
    """The composed config schema: workflow/schemas/config.schema.yaml with every method's
    section (generated from its settings class)."""
    return config.load_schema(repo / "workflow/schemas/config.schema.yaml")
