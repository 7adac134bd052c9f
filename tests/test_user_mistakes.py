"""Mistakes in a dataset a user makes by hand: refused by every method before training, as one
paragraph with exit status 2 (the check lives in mmcbench.data.load, which every run reads
its data through)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mmcbench.cli import main
from mmcbench.core.errors import DataError
from mmcbench.data.load import load_hdf5
from mmcbench.planning import catalogue


def write_claiming_k(path: Path, labels: list[int], n_clusters: int) -> Path:
    """A dataset file in the suite's format whose n_clusters attribute says `n_clusters`, with
    the given labels (convert never writes one with an empty class; a hand-made file can)."""
    from mmcbench.data.convert import Converted, write_hdf5

    labels_ = np.asarray(labels, dtype=np.int64)
    rng = np.random.default_rng(0)
    views = [rng.random((labels_.size, 3), dtype=np.float32) for _ in range(2)]
    data = Converted(
        name="hand",
        views=views,
        view_names=["a", "b"],
        labels=labels_,
        label_values=list(range(n_clusters)),
        source_dtypes=["float32"] * 2,
        source_sparse=[False] * 2,
        n_clusters=n_clusters,
    )
    write_hdf5(data, path, {"hand.mat": "0" * 64})
    return path


MORE_CLUSTERS_THAN_SAMPLES = ([0, 1, 2, 3], 6)
EMPTY_CLASS = ([0, 1, 3, 0, 1, 3, 0, 1], 4)


def test_an_empty_class_is_refused_when_the_dataset_is_read(tmp_path):
    path = write_claiming_k(tmp_path / "gap.h5", *EMPTY_CLASS)
    with pytest.raises(DataError) as info:
        load_hdf5(path)
    message = str(info.value)
    assert f"{path}: 1 of the 4 classes have no sample (label value(s) 2 never occur)" in message
    assert "more clusters than samples" not in message
    path = write_claiming_k(tmp_path / "small.h5", *MORE_CLUSTERS_THAN_SAMPLES)
    with pytest.raises(DataError, match=r"more clusters than samples \(6 > 4\)"):
        load_hdf5(path)


def deep_runs():
    for method in catalogue.deep_methods():
        yield ["train", "--method", method, "--variant", method, "--seed", "0"]
        yield ["train-pack", "--method", method, "--variant", method, "--seeds", "0", "1"]


def baseline_runs():
    for method in catalogue.baseline_methods():
        variant = "view0" if method in catalogue.single_view_methods() else "all"
        yield ["baseline", "--method", method, "--variant", variant, "--seed", "0"]


@pytest.mark.parametrize("labels, k", [MORE_CLUSTERS_THAN_SAMPLES, EMPTY_CLASS])
@pytest.mark.parametrize("argv", [*deep_runs(), *baseline_runs()], ids=lambda a: f"{a[0]}-{a[2]}")
def test_every_method_refuses_more_clusters_than_samples_or_an_empty_class(
    tmp_path, capsys, argv, labels, k
):
    """`train --method CLIB` on 4 samples and k = 6 used to end in sklearn's traceback
    (`n_samples=4 should be >= n_clusters=6`); every method now stops before training."""
    data = write_claiming_k(tmp_path / "hand.h5", labels, k)
    outs = [str(tmp_path / f"seed{i}.json") for i in range(2 if argv[0] == "train-pack" else 1)]
    assert main([*argv, "--data", str(data), "--out", *outs]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"mmcbench {argv[0]}: error: {data}: ")
    assert "have no sample" in err and "Traceback" not in err
    assert err.count("\n") == 1  # one paragraph
    assert not any(Path(o).exists() for o in outs)


@pytest.mark.workflow
@pytest.mark.dag
def test_a_manual_folder_with_a_space_reaches_fetch_as_one_argument(repo, tmp_path):
    """data.manual_dir with a space: the fetch rule passes it quoted (common.smk fetch_flags),
    not as two arguments (`unrecognized arguments`)."""
    import json

    import scipy.io
    import yaml

    from tests.test_workflow import snakemake

    workdir = tmp_path / "work"
    manual_dir = tmp_path / "my manual"
    placed = manual_dir / "WVU" / "WVU.mat"
    placed.parent.mkdir(parents=True)
    scipy.io.savemat(placed, {"X1": np.ones((2, 2)), "Y": np.arange(2)})
    config = tmp_path / "config.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "datasets": ["WVU"],
                "seeds": 1,
                "baselines": {"methods": []},
                "gib": {"variants": []},
                "clib": {"variants": []},
                "data": {"offline": True, "manual_dir": str(manual_dir)},
            }
        )
    )
    manifest = workdir / "resources" / "raw" / "WVU" / "manifest.json"
    done = snakemake(repo, workdir, str(manifest.relative_to(workdir)), "--configfile", str(config))
    assert done.returncode == 0, done.stdout + done.stderr
    entry = json.loads(manifest.read_text())["files"]["WVU.mat"]
    assert entry["path"] == str(placed) and entry["origin"] == f"manual:{placed}"


@pytest.mark.parametrize(
    ("script", "args"),
    [
        ("epoch_speed.py", ["--methods", "SiMVC", "--rounds", "1"]),
        ("baseline_speed.py", []),
    ],
)
def test_a_benchmark_script_given_a_file_that_is_no_dataset_says_so(tmp_path, repo, script, args):
    """benchmarks/ scripts end a user's mistake as the mmcbench command does: one paragraph,
    exit status 2, no traceback."""
    import subprocess
    import sys

    bad = tmp_path / "notes.txt"
    bad.write_text("not an HDF5 file")
    result = subprocess.run(
        [sys.executable, str(repo / "benchmarks" / script), str(bad), *args],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 2, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    assert f"{script.removesuffix('.py')}: error: {bad}: not a readable mmcbench HDF5" in (
        result.stderr
    )
