"""Nothing a user already has is lost: outputs that are inputs or other runs' files are refused,
a run's files always belong to one run, finished runs are kept, bad records never replace good
summaries, and values that name runs are spelled exactly."""

from __future__ import annotations

import json
import math
import os
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st
from sklearn.datasets import make_blobs

from mmcbench.cli import main
from mmcbench.core.errors import ConfigError, RecordError
from mmcbench.planning import run_paths
from mmcbench.planning.config import check_devices, validated_config
from mmcbench.runs import records
from tests.conftest import REPO, tiny_settings, write_dataset

TINY = tiny_settings("GIB", batch_size=64)
SCHEMA = REPO / "workflow/schemas/config.schema.yaml"


@pytest.fixture(scope="module")
def tiny_file(tmp_path_factory):
    x, y = make_blobs(n_samples=120, centers=3, n_features=6, cluster_std=0.5, random_state=0)
    path = tmp_path_factory.mktemp("data") / "tiny.h5"
    return write_dataset(path, "tiny", [x[:, :3], x[:, 3:]], y)


def deep_args(command, data, outs, seeds=(0,), extra=()):
    seed_args = ["--seeds", *map(str, seeds)] if command == "train-pack" else ["--seed", "0"]
    return [
        command,
        *("--method", "GIB", "--variant", "GIB", "--data", str(data)),
        *seed_args,
        *("--hparams", json.dumps(TINY), "--embeddings-at", "0", "2", "--device", "cpu"),
        *extra,
        "--out",
        *map(str, outs),
    ]


# ------------------------------------------------------------------ outputs that are not outputs
def test_train_refuses_to_write_its_record_over_the_dataset(tmp_path, tiny_file, capsys):
    victim = tmp_path / "victim.h5"
    shutil.copy(tiny_file, victim)
    before = victim.read_bytes()
    assert main(deep_args("train", victim, [victim])) == 2
    assert "is a .json file" in capsys.readouterr().err
    victim_json = tmp_path / "victim.json"  # a .json out whose name is the dataset's
    assert main(deep_args("train", victim_json, [victim_json])) == 2
    assert "would overwrite the input dataset" in capsys.readouterr().err
    assert victim.read_bytes() == before


def test_train_refuses_another_runs_side_file_as_its_record(tmp_path, tiny_file, capsys):
    history = tmp_path / "t0.history.csv"
    history.write_text("epoch\n0\n")
    assert main(deep_args("train", tiny_file, [history])) == 2
    assert "a run record is a .json file" in capsys.readouterr().err
    assert history.read_text() == "epoch\n0\n"


