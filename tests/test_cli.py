"""The `mmcbench` command: listing, and clear errors with exit status 2."""

from __future__ import annotations

import argparse
import json

import pytest

from mmcbench.cli import build_parser, main
from mmcbench.data.registry import dataset_names


def test_datasets_lists_every_entry_with_availability(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["datasets", "--offline"]) == 0
    out = capsys.readouterr().out
    for name in dataset_names():
        assert name in out
    assert main(["datasets", "--json", "--offline"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["mfeat"]["available"] == "package"  # embedded: shipped in the package
    assert rows["WVU"]["available"] == "MISSING (manual)"
    assert rows["Scene-15"]["available"] == "MISSING (offline)"


def test_datasets_sees_the_mirror(capsys, tmp_path, monkeypatch, mirror):
    monkeypatch.chdir(tmp_path)
    assert main(["datasets", "--json", "--mirror", str(mirror)]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["Scene-15"]["available"] == "mirror"
    assert rows["Caltech-2V"]["available"] == "download"


def test_errors_are_one_paragraph_with_status_2(capsys, tmp_path):
    bad = tmp_path / "manifest.json"
    bad.write_text("{not json")
    assert main(["convert", "mfeat", "--manifest", str(bad), "--out", str(tmp_path / "x.h5")]) == 2
    err = capsys.readouterr().err
    assert f"{bad}: not a readable fetch manifest" in err and "Traceback" not in err
    assert not (tmp_path / "x.h5").exists()
    assert main(["fetch", "--dataset", "Nope"]) == 2
    assert "unknown dataset 'Nope'" in capsys.readouterr().err


def _subcommands(parser, prefix=()):
    """Every (sub)command parser with its path, e.g. ('plot', 'grid')."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield (*prefix, name), sub
                yield from _subcommands(sub, (*prefix, name))


def test_every_subcommand_says_what_it_does_and_shows_defaults(capsys):
    parser = build_parser()
    commands = dict(_subcommands(parser))
    assert {("train",), ("sys-info",), ("plot", "grid"), ("estimate",)} <= set(commands)
    for path, sub in commands.items():
        assert sub.description and len(sub.description) > 20, path
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    text = capsys.readouterr().out
    assert "α in [0, 1] (default: 0.5)" in text and "(default: None)" not in text
    with pytest.raises(SystemExit):
        main(["--help"])
    text = capsys.readouterr().out
    assert "snakemake --cores 2 --configfile config/demo.yaml" in text
    assert all(name in text for (name, *rest) in commands if not rest)


def test_version_and_sys_info(capsys):
    import mmcbench

    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out.strip() == f"mmcbench {mmcbench.__version__}"
    assert main(["sys-info", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["versions"]["torch"] and report["cuda_available"] in (True, False)
    assert report["torch_threads"] >= 1 and report["cpu"]


@pytest.mark.parametrize("json_output", [True, False], ids=["json", "table"])
def test_datasets_into_a_closed_pipe_ends_quietly(tmp_path, json_output):
    """`mmcbench datasets | head -1`: a reader that has gone is no write error (no paragraph, no
    traceback, no complaint of Python's flush at exit), only the shell's SIGPIPE status."""
    import os
    import subprocess
    import sys

    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before the first line is written
    try:
        done = subprocess.run(
            [sys.executable, "-m", "mmcbench", "datasets", "--offline"]
            + (["--json"] if json_output else []),
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            cwd=tmp_path,
            timeout=120,
        )
    finally:
        os.close(write_end)
    assert done.returncode in (0, 141), done.stderr
    assert done.stderr == ""


def test_a_missing_mirror_is_named_by_datasets_and_fetch(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    missing = tmp_path / "nonexistent"
    assert main(["datasets", "--mirror", str(missing)]) == 2
    err = capsys.readouterr().err
    assert f"mmcbench datasets: error: mirror folder {missing} (--mirror" in err
    assert "does not exist" in err and "Traceback" not in err
    assert main(["fetch", "--group", "mfeat", "--mirror", str(missing)]) == 2
    assert f"mirror folder {missing}" in capsys.readouterr().err
    assert not (tmp_path / "resources").exists()  # refused before anything is fetched


@pytest.mark.parametrize("command", ["train", "train-pack"])
def test_a_hyper_parameter_set_twice_is_refused_naming_both(capsys, tmp_path, command):
    seeds = ["--seeds", "0"] if command == "train-pack" else ["--seed", "0"]
    argv = [command, "--method", "GIB", "--variant", "GIB", "--data", str(tmp_path / "x.h5")]
    argv += [*seeds, "--set", "grad_clip=1", "--set", "grad_clip=null"]
    assert main([*argv, "--out", str(tmp_path / "r.json")]) == 2
    err = capsys.readouterr().err
    assert "--set grad_clip=1 and --set grad_clip=null both set grad_clip" in err
    assert not (tmp_path / "r.json").exists()


def test_config_keys_lists_each_methods_generated_keys_with_their_defaults(capsys):
    """`mmcbench config-keys` prints the schema the DAG validates against, a method's keys
    from its settings class; an unknown section is one paragraph, status 2."""
    from mmcbench.methods.gib.config import GIBConfig

    assert main(["config-keys", "--section", "gib"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert f"gib.alpha = {GIBConfig().alpha}" in [line.split("  #")[0] for line in lines]
    assert any(line.startswith("gib.balls.") for line in lines)  # nested settings, dotted
    assert main(["config-keys", "--section", "nope"]) == 2
    assert "no section 'nope'" in capsys.readouterr().err
