"""The resolution study: planning (mmcbench.planning.study), `mmcbench train --set`, the study
CSV, table and figure (mmcbench.summaries.resolutions), and the config checks of the
`resolution` section."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import yaml
from sklearn.datasets import make_blobs

from mmcbench.cli import main
from mmcbench.core.errors import ConfigError
from mmcbench.planning.config import check_config, load_schema
from mmcbench.planning.study import (
    DEFAULT,
    format_value,
    parse_assignment,
    parse_value,
    point_dir,
    study_points,
)
from mmcbench.runs import records
from mmcbench.summaries.resolutions import read_study, render_study, study_table
from tests.conftest import fake_data, tiny_settings, write_dataset

# ------------------------------------------------------------------ planning


@pytest.mark.parametrize(
    "value,text",
    [
        ("exp_logvar", "exp_logvar"),
        (None, "null"),
        (False, "false"),
        (True, "true"),
        (0.001, "0.001"),
        (1e-5, "0.00001"),  # positional: the rules' wildcards match it
        (5.0, "5"),
        (100, "100"),
    ],
)
def test_values_spell_in_paths_and_parse_back(value, text):
    assert format_value(value) == text
    parsed = parse_value(text)
    assert parsed == value and type(parsed) in (type(value), int if value == 5.0 else type(value))
    assert point_dir("grad_clip", value) == f"grad_clip={text}"


def test_assignments_need_a_key_and_a_value():
    assert parse_assignment("kl_reduction=sum") == ("kl_reduction", "sum")
    assert parse_assignment("grad_clip=null") == ("grad_clip", None)
    for bad in ("kl_reduction", "=sum", "kl_reduction="):
        with pytest.raises(ValueError, match="KEY=VALUE"):
            parse_assignment(bad)


GIB_SECTION = {"kl_reduction": "mean", "ddc_input": "balls", "grad_clip": 5.0, "lr": 1e-4}
CLIB_SECTION = {"kl_reduction": "mean", "grad_clip": 5.0, "lr": 1e-4}


def test_plan_has_one_default_point_and_each_other_value_of_each_key_its_method_has():
    points = study_points(
        {"GIB": ["GIB", "DDC"], "CLIB": ["CLIB"]},
        {"kl_reduction": ["mean", "sum"], "ddc_input": ["samples"], "grad_clip": [5, None]},
        {"GIB": GIB_SECTION, "CLIB": CLIB_SECTION},
    )
    table = {(p.method, p.variant, p.key, p.value_text): p for p in points}
    assert [p.key for p in points if p.method == "GIB" and p.variant == "GIB"] == [
        DEFAULT,
        "kl_reduction",
        "ddc_input",
        "grad_clip",
    ]
    # mean and 5 (= 5.0) are the configured values: the default point, no run of their own.
    assert ("GIB", "GIB", "kl_reduction", "mean") not in table
    assert ("GIB", "GIB", "grad_clip", "5") not in table
    assert table[("GIB", "GIB", "grad_clip", "null")].path_part == "grad_clip=null"
    # CLIB has no ddc_input: skipped for it; GIB's DDC has no L_Samples: inert, not trained.
    assert not any(p.method == "CLIB" and p.key == "ddc_input" for p in points)
    inert = table[("GIB", "DDC", "kl_reduction", "sum")]
    assert not inert.trained and "no L_Samples" in inert.inert
    assert table[("CLIB", "CLIB", "kl_reduction", "sum")].trained
    assert table[("GIB", "GIB", DEFAULT, "")].path_part is None


def test_true_is_not_one_and_false_is_not_zero():
    points = study_points(
        {"GIB": ["GIB"]}, {"variational": [True, False, 1]}, {"GIB": {"variational": True}}
    )
    assert [p.value for p in points if p.key == "variational"] == [False, 1]


# ------------------------------------------------------------------ --set


@pytest.fixture(scope="module")
def tiny_file(tmp_path_factory):
    x, y = make_blobs(n_samples=120, centers=3, n_features=6, cluster_std=0.5, random_state=0)
    return write_dataset(
        tmp_path_factory.mktemp("data") / "tiny.h5", "tiny", [x[:, :3], x[:, 3:]], y
    )


TINY = tiny_settings("GIB", batch_size=60, epochs=1)


def train(tiny_file, out, *extra):
    args = ["train", "--method", "GIB", "--variant", "GIB", "--data", str(tiny_file)]
    args += ["--seed", "0", "--hparams", json.dumps(TINY), "--embeddings-at", "--device", "cpu"]
    return main([*args, "--out", str(out), *extra])


def test_set_changes_one_hyper_parameter_and_records_it(tmp_path, tiny_file):
    assert train(tiny_file, tmp_path / "a.json", "--set", "grad_clip=null") == 0
    record = records.read(tmp_path / "a.json")
    assert record["overrides"] == {"grad_clip": None} and record["params"]["grad_clip"] is None
    assert train(tiny_file, tmp_path / "b.json") == 0
    record = records.read(tmp_path / "b.json")
    assert record["overrides"] == {} and record["params"]["grad_clip"] == 5.0
    assert record["health"]["n_clusters"] == 3 and record["health"]["collapsed"] in (True, False)


@pytest.mark.parametrize(
    "assignment,fragment",
    [
        ("kl_reduction=max", "kl_reduction = 'max' (from --set): 'max' is not one of"),
        ("sigma=5", "'sigma' is not a hyper-parameter"),
        ("alpha=0.3", "use --alpha for alpha"),
        ("grad_clip=-1", "grad_clip = -1 (from --set): -1 is less than or equal to the minimum"),
        ("ddc_input", "expected KEY=VALUE"),
    ],
)
def test_set_refuses_what_is_not_a_valid_hyper_parameter(
    tmp_path, tiny_file, capsys, assignment, fragment
):
    assert train(tiny_file, tmp_path / "r.json", "--set", assignment) == 2
    assert fragment in capsys.readouterr().err
    assert not (tmp_path / "r.json").exists()


# ------------------------------------------------------------------ study CSV, table, figure


def fake_record(tmp_path, variant, seed, acc, nmi, overrides=None, used=10):
    record = records.run_record(
        method="GIB",
        variant=variant,
        data=fake_data("toy", n_clusters=10),
        seed=seed,
        status="done",
        error=None,
        params={"alpha": 0.5, "beta": 0.5, **(overrides or {})},
        overrides=overrides,
        metrics={"ACC": acc, "NMI": nmi, "ARI": 1.0, "ECE": 5.0},
        labels=np.arange(used).repeat(2),  # `used` of the 10 clusters
        loss={"name": "total", "value": 1.0},
        diagnostics={},
        started="t",
        wall_s=1.0,
        device="cpu",
        scaling="minmax",
    )
    name = "_".join(f"{k}={v}" for k, v in (overrides or {}).items()) or "default"
    path = tmp_path / f"{variant}_{name}_{seed}.json"
    records.write(path, record)
    return path


@pytest.fixture
def study_records(tmp_path):
    return [
        fake_record(tmp_path, "GIB", 0, 60.0, 50.0),
        fake_record(tmp_path, "GIB", 1, 70.0, 60.0),
        fake_record(tmp_path, "GIB", 0, 10.0, 0.0, {"kl_reduction": "sum"}, used=1),
        fake_record(tmp_path, "GIB", 1, 12.0, 1.0, {"kl_reduction": "sum"}, used=2),
        fake_record(tmp_path, "GIB", 0, 66.0, 55.0, {"grad_clip": None}),
        fake_record(tmp_path, "DDC", 0, 50.0, 40.0),
        fake_record(tmp_path, "DDC", 1, 54.0, 44.0),
    ]


PLAN = [
    {"method": "GIB", "variant": "GIB", "key": DEFAULT, "value": "", "inert": None},
    {"method": "GIB", "variant": "GIB", "key": "kl_reduction", "value": "sum", "inert": None},
    {"method": "GIB", "variant": "GIB", "key": "grad_clip", "value": "null", "inert": None},
    {"method": "GIB", "variant": "GIB", "key": "lr", "value": "0.001", "inert": None},
    {"method": "GIB", "variant": "DDC", "key": DEFAULT, "value": "", "inert": None},
    {"method": "GIB", "variant": "DDC", "key": "kl_reduction", "value": "sum", "inert": "no L"},
]


def test_study_table_gives_delta_against_the_default_on_its_seeds(study_records):
    table = study_table(study_records, PLAN, ["toy"]).set_index(["variant", "key", "metric"])
    default = table.loc[("GIB", DEFAULT, "ACC")]
    assert default["mean"] == 65.0 and default["n"] == 2 and default["status"] == DEFAULT
    changed = table.loc[("GIB", "kl_reduction", "ACC")]
    assert changed["mean"] == 11.0 and changed["delta"] == pytest.approx(-54.0)
    assert changed["n_collapsed"] == 2 and changed["clusters_used_mean"] == 1.5
    assert changed["status"] == "changed" and changed["value"] == "sum"
    assert table.loc[("GIB", "grad_clip", "ACC")]["delta"] == pytest.approx(1.0)  # one seed
    assert table.loc[("GIB", "lr", "ACC")]["status"] == "missing"
    inert = table.loc[("DDC", "kl_reduction", "ACC")]
    assert inert["status"] == "inert" and inert["note"] == "no L" and inert["n"] == 0


def test_study_table_without_a_plan_reads_the_points_from_the_records(study_records):
    table = study_table(study_records)
    assert set(zip(table["variant"], table["key"], table["value"], strict=True)) == {
        ("GIB", DEFAULT, ""),
        ("GIB", "kl_reduction", "sum"),
        ("GIB", "grad_clip", "null"),
        ("DDC", DEFAULT, ""),
    }


def test_study_table_and_figure_render_from_the_csv(tmp_path, study_records):
    from mmcbench.report.figures.resolutions import figure_rows, resolutions_figure

    csv = tmp_path / "resolutions.csv"
    study_table(study_records, PLAN, ["toy"]).to_csv(csv, index=False)
    study = read_study(csv)
    assert "null" in set(study["value"])  # read back as text, not as a missing value
    render_study(study, tmp_path / "tables" / "resolutions")
    md = (tmp_path / "tables" / "resolutions.md").read_text()
    assert "| GIB | GIB | toy | kl_reduction | sum | 11.0 ± 1.4 |" in md
    assert "**-54.0**" in md and "| 2/2 |" in md  # |Δ| > 2 in bold; both runs collapsed
    assert "| grad_clip | null |" in md and "not trained: no L" in md and "no record" in md
    assert r"\begin{tabular}" in (tmp_path / "tables" / "resolutions.tex").read_text()
    labels, datasets, deltas, texts, defaults = figure_rows(study[study["metric"] == "ACC"])
    assert labels[defaults[0]] == "GIB GIB: default" and datasets == ["toy"]
    row = labels.index("kl_reduction = sum")
    assert deltas[row, 0] == pytest.approx(-54.0) and "2/2 coll." in texts[row][0]
    assert np.isnan(deltas[labels.index("lr = 0.001"), 0])
    fig = resolutions_figure(study)
    assert len(fig.axes) == 2  # the heatmap and its colour bar


def test_render_and_plot_name_a_bad_study_file(tmp_path, capsys):
    bad = tmp_path / "resolutions.csv"
    bad.write_text("method,variant\nGIB,GIB\n")
    out = str(tmp_path / "t")
    assert main(["render", "resolutions", "--summary", str(bad), "--out-prefix", out]) == 2
    assert "resolutions.csv: not a resolution study CSV" in capsys.readouterr().err
    assert main(["plot", "resolutions", "--resolutions", str(bad), "--out-prefix", out]) == 2
    assert not (tmp_path / "t.png").exists()


# ------------------------------------------------------------------ config


@pytest.fixture(scope="module")
def schema(repo):
    return load_schema(repo / "workflow/schemas/config.schema.yaml")


def config_with(**study):
    return {"datasets": ["mfeat"], "resolution": {"seeds": 1, **study}}


@pytest.mark.parametrize(
    "study,fragment",
    [
        ({"keys": {"kl_reduction": ["max"]}}, "value 'max' is not a valid gib.kl_reduction"),
        ({"keys": {"grad_clip": [0]}}, "value 0 is not a valid gib.grad_clip"),
        ({"keys": {"alpha": [0.1]}}, "alpha cannot be studied"),
        ({"keys": {"epochs": [10]}}, "epochs cannot be studied"),
        ({"keys": {"encoder_hidden": [[64]]}}, "'resolution.keys.encoder_hidden.0'"),
        ({"keys": {"encoder_hidden": [64]}}, "gib.encoder_hidden is not a scalar setting"),
        ({"keys": {"theta": [0.5]}}, "no studied method (GIB, CLIB) has a key 'theta'"),
        (
            {"variants": {"CLIB": ["CLIB"]}, "keys": {"ddc_input": ["samples"]}},
            "no studied method (CLIB) has a key 'ddc_input'",
        ),
        ({"variants": {"GIB": ["Nope"]}}, "key 'resolution.variants.GIB.0'"),
        ({"keys": {"lr": []}}, "key 'resolution.keys.lr'"),
    ],
)
def test_bad_study_settings_are_one_clear_error(schema, study, fragment):
    with pytest.raises(ConfigError) as error:
        check_config(config_with(**study), schema, ["study.yaml"])
    assert fragment in str(error.value) and "study.yaml" in str(error.value)


def test_the_default_study_and_the_shipped_studies_are_valid(schema, repo):
    check_config(config_with(), schema, ["x"])
    for name in ("config.yaml", "demo.yaml", "smoke.yaml", "extended.yaml"):
        config = yaml.safe_load((repo / "config" / name).read_text())
        assert config["resolution"]["seeds"] >= 1, name
        check_config(config, schema, [name])
    default_keys = schema["properties"]["resolution"]["properties"]["keys"]["default"]
    revised = {"sigma_param", "kl_reduction", "feature_mi_input", "ddc_input", "eval_input"}
    assert revised | {"init", "grad_clip", "ddc2", "variational", "lr", "batch_size"} <= set(
        default_keys
    )


def test_first_reading_values_are_among_the_default_study_values(schema, repo):
    """The study measures both readings of every revised key (GIB's `balls.implementation`,
    how the code computes the balls, is not a reading: the first reading sets it to replay the
    code before bit for bit)."""
    default_keys = schema["properties"]["resolution"]["properties"]["keys"]["default"]
    first = yaml.safe_load((repo / "config/resolutions/first-reading.yaml").read_text())
    assert first["gib"].pop("balls") == {"implementation": "sequential"}
    for section in first.values():
        for key, value in section.items():
            assert value in default_keys[key], key
    assert isinstance(pd.DataFrame(), pd.DataFrame)