def test_train_pack_compares_resolved_paths(tmp_path, tiny_file, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(deep_args("train-pack", tiny_file, ["out/p3.json", "./out/p3.json"], (0, 1))) == 2
    err = capsys.readouterr().err
    assert "name the same files" in err and "nothing was computed" in err
    assert not Path("out/p3.json").exists()


def test_baseline_refuses_to_write_over_its_dataset(tmp_path, tiny_file, capsys):
    victim = tmp_path / "v.h5"
    shutil.copy(tiny_file, victim)
    args = ["baseline", "--method", "AmKM", "--variant", "all", "--data", str(victim)]
    assert main([*args, "--seed", "0", "--out", str(victim)]) == 2
    assert victim.read_bytes() == Path(tiny_file).read_bytes()


# ------------------------------------------------------------------ one run's files together
def test_a_failed_write_leaves_no_old_record_beside_a_new_history(tmp_path, tiny_file):
    out = tmp_path / "run" / "seed0.json"
    assert main(deep_args("train", tiny_file, [out])) == 0
    old_history = (tmp_path / "run" / "seed0.history.csv").read_text()
    embeddings = tmp_path / "run" / "seed0.embeddings.npz"
    record = records.read(out)
    history = pd.read_csv(tmp_path / "run" / "seed0.history.csv")
    history["total"] = history["total"] + 1.0  # a new run's history
    embeddings.unlink()
    embeddings.mkdir()  # its embeddings cannot be written
    with pytest.raises(OSError):
        records.write_run(out, record, history, {"labels": np.zeros(3)})
    assert not out.exists(), "the old record must not stay beside the new history"
    assert (tmp_path / "run" / "seed0.history.csv").read_text() != old_history


def test_a_run_without_embeddings_removes_the_stale_file(tmp_path, tiny_file):
    out = tmp_path / "seed0.json"
    assert main(deep_args("train", tiny_file, [out])) == 0
    record = records.read(out)
    history = pd.read_csv(tmp_path / "seed0.history.csv")
    records.write_run(out, record, history, None)
    assert not (tmp_path / "seed0.embeddings.npz").exists()


# ------------------------------------------------------------------ finished runs are kept
def test_keep_finished_keeps_exactly_the_same_run_and_retrains_a_changed_one(
    tmp_path, tiny_file, caplog
):
    caplog.set_level("INFO")
    out = tmp_path / "seed0.json"
    assert main(deep_args("train", tiny_file, [out], extra=["--keep-finished"])) == 0
    first = out.read_bytes()
    assert main(deep_args("train", tiny_file, [out], extra=["--keep-finished"])) == 0
    assert out.read_bytes() == first, "a finished run of the same setting was retrained"
    assert "kept" in caplog.text
    assert (
        main(deep_args("train", tiny_file, [out], extra=["--keep-finished", "--alpha", "0.25"]))
        == 0
    )
    assert records.read(out)["params"]["alpha"] == 0.25  # a changed setting is retrained
    assert "hyper-parameters differ (alpha)" in caplog.text


def test_keep_finished_retrains_when_the_data_changed_under_the_same_raw_files(
    tmp_path, tiny_file, caplog
):
    caplog.set_level("INFO")
    x, y = make_blobs(n_samples=120, centers=3, n_features=6, cluster_std=0.5, random_state=0)
    data = write_dataset(tmp_path / "tiny.h5", "tiny", [x[:, :3], x[:, 3:]], y)
    out = tmp_path / "seed0.json"
    assert main(deep_args("train", data, [out], extra=["--keep-finished"])) == 0
    first = records.read(out)
    write_dataset(data, "tiny", [x[:, :3][::-1], x[:, 3:]], y)  # same name and raw checksums
    assert main(deep_args("train", data, [out], extra=["--keep-finished"])) == 0
    assert "its data differ (content_sha256)" in caplog.text
    assert records.read(out)["data"]["content_sha256"] != first["data"]["content_sha256"]


def test_a_record_without_the_data_digest_is_kept_only_on_older_data(tmp_path, tiny_file):
    out = tmp_path / "seed0.json"
    assert main(deep_args("train", tiny_file, [out])) == 0
    record = json.loads(out.read_text())
    del record["data"]["content_sha256"]  # as written before the digest was recorded
    out.write_text(json.dumps(record))
    expected = {"method": "GIB", "content_sha256": "x"}
    assert records.unfinished_reason(out, expected) is None  # the data file is older
    written = out.stat().st_mtime
    os.utime(tiny_file, (written + 10, written + 10))  # the data file is now newer
    assert "data may have changed" in records.unfinished_reason(out, expected)
    os.utime(tiny_file, (written - 10, written - 10))


def test_train_pack_keeps_its_finished_runs_and_trains_the_others(tmp_path, tiny_file):
    outs = [tmp_path / f"seed{s}.json" for s in (2, 3)]
    assert main(deep_args("train-pack", tiny_file, outs[:1], (2,), ["--keep-finished"])) == 0
    kept = outs[0].read_bytes()
    assert main(deep_args("train-pack", tiny_file, outs, (2, 3), ["--keep-finished"])) == 0
    assert outs[0].read_bytes() == kept
    assert records.read(outs[1])["seed"] == 3
    assert records.read(outs[1])["time"]["pack_size"] == 1  # only seed 3 was trained


# ------------------------------------------------------------------ aggregate checks records
def fake_record(method="KM", dataset="mfeat", variant="view0", seed=0, **changes):
    record = {
        "schema_version": 2,
        "method": method,
        "variant": variant,
        "dataset": dataset,
        "seed": seed,
        "status": "done",
        "error": None,
        "params": {"scaling": "minmax"},
        "overrides": {},
        "metrics": {"ACC": 81.1, "NMI": 70.0, "ARI": 60.0, "ECE": None},
        "health": {"clusters_used": 10, "n_clusters": 10, "collapsed": False},
        "loss": {"name": "inertia", "value": 1.0},
        "diagnostics": {},
        "time": {"wall_s": 1.0, "started": "x", "finished": "y"},
        "environment": {"device": "cpu", "hostname": "h", "git_commit": None, "versions": {}},
        "data": {
            "file": "d.h5",
            "n_samples": 2000,
            "n_clusters": 10,
            "view_names": ["a"],
            "source_sha256": {},
        },
    }
    for key, value in changes.items():
        if key in ("ACC", "NMI", "ARI"):
            record["metrics"][key] = value
        else:
            record[key] = value
    return record


def put(root: Path, relative: str, record) -> Path:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    text = record if isinstance(record, str) else json.dumps(record)
    path.write_text(text)
    return path


def aggregate_cli(root, tmp_path, *extra):
    return main(
        [
            "aggregate",
            "--runs-dir",
            str(root),
            "--runs-csv",
            str(tmp_path / "runs.csv"),
            "--summary-csv",
            str(tmp_path / "summary.csv"),
            *extra,
        ]
    )


def test_a_stray_copy_beside_a_record_is_not_counted(tmp_path, caplog):
    root = tmp_path / "runs"
    put(root, "KM/mfeat/view0/seed0.json", fake_record())
    put(root, "KM/mfeat/view0/seed0-old.json", fake_record(ACC=10.0))
    assert aggregate_cli(root, tmp_path) == 0
    summary = pd.read_csv(tmp_path / "summary.csv")
    acc = summary[summary["metric"] == "ACC"].iloc[0]
    assert acc["n"] == 1 and acc["mean"] == pytest.approx(81.1)
    assert "seed0-old.json" in caplog.text and "not counted" in caplog.text


@pytest.mark.parametrize(
    ("record", "message"),
    [
        (fake_record(ACC=250.0), "250"),
        (fake_record(NMI=-40.0), "-40"),
        (json.dumps(fake_record()).replace('"ACC": 81.1', '"ACC": NaN'), "NaN"),
        (fake_record(ACC=None), "ACC"),
        (fake_record(seed=3), "seed 3"),
        (fake_record(method="AmKM"), "method 'AmKM'"),
        ('{"schema_version": 2, "method"', "cannot read"),
    ],
)
def test_aggregate_refuses_a_bad_record_naming_it(tmp_path, capsys, record, message):
    root = tmp_path / "runs"
    path = put(root, "KM/mfeat/view0/seed0.json", record)
    assert aggregate_cli(root, tmp_path) == 2
    err = capsys.readouterr().err
    assert str(path) in err and message in err and "Traceback" not in err
    assert not (tmp_path / "runs.csv").exists()


def test_a_schema_1_record_at_a_study_path_is_not_merged_into_the_default_cell(tmp_path, capsys):
    root = tmp_path / "runs"
    deep = fake_record("GIB", "mfeat", "GIB", params={"alpha": 0.5, "beta": 0.5})
    put(root, "GIB/mfeat/GIB/a0.5_b0.5/seed0.json", deep)
    old = {k: v for k, v in deep.items() if k not in ("health", "overrides")}
    old["schema_version"] = 1
    put(root, "GIB/mfeat/GIB/a0.5_b0.5/kl_reduction=sum/seed0.json", old)
    assert aggregate_cli(root, tmp_path) == 2
    assert "kl_reduction=sum/seed0.json" in capsys.readouterr().err


def test_aggregate_names_a_missing_folder_and_an_output_that_is_a_folder(tmp_path, capsys):
    assert aggregate_cli(tmp_path / "nosuchdir", tmp_path) == 2
    assert "no such folder" in capsys.readouterr().err
    root = tmp_path / "runs"
    put(root, "KM/mfeat/view0/seed0.json", fake_record())
    (tmp_path / "summary.csv").mkdir()
    assert aggregate_cli(root, tmp_path) == 2
    assert "is a folder" in capsys.readouterr().err
    assert not (tmp_path / "runs.csv").exists()


# ------------------------------------------------------------------ values that name runs
@given(st.floats(min_value=0, max_value=1, allow_nan=False))
def test_a_number_reads_back_from_its_path_as_itself(value):
    text = run_paths.number_text(value)
    assert float(text) == value
    assert re.fullmatch(run_paths.NUMBER_PATTERN, text)
    parsed = run_paths.parse_run_path(
        f"/r/GIB/d/GIB/{run_paths.setting_dir(value, 0.5)}/seed0.json", "/r"
    )
    assert parsed.alpha == value


def test_path_spellings_keep_the_usual_values_and_separate_close_ones():
    assert run_paths.setting_dir(0.5, 1.0) == "a0.5_b1"
    assert run_paths.number_text(1e-5) == "0.00001"
    assert run_paths.format_value(0.00012345678) == "0.00012345678"
    assert run_paths.format_value(0.001) != run_paths.format_value(0.0010000001)
    with pytest.raises(ValueError, match="listed twice"):
        run_paths.check_path_values([0.1, 0.1], "grid.alphas")
    with pytest.raises(ValueError, match="reads back"):
        run_paths.check_path_values(["5"], "resolution.keys.x")


def base_config(**sections):
    config = yaml.safe_load((REPO / "config/demo.yaml").read_text())
    for key, value in sections.items():
        config[key] = {**config.get(key, {}), **value}
    return config


def test_config_refuses_study_values_that_share_a_path(tmp_path):
    config = base_config(resolution={"keys": {"grad_clip": [5.0, 5]}})
    with pytest.raises(ConfigError, match=r"resolution\.keys\.grad_clip"):
        validated_config(config, SCHEMA)
    config = base_config(gib={"alpha": 0.00001})
    validated_config(config, SCHEMA)  # a valid value with a path the rules match
    assert re.fullmatch(run_paths.NUMBER_PATTERN, run_paths.number_text(config["gib"]["alpha"]))


def test_config_refuses_a_key_written_twice(tmp_path):
    text = (REPO / "config/demo.yaml").read_text() + "gib:\n  epochs: 3\n"
    path = tmp_path / "twice.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=r"'gib' is written twice.*twice.yaml|twice.yaml.*'gib'"):
        validated_config(yaml.safe_load(text), SCHEMA, [path])


def test_config_refuses_a_key_written_twice_in_tab_indented_json(tmp_path):
    path = tmp_path / "twice.json"
    path.write_text('{\n\t"gib": {\n\t\t"epochs": 6,\n\t\t"epochs": 12\n\t}\n}\n')
    with pytest.raises(ConfigError, match=r"'epochs' is written twice"):
        validated_config(base_config(), SCHEMA, [path])


def test_cuda_is_refused_at_config_check_where_jobs_run_here(monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    config = base_config(gib={"device": "cuda"})
    validated_config(config, SCHEMA)  # the schema allows it: the Snakefile's onstart checks
    with pytest.raises(ConfigError, match=r"gib.device = cuda.*Nothing was run or removed"):
        check_devices(config)
    unplanned = base_config(clib={"device": "cuda", "variants": [], "grid": {"seeds": 0}})
    unplanned["resolution"]["variants"] = {"GIB": ["GIB"]}
    validated_config(unplanned, SCHEMA)
    check_devices(unplanned)  # no CLIB run is planned: its device is not checked


def test_snakemake_lower_bound_is_past_the_releases_that_skip_validation(repo):
    text = (repo / "pyproject.toml").read_text()
    bound = re.search(r'"snakemake>=([0-9.]+)"', text).group(1)
    assert tuple(map(int, bound.split("."))) > (9, 14, 7)
    assert f'min_version("{bound}")' in (repo / "Snakefile").read_text()
    assert f"snakemake>={bound}" in (repo / "environment.yml").read_text()


def test_record_reading_refuses_non_finite_numbers(tmp_path):
    path = put(tmp_path, "r.json", json.dumps(fake_record()).replace("81.1", "Infinity"))
    with pytest.raises(RecordError, match="Infinity"):
        records.read(path)
    assert math.isfinite(records.read(put(tmp_path, "ok.json", fake_record()))["seed"])
    assert os.path.exists(path)


# ------------------------------------------------------------------ a run is counted once
def acc_n(folder: Path) -> list[int]:
    summary = pd.read_csv(folder / "summary.csv")
    honest = summary["protocol"] == "final"  # fake records have no histories to select from
    return list(summary.loc[(summary["metric"] == "ACC") & honest, "n"])


def deep_fake(seed=0, alpha=0.5, **changes):
    params = {"alpha": alpha, "beta": 0.5, "scaling": "minmax"}
    return fake_record("GIB", "mfeat", "GIB", seed=seed, params=params, **changes)


def test_other_spellings_of_a_run_path_are_not_counted(tmp_path, caplog):
    root = tmp_path / "runs"
    put(root, "GIB/mfeat/GIB/a1_b0.5/seed0.json", deep_fake(alpha=1.0))
    for stray in ("a1.0_b0.5/seed0.json", "a01_b0.5/seed0.json", "a1_b0.5/seed00.json"):
        put(root, f"GIB/mfeat/GIB/{stray}", deep_fake(alpha=1.0))
    point = deep_fake(overrides={"grad_clip": 5})
    put(root, "GIB/mfeat/GIB/a0.5_b0.5/grad_clip=5.0/seed0.json", point)
    assert aggregate_cli(root, tmp_path) == 0
    summary = pd.read_csv(tmp_path / "summary.csv")
    acc = summary[(summary["metric"] == "ACC") & (summary["protocol"] == "final")]
    assert list(acc["n"]) == [1]  # the α = 1 cell, one run; grad_clip=5.0 is a stray too
    assert "not counted: 4 .json file(s)" in caplog.text


def test_the_same_run_twice_is_refused_and_the_same_file_twice_counted_once(tmp_path, capsys):
    root = tmp_path / "runs"
    record = put(root, "GIB/mfeat/GIB/a0.5_b0.5/seed0.json", deep_fake())
    copy = put(tmp_path, "backup/seed7.json", deep_fake())
    assert (
        aggregate_cli(root, tmp_path, str(record), f"{root}/./GIB/mfeat/GIB/a0.5_b0.5/seed0.json")
        == 0
    )
    assert acc_n(tmp_path) == [1]
    assert aggregate_cli(root, tmp_path, str(copy)) == 2
    assert "the same run as" in capsys.readouterr().err


def test_a_deep_record_at_a_baseline_path_is_refused(tmp_path, capsys):
    root = tmp_path / "runs"
    put(root, "GIB/mfeat/GIB/seed0.json", deep_fake())
    assert aggregate_cli(root, tmp_path) == 2
    assert "at a baseline run's path" in capsys.readouterr().err


def test_records_in_a_linked_folder_are_found_and_checked(tmp_path, capsys):
    root, scratch = tmp_path / "runs", tmp_path / "scratch"
    put(scratch, "mfeat/view0/seed0.json", fake_record())
    root.mkdir()
    (root / "KM").symlink_to(scratch)
    assert aggregate_cli(root, tmp_path) == 0
    assert acc_n(tmp_path) == [1]
    put(scratch, "mfeat/view1/seed3.json", fake_record())  # seed 0 of view0 at another path
    assert aggregate_cli(root, tmp_path) == 2
    assert "view1/seed3.json" in capsys.readouterr().err


def test_a_record_of_another_run_at_out_is_not_replaced(tmp_path, tiny_file, capsys):
    out = tmp_path / "g.json"
    assert main(deep_args("train", tiny_file, [out])) == 0
    before = out.read_bytes()
    args = ["baseline", "--method", "AmKM", "--variant", "all", "--data", str(tiny_file)]
    assert main([*args, "--seed", "0", "--out", str(out)]) == 2
    assert "holds the record of another run (GIB GIB, seed 0)" in capsys.readouterr().err
    assert out.read_bytes() == before and (tmp_path / "g.history.csv").exists()
    other = put(tmp_path, "config.json", {"not": "a record"})
    assert main(deep_args("train", tiny_file, [other])) == 2
    assert "is not a run record" in capsys.readouterr().err


def test_embeddings_epochs_are_a_set(tmp_path, tiny_file, caplog):
    caplog.set_level("INFO")
    out = tmp_path / "seed0.json"
    assert main(deep_args("train", tiny_file, [out], extra=["--keep-finished"])) == 0
    args = deep_args("train", tiny_file, [out], extra=["--keep-finished"])
    at = args.index("--embeddings-at")
    args[at + 1 : at + 3] = ["2", "0", "0"]
    assert main(args) == 0
    assert "kept" in caplog.text


def test_a_value_too_long_for_a_path_is_refused():
    with pytest.raises(ValueError, match="characters"):
        run_paths.check_path_values([1e-300], "gib.alpha")
