"""The spec's first reading stays reachable: config/resolutions/first-reading.yaml reproduces
the code before the revision (commit e583575): run live on this machine when the clone has that
commit, and against the CSVs it wrote (tests/data/first_reading) in any case."""

from __future__ import annotations

import dataclasses
import io
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from mmcbench.methods.clib.model import CLIBConfig
from mmcbench.methods.gib.model import GIBConfig
from tests.first_reading_reference import DATA_DIR, FIRST_READING, REPO, RUNS, reference_histories

OLD_COMMIT = "e583575"  # the last commit before the revised keys
# Epochs compared with the stored CSVs. CLIB's runs after its warm-up epoch (k-means head
# initialisation, then screening by a confidence threshold) amplify float rounding that differs
# between CPUs: measured, the old code itself on another CPU gives ACC 90.4 where its CSV says
# 91.25 at epoch 3. The live comparison below checks every epoch on one machine.
STORED_EPOCHS = {"GIB": 4, "GIB_DDC": 4, "CLIB": 2}
# The stored CSVs were written on one CPU; float32 kernels round differently on another (their
# vector width): torch's CPU kernels forced to another instruction set (ATEN_CPU_CAPABILITY
# default / avx2) and MKL's compatible path moved these epochs by at most 4.8e-7 in absolute
# terms (a total loss of 6.2; 1.1e-7 on an MI term of 6e-4, which is rounding of the O(1)
# probabilities it is computed from). So the stored comparison allows 1e-6 absolute (and 1e-6
# relative), a CPU-independent statement about float32 training; the live comparison, on one
# machine, keeps 1e-7.
SAME_CPU_ATOL = 1e-7
ANY_CPU_ATOL = 1e-6


@pytest.fixture(scope="module")
def histories():
    return reference_histories()


@pytest.fixture(scope="module")
def old_code_folder(tmp_path_factory) -> Path:
    """CSVs written by the old code (git archive of OLD_COMMIT) on this machine, now."""
    has_commit = shutil.which("git") and (
        subprocess.run(
            ["git", "-C", str(REPO), "cat-file", "-e", f"{OLD_COMMIT}^{{commit}}"],
            capture_output=True,
        ).returncode
        == 0
    )
    if not has_commit:
        pytest.skip(f"commit {OLD_COMMIT} is not in this clone (shallow?): no live comparison")
    root = tmp_path_factory.mktemp("old_code")
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", OLD_COMMIT, "benchmark"],
        capture_output=True,
        check=True,
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(root, filter="data")
    (root / "tests").mkdir()
    (root / "tests" / "__init__.py").write_text("")
    shutil.copy(Path(__file__).with_name("first_reading_reference.py"), root / "tests")
    env = {**os.environ, "PYTHONPATH": str(root)}
    script = "import benchmark, sys; sys.exit(benchmark.__file__.startswith(sys.argv[1]) is False)"
    imports_old = subprocess.run([sys.executable, "-c", script, str(root)], cwd=root, env=env)
    assert imports_old.returncode == 0, "the old code's package does not shadow the installed one"
    subprocess.run(
        [sys.executable, "-m", "tests.first_reading_reference", str(root / "out")],
        cwd=root,
        env=env,
        check=True,
        capture_output=True,
    )
    return root / "out"


def assert_same_record(
    history,
    metrics,
    folder: Path,
    name: str,
    epochs: int | None = None,
    atol: float = SAME_CPU_ATOL,
):
    """history (its first `epochs` rows) and metrics equal the CSVs `name` in `folder`, to
    `atol` absolute and 1e-6 relative."""
    expected = pd.read_csv(folder / f"{name}.history.csv")
    assert list(expected.columns) == [c for c in history.columns if c in expected.columns]
    rows = slice(0, epochs)
    assert len(history) == len(expected)
    for column in expected.columns:
        np.testing.assert_allclose(
            history[column].to_numpy(float)[rows],
            expected[column].to_numpy(float)[rows],
            rtol=1e-6,
            atol=atol,
            err_msg=f"{name}: column {column}",
        )
    if epochs is None or epochs >= len(expected):
        expected_metrics = pd.read_csv(folder / f"{name}.metrics.csv", index_col=0)["value"]
        for metric, value in expected_metrics.items():
            assert metrics[metric] == pytest.approx(value, rel=1e-6), (name, metric)


@pytest.mark.parametrize("name", list(RUNS))
def test_first_reading_gives_the_record_of_the_old_code_on_this_machine(
    histories, old_code_folder, name
):
    history, metrics = histories[name]
    assert_same_record(history, metrics, old_code_folder, name)


@pytest.mark.parametrize("name", list(RUNS))
def test_first_reading_gives_the_stored_record_of_the_old_code(histories, name):
    history, metrics = histories[name]
    assert_same_record(history, metrics, DATA_DIR, name, STORED_EPOCHS[name], ANY_CPU_ATOL)


@pytest.mark.parametrize("capability", ["default", "avx2"])
def test_the_stored_comparison_holds_on_another_cpu(tmp_path, capability):
    """The stored records compared as another CPU computes them: torch's kernels forced to
    another instruction set (under avx2 the GIB run moved 1.07e-7 beyond the former 1e-7)."""
    env = {**os.environ, "ATEN_CPU_CAPABILITY": capability, "PYTHONPATH": str(REPO)}
    subprocess.run(
        [sys.executable, "-m", "tests.first_reading_reference", str(tmp_path)],
        cwd=REPO,
        env=env,
        check=True,
        capture_output=True,
    )
    for name in RUNS:
        history = pd.read_csv(tmp_path / f"{name}.history.csv")
        metrics = pd.read_csv(tmp_path / f"{name}.metrics.csv", index_col=0)["value"].to_dict()
        assert_same_record(history, metrics, DATA_DIR, name, STORED_EPOCHS[name], ANY_CPU_ATOL)


def test_the_revised_defaults_give_another_record():
    """The comparison can fail: without the first-reading keys GIB trains otherwise."""
    import torch

    from mmcbench.training.train import train
    from tests.first_reading_reference import toy_data

    method, variant, hparams = RUNS["GIB"]
    config = GIBConfig.from_dict(hparams)
    run = train(method, toy_data(), variant, 0, config, torch.device("cpu"), (0, 3))
    with pytest.raises(AssertionError):
        assert_same_record(run.history, run.record["metrics"], DATA_DIR, "GIB")


def test_first_reading_sets_every_revised_key_to_a_value_that_differs_from_the_default():
    """Every key of the file is a real key of its method, and each differs from the spec's
    default, but GIB's evaluation on samples, which the revision kept as the default."""
    reading = yaml.safe_load(FIRST_READING.read_text())
    assert set(reading) == {"gib", "clib"}
    for section, config_class in (("gib", GIBConfig), ("clib", CLIBConfig)):
        defaults = {f.name: f.default for f in dataclasses.fields(config_class)}
        for key, value in reading[section].items():
            assert key in defaults, f"{section}.{key} is not a hyper-parameter"
            if key != "eval_input":
                assert value != defaults[key], f"{section}.{key} equals the default"
        config_class.from_dict(reading[section])  # valid values
    revised = {"sigma_param", "kl_reduction", "feature_mi_input", "init", "grad_clip"}
    assert revised <= set(reading["clib"])
    assert revised | {"ddc_input", "eval_input"} <= set(reading["gib"])
    assert reading["gib"]["eval_input"] == GIBConfig().eval_input == "samples"
