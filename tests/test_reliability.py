"""A hostile user's probes (issue 14): provenance that cannot go stale, settings that are never
silently ignored, one clear paragraph (exit status 2) instead of a traceback, and no stale
temporaries. Each test failed before the fix it names."""

from __future__ import annotations

import errno
import json
import time
from pathlib import Path

import h5py
import numpy as np
import pytest
import scipy.io
import yaml
from sklearn.datasets import make_blobs

from mmcbench.cli import main
from mmcbench.core import atomic
from mmcbench.core.errors import ConfigError, DataError
from mmcbench.data.convert import convert_from_manifest
from mmcbench.data.fetch import FetchOptions, fetch_group, sha256sum
from mmcbench.data.load import load_hdf5
from mmcbench.data.registry import Dataset, Location, SourceFile, View
from mmcbench.planning.config import check_train_arguments, config_schema, validated_config
from tests.conftest import tiny_settings, write_dataset

TINY = tiny_settings("GIB", encoder_hidden=[8], latent_dim=4, head_hidden=4, epochs=1)


@pytest.fixture(scope="module")
def tiny_file(tmp_path_factory):
    x, y = make_blobs(n_samples=60, centers=2, n_features=4, random_state=0)
    path = tmp_path_factory.mktemp("data") / "tiny.h5"
    return write_dataset(path, "tiny", [x[:, :2], x[:, 2:]], y)


def train(data, out, *extra, method="GIB", variant="GIB", hparams=None):
    hparams = json.dumps(TINY if hparams is None else hparams)
    args = ["train", "--method", method, "--variant", variant, "--data", str(data)]
    args += ["--seed", "0", "--device", "cpu", "--hparams", hparams, "--out", str(out)]
    return main([*args, *extra])


def error_of(capsys) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err


# 1. Provenance ----------------------------------------------------------------------------


def test_convert_rehashes_every_raw_file_against_the_manifest(tmp_path):
    manifest = fetch_group("mfeat", FetchOptions(raw_dir=tmp_path / "raw", offline=True))
    entry = json.loads(manifest.read_text())["files"]["mfeat-fou.csv"]
    raw = Path(entry["path"])
    text = raw.read_text()
    raw.write_text(text.replace("0.", "1.", 1))  # same shape, one value changed
    out = tmp_path / "mfeat.h5"
    with pytest.raises(DataError) as info:
        convert_from_manifest("mfeat", manifest, out)
    message = str(info.value)
    assert str(raw) in message and entry["sha256"] in message and sha256sum(raw) in message
    assert not out.exists() and not list(tmp_path.glob(".mfeat.h5.*"))


def test_convert_records_the_hash_of_the_files_it_read(tmp_path):
    manifest = fetch_group("mfeat", FetchOptions(raw_dir=tmp_path / "raw", offline=True))
    files = json.loads(manifest.read_text())["files"]
    convert_from_manifest("mfeat", manifest, tmp_path / "mfeat.h5")
    recorded = load_hdf5(tmp_path / "mfeat.h5").source_sha256
    assert recorded == {name: sha256sum(Path(e["path"])) for name, e in files.items()}


# 2. Settings never silently ignored -------------------------------------------------------


def deep_config(**sections) -> dict:
    config = {"datasets": ["mfeat"], "seeds": 1, "baselines": {"methods": []}}
    config["gib"] = {"variants": [], **sections.pop("gib", {})}
    config["clib"] = {"variants": [], **sections.pop("clib", {})}
    return {**config, **sections}


