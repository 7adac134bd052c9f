"""The method catalogue is the one source of methods and variants, and a new deep method needs
nothing but its own files and one catalogue entry: shown by a toy method defined here (not
shipped), trained through the command line, recorded and aggregated with nothing else edited."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.datasets import make_blobs
from torch import nn

from benchmark import catalogue, records
from benchmark.aggregate import aggregate
from benchmark.cli import main
from benchmark.models.settings import DeepConfig
from benchmark.trainers import StepOutcome
from tests.conftest import write_dataset

# ----------------------------------------------------------------- the toy method's own files


@dataclasses.dataclass(frozen=True)
class ToyConfig(DeepConfig):
    """The toy method's hyper-parameters: DeepConfig's, plus one of its own."""

    temperature: float = 1.0


class Fusion(nn.Module):
    def __init__(self, n_views: int) -> None:
        super().__init__()
        self.logits = nn.Parameter(torch.zeros(n_views))

    @property
    def weights(self) -> torch.Tensor:
        return torch.softmax(self.logits, 0)


class ToyModel(nn.Module):
    """One linear map per view to k logits, fused by softmax weights."""

    def __init__(self, dims: list[int], k: int) -> None:
        super().__init__()
        self.heads = nn.ModuleList(nn.Linear(d, k) for d in dims)
        self.fusion = Fusion(len(dims))

    def forward(self, views: list[torch.Tensor]) -> torch.Tensor:
        logits = torch.stack([h(v) for h, v in zip(self.heads, views, strict=True)])
        return (self.fusion.weights[:, None, None] * logits).sum(0)


class ToyTrainer:
    """benchmark.trainers.Trainer for the toy method: maximise the batch's cluster balance and
    each sample's confidence (a minimal clustering loss)."""

    times_balls = False

    def __init__(self, data, views, variant, seed, config: ToyConfig, device) -> None:
        self.views, self.config = views, config
        self.model = ToyModel([v.shape[1] for v in views], data.n_clusters).to(device)

    def before_epoch(self, epoch: int) -> None:
        pass

    def step(self, idx: torch.Tensor) -> StepOutcome:
        p = torch.softmax(self.model([v[idx] for v in self.views]) / self.config.temperature, 1)
        confidence = -(p * p.clamp_min(1e-9).log()).sum(1).mean()
        balance = (p.mean(0) * p.mean(0).clamp_min(1e-9).log()).sum()
        return StepOutcome({"total": confidence + balance})

    def after_epoch(self) -> dict[str, float]:
        return {}

    def predict(self, views: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        logits = self.model(views)
        return torch.softmax(logits, 1), logits

    def params(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self.config), "encoder_hidden": []}

    def diagnostics(self, history: pd.DataFrame) -> dict[str, Any]:
        return {}


TOY = catalogue.Method(
    "Toy",
    "deep",
    section="toy",
    variants={"Toy": None},
    config=f"{__name__}:ToyConfig",
    trainer=f"{__name__}:ToyTrainer",
)

# ----------------------------------------------------------------------------------- tests


def test_a_new_deep_method_is_its_files_and_one_catalogue_entry(tmp_path, monkeypatch):
    monkeypatch.setitem(catalogue.CATALOGUE, "Toy", TOY)
    x, y = make_blobs(n_samples=90, centers=3, n_features=4, random_state=0)
    data = write_dataset(tmp_path / "blobs.h5", "blobs", [x[:, :2], x[:, 2:]], y)
    hparams = json.dumps({"epochs": 3, "batch_size": 30, "lr": 0.01, "temperature": 0.5})
    paths = []
    for seed in (0, 1):
        out = tmp_path / "runs" / f"seed{seed}.json"
        args = ["train", "--method", "Toy", "--variant", "Toy", "--data", str(data)]
        assert main([*args, "--seed", str(seed), "--hparams", hparams, "--out", str(out)]) == 0
        paths.append(out)
    record = records.read(paths[0])
    assert (record["method"], record["params"]["temperature"]) == ("Toy", 0.5)
    assert record["status"] == "done" and record["data"]["file"] == str(data)
    history = pd.read_csv(tmp_path / "runs" / "seed0.history.csv")
    assert list(history["epoch"]) == [0, 1, 2, 3] and history["total"].notna().sum() == 3
    summary = aggregate(paths, tmp_path / "runs.csv", tmp_path / "summary.csv")
    acc = summary[(summary["method"] == "Toy") & (summary["metric"] == "ACC")]
    assert len(acc) == 1 and acc["n"].iloc[0] == 2
    # Its own hyper-parameter is checked by its config class; a wrong one is refused.
    bad = json.dumps({"epochs": 1, "temperature_typo": 1.0})
    assert main([*args, "--seed", "0", "--hparams", bad, "--out", str(tmp_path / "x.json")]) == 2


def test_schema_enums_are_the_catalogues(schema):
    properties = schema["properties"]
    assert properties["baselines"]["properties"]["methods"]["items"]["enum"] == (
        catalogue.baseline_methods()
    )
    study = properties["resolution"]["properties"]["variants"]["properties"]
    for method, section in catalogue.sections().items():
        enum = properties[section]["properties"]["variants"]["items"]["enum"]
        assert set(enum) == set(catalogue.variants(method)), method
        assert set(study[method]["items"]["enum"]) == set(catalogue.variants(method)), method


def test_the_catalogue_loads_without_torch():
    code = "import sys, benchmark.catalogue, benchmark.config; print('torch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "False", result.stderr


def test_unknown_method_is_a_clear_error():
    with pytest.raises(Exception, match="unknown method 'NoSuch'; known methods: KM"):
        catalogue.get("NoSuch")
    assert np.array_equal(catalogue.single_view_methods(), ["KM", "Ncuts"])


@pytest.fixture
def schema(repo):
    from benchmark.config import load_schema

    return load_schema(repo / "workflow/schemas/config.schema.yaml")
