"""The spec's first reading stays reachable: config/resolutions/first-reading.yaml reproduces
the code before the revision (tests/data/first_reading, written by commit e583575)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
import yaml

from benchmark.models.clib import CLIBConfig
from benchmark.models.gib import GIBConfig
from tests.first_reading_reference import DATA_DIR, FIRST_READING, RUNS, reference_histories


@pytest.fixture(scope="module")
def histories():
    return reference_histories()


@pytest.mark.parametrize("name", list(RUNS))
def test_first_reading_gives_the_record_of_the_code_before_the_revision(histories, name):
    history, metrics = histories[name]
    expected = pd.read_csv(DATA_DIR / f"{name}.history.csv")
    assert list(expected.columns) == [c for c in history.columns if c in expected.columns]
    for column in expected.columns:
        np.testing.assert_allclose(
            history[column].to_numpy(float),
            expected[column].to_numpy(float),
            rtol=1e-6,
            atol=1e-7,
            err_msg=f"{name}: column {column}",
        )
    expected_metrics = pd.read_csv(DATA_DIR / f"{name}.metrics.csv", index_col=0)["value"]
    for metric, value in expected_metrics.items():
        assert metrics[metric] == pytest.approx(value, rel=1e-6), (name, metric)


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