@pytest.mark.parametrize(
    "config,fragment",
    [
        (
            deep_config(clib={"variants": ["CLIB"], "epochs": 5, "warmup_epochs": 5}),
            "clib.warmup_epochs = 5 is not below clib.epochs = 5",
        ),
        (
            deep_config(gib={"variants": ["GIB"], "epochs": 12}),
            "gib.embeddings_at asks for epoch(s) [100], beyond gib.epochs = 12",
        ),
        (  # the grid trains the full model even when the tables do not
            deep_config(clib={"epochs": 3, "warmup_epochs": 3, "grid": {"seeds": 1}}),
            "clib.warmup_epochs = 3 is not below clib.epochs = 3",
        ),
        (
            deep_config(
                clib={"variants": ["CLIB"], "epochs": 10, "warmup_epochs": 2, "embeddings_at": []},
                resolution={
                    "seeds": 1,
                    "variants": {"CLIB": ["CLIB"]},
                    "keys": {"warmup_epochs": [50]},
                },
            ),
            "resolution.keys.warmup_epochs value 50 (CLIB CLIB): clib.warmup_epochs = 50",
        ),
        (deep_config(gib={"lr": float("inf")}), "key 'gib.lr' is not a finite number"),
        (deep_config(gib={"sigma_offset": float("nan")}), "key 'gib.sigma_offset' is not a finite"),
        (deep_config(figures={"tsne_seed": 3}), "figures.tsne_seed = 3"),
    ],
)
def test_config_that_cannot_train_as_specified_is_refused(config, fragment):
    with pytest.raises(ConfigError) as info:
        validated_config(config, files=["probe.yaml"])
    assert fragment in str(info.value) and "probe.yaml" in str(info.value)


def test_no_warmup_variant_needs_no_warmup_below_epochs():
    config = deep_config(
        clib={"variants": ["no-warmup"], "epochs": 3, "warmup_epochs": 20, "embeddings_at": [0]}
    )
    validated_config(config)  # the no-warmup variant trains with 0 warm-up epochs


def scalar_rules(section: str) -> dict:
    properties = config_schema()["properties"][section]["properties"]
    return {k: v for k, v in properties.items() if k not in ("variants", "grid", "balls")}


def refused_values(rule: dict) -> list:
    """Values the schema rule refuses, one per bound or type."""
    values = []
    if "enum" in rule:
        values.append("not-a-choice")
    if "minimum" in rule:
        values.append(rule["minimum"] - 1)
    if "exclusiveMinimum" in rule:
        values.append(rule["exclusiveMinimum"])
    if "maximum" in rule:
        values.append(rule["maximum"] + 1)
    if rule.get("type") in ("integer", "number"):
        values.append("text")
    if rule.get("type") == "boolean":
        values.append("yes")
    return values


@pytest.mark.parametrize("method,section", [("GIB", "gib"), ("CLIB", "clib")])
def test_cli_refuses_every_value_the_schema_refuses(method, section):
    checked = 0
    for key, rule in scalar_rules(section).items():
        for value in refused_values(rule):
            with pytest.raises(ConfigError, match=key):
                check_train_arguments(method, method, {key: value}, {})
            checked += 1
    assert checked > 25


def test_alpha_outside_the_schema_range_is_refused_by_the_cli(tiny_file, tmp_path, capsys):
    assert train(tiny_file, tmp_path / "r.json", "--alpha", "7") == 2
    assert "alpha = 7.0 (from --alpha): 7.0 is greater than the maximum of 1" in error_of(capsys)
    assert not (tmp_path / "r.json").exists()


def test_clib_warmup_not_below_epochs_is_refused_by_the_cli(tiny_file, tmp_path, capsys):
    hparams = {**TINY, "warmup_epochs": 1}
    assert (
        train(tiny_file, tmp_path / "r.json", method="CLIB", variant="CLIB", hparams=hparams) == 2
    )
    assert "clib.warmup_epochs = 1 is not below clib.epochs = 1" in error_of(capsys)


def test_alpha_in_hparams_is_refused_not_replaced(tiny_file, tmp_path, capsys):
    assert train(tiny_file, tmp_path / "r.json", hparams={**TINY, "alpha": 0.9}) == 2
    assert "give it as --alpha" in error_of(capsys)


def test_cli_default_embeddings_stay_within_the_epochs(tiny_file, tmp_path):
    assert train(tiny_file, tmp_path / "r.json") == 0
    record = json.loads((tmp_path / "r.json").read_text())
    assert record["params"]["embeddings_at"] == [0, 1]
    assert sorted(np.load(tmp_path / "r.embeddings.npz").files)[:2] == [
        "assignments_final",
        "epoch_0",
    ]


# 3. One paragraph, exit status 2 ----------------------------------------------------------


@pytest.mark.parametrize(
    "hparams,fragment",
    [
        (
            {**TINY, "batch_size": "256"},
            "batch_size = '256' (from --hparams): '256' is not of type",
        ),
        ([1, 2], "--hparams must be a JSON object of hyper-parameters, got list"),
        ({**TINY, "lr": -0.1}, "lr = -0.1 (from --hparams): -0.1 is less than or equal"),
        ({**TINY, "epochs": 2.5}, "epochs = 2.5 (from --hparams): 2.5 is not of type 'integer'"),
        ({**TINY, "foo": 1}, "'foo' (from --hparams) is not a setting of one GIB run"),
        ({**TINY, "grid": {}}, "'grid' (from --hparams) is a workflow key that selects runs"),
    ],
)
def test_bad_hparams_are_one_paragraph(tiny_file, tmp_path, capsys, hparams, fragment):
    assert train(tiny_file, tmp_path / "r.json", hparams=hparams) == 2
    assert fragment in error_of(capsys)


def test_hparams_that_are_not_json_are_one_paragraph(tiny_file, tmp_path, capsys):
    args = ["train", "--method", "GIB", "--variant", "GIB", "--data", str(tiny_file)]
    args += ["--seed", "0", "--hparams", "{batch_size: 5}", "--out", str(tmp_path / "r.json")]
    assert main(args) == 2
    assert "--hparams is not valid JSON" in error_of(capsys)


@pytest.mark.parametrize("seed", ["-1", str(2**32), "1.5"])
def test_out_of_range_seed_is_a_usage_error(tiny_file, tmp_path, capsys, seed):
    args = ["train", "--method", "GIB", "--variant", "GIB", "--data", str(tiny_file)]
    with pytest.raises(SystemExit) as info:
        main([*args, "--seed", seed, "--out", str(tmp_path / "r.json")])
    assert info.value.code == 2
    assert "argument --seed" in error_of(capsys)


@pytest.mark.parametrize(
    "option,fragment",
    [
        (["--threads", "0"], "threads = 0 (from --threads)"),
        (["--epochs", "-3"], "epochs = -3 (from --epochs)"),
        (["--embeddings-at", "-1"], "embeddings_at = [-1] (from --embeddings-at)"),
        (["--embeddings-at", "0", "4"], "gib.embeddings_at asks for epoch(s) [4]"),
    ],
)
def test_bad_run_options_are_refused(tiny_file, tmp_path, capsys, option, fragment):
    assert train(tiny_file, tmp_path / "r.json", *option) == 2
    assert fragment in error_of(capsys)


@pytest.mark.parametrize(
    "option,fragment",
    [
        (["--n-init", "0"], "--n-init 0: 0 is less than the minimum of 1"),
        (["--n-neighbors", "1"], "--n-neighbors 1: 1 is less than the minimum of 2"),
    ],
)
def test_bad_baseline_options_are_refused(tiny_file, tmp_path, capsys, option, fragment):
    args = ["baseline", "--method", "KM", "--variant", "view0", "--data", str(tiny_file)]
    assert main([*args, "--seed", "0", "--out", str(tmp_path / "b.json"), *option]) == 2
    assert fragment in error_of(capsys)
    assert not (tmp_path / "b.json").exists()


def test_view_with_no_features_is_refused_before_writing(tmp_path):
    path = tmp_path / "zero.mat"
    scipy.io.savemat(path, {"X1": np.zeros((6, 0)), "X2": np.ones((6, 2)), "Y": np.arange(6) % 2})
    spec = Dataset(
        name="zero",
        description="a view with no features (dimension not in the registry)",
        n_samples=6,
        n_clusters=2,
        views=tuple(View(f"v{i}", Location("zero.mat", (f"X{i + 1}",))) for i in range(2)),
        labels=Location("zero.mat", ("Y",)),
        files=(SourceFile(name="zero.mat"),),
    )
    manifest = tmp_path / "manifest.json"
    manifest.write_text(
        json.dumps({"files": {"zero.mat": {"path": str(path), "sha256": sha256sum(path)}}})
    )
    import mmcbench.data.convert as convert

    original = convert.get_dataset
    convert.get_dataset = lambda name: spec
    try:
        with pytest.raises(DataError, match=r"view 'v0'\): has 0 features"):
            convert_from_manifest("zero", manifest, tmp_path / "zero.h5")
    finally:
        convert.get_dataset = original
    assert not (tmp_path / "zero.h5").exists()


def hand_made(tmp_path, tiny_file, name, change):
    path = tmp_path / f"{name}.h5"
    path.write_bytes(tiny_file.read_bytes())
    with h5py.File(path, "r+") as fh:
        change(fh)
    return path


def with_nan(fh):
    view = fh["views/0"][()]
    view[3, 1] = np.nan
    del fh["views/0"]
    fh["views"].create_dataset("0", data=view)


def with_label(fh):
    labels = fh["labels"][()]
    labels[0] = 7
    del fh["labels"]
    fh.create_dataset("labels", data=labels)


@pytest.mark.parametrize(
    "change,fragment",
    [
        (with_nan, "view 0 (a): 1 NaN/inf value(s), first at sample 3, feature 1"),
        (with_label, "labels must lie in 0…1 (n_clusters = 2), found 0…7"),
        (lambda fh: fh.attrs.__delitem__("view_names"), "missing attribute(s) ['view_names']"),
        (lambda fh: fh.__delitem__("labels"), "no dataset /labels"),
        (
            lambda fh: fh.attrs.__setitem__("n_samples", 99),
            "60 labels, but attribute n_samples is 99",
        ),
    ],
)
def test_hand_made_hdf5_is_checked_against_the_format(
    tmp_path, tiny_file, capsys, change, fragment
):
    path = hand_made(tmp_path, tiny_file, "hand", change)
    with pytest.raises(DataError, match=None) as info:
        load_hdf5(path)
    assert fragment in str(info.value) and str(path) in str(info.value)
    assert train(path, tmp_path / "r.json") == 2  # not a `diverged` or `done` record
    assert fragment in error_of(capsys) and not (tmp_path / "r.json").exists()


def test_unwritable_output_is_refused_before_any_compute(tiny_file, tmp_path, capsys, monkeypatch):
    import mmcbench.training.train

    def no_training(*args, **kwargs):
        raise AssertionError("trained although the output cannot be written")

    monkeypatch.setattr(mmcbench.training.train, "run_from_file", no_training)
    (tmp_path / "a_file").write_text("")
    assert train(tiny_file, tmp_path / "a_file" / "r.json") == 2
    assert f"cannot write {tmp_path / 'a_file' / 'r.json'}" in error_of(capsys)
    (tmp_path / "folder.json").mkdir()
    assert train(tiny_file, tmp_path / "folder.json") == 2  # the record path is a folder
    assert "is a folder" in error_of(capsys)
    assert train(tiny_file, tmp_path) == 2  # not a .json record at all
    assert "a run record is a .json file" in error_of(capsys)


def test_disk_full_while_writing_is_one_paragraph_naming_the_path(
    tiny_file, tmp_path, capsys, monkeypatch
):
    from mmcbench.runs import records

    def full(path, record):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(records, "write", full)
    assert train(tiny_file, tmp_path / "r.json") == 2
    err = error_of(capsys)
    assert f"{tmp_path / 'r.json'}: No space left on device" in err


@pytest.mark.parametrize(
    "content,fragment",
    [
        (None, "cannot read the run summary"),
        ("a,b\n1,2\n", "not a run summary (summary.csv of mmcbench aggregate), missing columns"),
        ("", "cannot read the run summary"),
    ],
)
def test_render_with_a_bad_summary_is_one_paragraph(tmp_path, capsys, content, fragment):
    summary = tmp_path / "summary.csv"
    if content is not None:
        summary.write_text(content)
    args = ["render", "table1", "--summary", str(summary), "--out-prefix", str(tmp_path / "t")]
    assert main(args) == 2
    err = error_of(capsys)
    assert fragment in err and str(summary) in err


def saved_run(path, k, record=None, seed=0):
    """An embeddings file of a run with k clusters, and a record beside it when given."""
    rng = np.random.default_rng(seed)
    labels = np.arange(30) % k
    probabilities = rng.dirichlet(np.ones(k), size=30)
    np.savez(path, labels=labels, assignments_final=probabilities.astype(np.float32))
    if record is not None:
        Path(str(path).removesuffix(".embeddings.npz") + ".json").write_text(json.dumps(record))
    return str(path)


def reliability(tmp_path, *runs, out="fig.png", dataset="toy"):
    args = ["reliability", "--dataset", dataset]
    for method, *paths in runs:
        args += ["--runs", method, *paths]
    return main([*args, "--out", str(tmp_path / out)])


def test_reliability_refuses_runs_of_different_k_in_one_figure(tmp_path, capsys):
    three = saved_run(tmp_path / "k3.embeddings.npz", 3)
    four = saved_run(tmp_path / "k4.embeddings.npz", 4)
    assert reliability(tmp_path, ("CLIB", three, four)) == 2
    err = error_of(capsys)
    assert "different numbers of clusters" in err
    assert f"{three} (k = 3)" in err and f"{four} (k = 4)" in err
    assert reliability(tmp_path, ("GIB", three), ("CLIB", four)) == 2  # across panels too
    assert not (tmp_path / "fig.png").exists()


@pytest.mark.parametrize(
    "second,fragment",
    [
        ({"method": "CLIB", "variant": "CLIB", "dataset": "other"}, "are runs of another dataset"),
        ({"method": "CLIB", "variant": "no-warmup", "dataset": "toy"}, "different variants"),
    ],
)
def test_reliability_refuses_runs_of_another_dataset_or_setting(tmp_path, capsys, second, fragment):
    first = saved_run(
        tmp_path / "a.embeddings.npz", 3, {"method": "CLIB", "variant": "CLIB", "dataset": "toy"}
    )
    other = saved_run(tmp_path / "b.embeddings.npz", 3, second, seed=1)
    assert reliability(tmp_path, ("CLIB", first, other)) == 2
    err = error_of(capsys)
    assert fragment in err and other in err
    assert reliability(tmp_path, ("CLIB", first)) == 0  # one run of the figure's dataset


def test_reliability_diagram_has_the_suites_style_and_its_legend_clear_of_the_bars(tmp_path):
    from mmcbench.report.figures import style
    from mmcbench.report.figures.reliability import reliability_diagram

    runs = {"GIB": [saved_run(tmp_path / "g.embeddings.npz", 3)]}
    runs["CLIB"] = [saved_run(tmp_path / f"c{s}.embeddings.npz", 3, seed=s) for s in (1, 2)]
    fig = reliability_diagram("toy", runs)
    assert fig.get_size_inches()[0] <= style.FULL_IN  # the paper's text width, as every figure
    assert all(ax.get_legend() is None for ax in fig.axes)  # no legend over the bars
    assert [t.get_text() for t in fig.legends[0].get_texts()] == [
        "perfect calibration",
        "accuracy of the bin",
        "share of samples in the bin",
    ]
    fig.canvas.draw()
    legend, panels = fig.legends[0].get_window_extent(), [ax.get_window_extent() for ax in fig.axes]
    assert all(legend.y1 <= p.y0 for p in panels)  # below the panels, not over them
    accuracy = fig.axes[0].patches[0].get_facecolor()[:3]
    assert np.allclose(accuracy, style.palette(1)[0])  # the suite's colour-blind-safe palette
    assert "pooled over 2 seeds" in fig.axes[1].get_title()
    assert "per seed" in fig.axes[1].get_title() and "per seed" not in fig.axes[0].get_title()


def test_reliability_refuses_an_unknown_figure_extension_before_reading(
    tmp_path, capsys, monkeypatch
):
    import mmcbench.report.figures.reliability as figure

    def no_reading(path):
        raise AssertionError("read the runs although the figure cannot be written")

    monkeypatch.setattr(figure, "load_assignments", no_reading)
    run = saved_run(tmp_path / "a.embeddings.npz", 3)
    for out in ("x.txt", "x"):
        assert reliability(tmp_path, ("CLIB", run), out=out) == 2
        err = error_of(capsys)
        assert f"--out {tmp_path / out}" in err and ".png, .pdf, .svg" in err
    assert not list(tmp_path.glob("x*"))


@pytest.mark.parametrize(
    "option,fragment",
    [
        (["--setting", "FOO", "0.5", "0.5"], "'FOO' is not a deep method; α/β settings are of GIB"),
        (["--setting", "GIB", "2", "0.5"], "alpha = 2: 2.0 is greater than the maximum of 1"),
        (["--setting", "CLIB", "0.5", "-1"], "beta = -1: -1.0 is less than the minimum of 0"),
        (["--setting", "GIB", "abc", "0.5"], "--setting GIB abc 0.5: ALPHA 'abc' is not a number"),
        (["--alpha", "nan"], "alpha = nan is not a finite number"),
        (["--beta", "1.5"], "beta = 1.5: 1.5 is greater than the maximum of 1"),
        (["--setting", "GIB", "0.5", "inf"], "beta = inf is not a finite number"),
        (
            ["--setting", "GIB", "0.5", "0.5", "--setting", "GIB", "0.3", "0.5"],
            "GIB is already set to α = 0.5, β = 0.5",
        ),
    ],
)
def test_render_refuses_settings_it_cannot_show_before_reading(tmp_path, capsys, option, fragment):
    summary = tmp_path / "missing.csv"  # never read: the options are checked first
    args = [
        "render",
        "clib_results",
        "--summary",
        str(summary),
        "--out-prefix",
        str(tmp_path / "t"),
    ]
    assert main([*args, *option]) == 2
    err = error_of(capsys)
    assert fragment in err and str(summary) not in err
    assert not list(tmp_path.glob("t.*"))


def test_render_says_when_a_setting_has_no_rows_in_the_table(tmp_path, capsys, caplog):
    from mmcbench.runs import records
    from mmcbench.summaries.aggregate import aggregate
    from tests.test_aggregate_tables import gib_record

    record = tmp_path / "seed0.json"
    records.write(record, gib_record("GIB", "Caltech-2V", 0, 68.0, 1.0))
    aggregate([record], tmp_path / "runs.csv", tmp_path / "summary.csv")
    args = ["render", "table2", "--summary", str(tmp_path / "summary.csv")]
    args += ["--out-prefix", str(tmp_path / "t2"), "--setting", "CLIB", "0.3", "0.5"]
    with caplog.at_level("WARNING", logger="mmcbench"):
        assert main(args) == 0
    assert "--setting CLIB does not apply: this table has no CLIB rows" in caplog.text
    assert "CLIB runs" not in (tmp_path / "t2.md").read_text()  # nor does its legend say so
    study = ["render", "resolutions", "--summary", str(tmp_path / "r.csv")]
    study += ["--out-prefix", str(tmp_path / "r")]
    assert main([*study, "--setting", "GIB", "0.5", "0.5"]) == 2
    assert "--setting does not apply to the resolution study's table" in error_of(capsys)


def test_estimate_checks_the_config_as_the_snakefile_does(repo, tmp_path, capsys):
    config = tmp_path / "bad.yaml"
    config.write_text(yaml.safe_dump(deep_config(gib={"lr": -1})))
    assert (
        main(["estimate", "--configfile", str(config), "--snakefile", str(repo / "Snakefile")]) == 2
    )
    err = error_of(capsys)
    assert (
        "key 'gib.lr': -1 is less than or equal to the minimum of 0" in err and str(config) in err
    )
    config.write_text(yaml.safe_dump(deep_config(clib={"variants": ["CLIB"], "epochs": 4})))
    assert (
        main(["estimate", "--configfile", str(config), "--snakefile", str(repo / "Snakefile")]) == 2
    )
    assert "clib.warmup_epochs = 20 is not below clib.epochs = 4" in error_of(capsys)


# 4. Smaller -------------------------------------------------------------------------------


def test_next_write_removes_stale_temporaries_of_its_target_only(tmp_path):
    stale = tmp_path / ".seed0.json.k3j9_x2a.tmp"
    other = tmp_path / ".seed0.json.history.abcd1234.tmp"  # not a temporary of seed0.json
    unrelated = tmp_path / ".seed1.json.abcd1234.tmp"
    for path in (stale, other, unrelated):
        path.write_text("left by a kill")
    atomic.write_json(tmp_path / "seed0.json", {})
    assert not stale.exists() and other.exists() and unrelated.exists()
    assert sorted(p.name for p in tmp_path.iterdir())[-1] == "seed0.json"


def test_km_keeps_scikit_learns_warnings(tmp_path):
    from mmcbench.training.baseline_run import BaselineParams, run

    path = write_dataset(
        tmp_path / "c.h5",
        "c",
        [np.ones((20, 3)), np.random.default_rng(0).random((20, 2))],
        np.arange(20) % 2,
    )
    record = run("KM", "view0", path, 0, BaselineParams())
    assert any("ConvergenceWarning" in w for w in record["diagnostics"]["warnings"])


def test_readme_says_what_to_do_after_a_hard_kill(repo):
    readme = (repo / "README.md").read_text()
    assert "--unlock" in readme and "--rerun-incomplete" in readme


# The DAG ----------------------------------------------------------------------------------


def dag(repo, workdir, config, *args):
    from tests.test_workflow import snakemake

    path = workdir / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return snakemake(repo, workdir, *args, "--configfile", str(path))


@pytest.mark.workflow
@pytest.mark.dag
@pytest.mark.slow
def test_replaced_manual_file_reruns_fetch_and_what_follows(repo, tmp_path):
    workdir = tmp_path / "work"
    manual = workdir / "resources" / "manual" / "WVU" / "WVU.mat"
    manual.parent.mkdir(parents=True)
    scipy.io.savemat(manual, {"X1": np.zeros((2, 2)), "Y": np.arange(2)})
    config = deep_config(datasets=["WVU"], data={"offline": True})
    manifest = "resources/raw/WVU/manifest.json"
    assert dag(repo, workdir, config, manifest).returncode == 0
    recorded = json.loads((workdir / manifest).read_text())["files"]["WVU.mat"]["sha256"]
    assert recorded == sha256sum(manual)

    time.sleep(1.1)
    scipy.io.savemat(manual, {"X1": np.ones((2, 2)), "Y": np.arange(2)})
    plan = dag(repo, workdir, config, "-n", "resources/hdf5/WVU.h5")
    assert plan.returncode == 0, plan.stderr
    from tests.test_workflow import job_counts

    assert job_counts(plan.stdout).get("fetch") == 1 and job_counts(plan.stdout).get("convert") == 1
    assert dag(repo, workdir, config, manifest).returncode == 0
    assert json.loads((workdir / manifest).read_text())["files"]["WVU.mat"]["sha256"] == sha256sum(
        manual
    )


@pytest.mark.workflow
def test_scaling_reaches_every_run_as_a_rule_parameter(repo, tmp_path):
    config = deep_config(
        preprocessing={"scaling": "none"},
        baselines={"methods": ["KM"]},
        gib={"variants": ["GIB"], "epochs": 1, "embeddings_at": [0]},
        clib={"variants": ["CLIB"], "epochs": 2, "warmup_epochs": 1, "embeddings_at": [0]},
        data={"offline": True},
    )
    plan = dag(repo, tmp_path, config, "-n", "-p")
    assert plan.returncode == 0, plan.stderr
    commands = [line for line in plan.stdout.splitlines() if "python -m mmcbench" in line]
    runs = [c for c in commands if " train " in c or " baseline " in c]
    assert len(runs) == 6 + 2 and all("--scaling none" in c for c in runs)
