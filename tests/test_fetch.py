"""Fetching raw files: mirror, installed package, download (local HTTP server), manual, errors."""

from __future__ import annotations

import functools
import hashlib
import http.server
import json
import threading
import zipfile
from pathlib import Path

import pytest

from mmcbench.core.errors import DataError
from mmcbench.data.fetch import FetchOptions, fetch_file, fetch_group, git_blob_sha1, verify
from mmcbench.data.registry import Archive, SourceFile, get_dataset


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def http_dir(tmp_path):
    """Serve a folder over HTTP on localhost; yield (folder, base URL)."""
    root = tmp_path / "www"
    root.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_download_verifies_sha256(tmp_path, http_dir):
    root, base = http_dir
    (root / "a.mat").write_bytes(b"payload")
    spec = SourceFile(name="a.mat", url=f"{base}/a.mat", sha256=sha(b"payload"))
    entry = fetch_file(spec, "grp", FetchOptions(raw_dir=tmp_path / "raw"))
    assert Path(entry["path"]).read_bytes() == b"payload"
    assert entry["origin"].startswith("url:")
    again = fetch_file(spec, "grp", FetchOptions(raw_dir=tmp_path / "raw", offline=True))
    assert again["origin"] == "cache"  # resumable: no second download


def test_download_with_wrong_checksum_fails_and_leaves_nothing(tmp_path, http_dir):
    root, base = http_dir
    (root / "a.mat").write_bytes(b"tampered")
    spec = SourceFile(name="a.mat", url=f"{base}/a.mat", sha256=sha(b"payload"))
    with pytest.raises(DataError, match="Checksum mismatch") as info:
        fetch_file(spec, "grp", FetchOptions(raw_dir=tmp_path / "raw"))
    assert sha(b"payload") in str(info.value) and sha(b"tampered") in str(info.value)
    assert not (tmp_path / "raw" / "grp" / "a.mat").exists()


def test_archive_member_is_extracted_and_verified(tmp_path, http_dir):
    root, base = http_dir
    with zipfile.ZipFile(root / "bundle.zip", "w") as zf:
        zf.writestr("inner/dir/v1.mat", b"member-bytes")
    archive = Archive(
        url=f"{base}/bundle.zip",
        sha256=sha((root / "bundle.zip").read_bytes()),
        member="inner/dir/v1.mat",
    )
    spec = SourceFile(name="v1.mat", archive=archive, sha256=sha(b"member-bytes"))
    entry = fetch_file(spec, "grp", FetchOptions(raw_dir=tmp_path / "raw"))
    assert Path(entry["path"]).read_bytes() == b"member-bytes"


def test_mirror_copy_with_wrong_checksum_names_file_and_hashes(tmp_path):
    spec = get_dataset("3-sources").files[0]
    mirror = tmp_path / "mirror"
    fake = mirror / spec.mirror_path
    fake.parent.mkdir(parents=True)
    fake.write_bytes(b"not the real file")
    with pytest.raises(DataError) as info:
        fetch_file(spec, "3-sources", FetchOptions(raw_dir=tmp_path / "raw", mirror=mirror))
    message = str(info.value)
    assert "3-sources.mat" in message and str(fake) in message
    assert spec.sha256 in message and sha(b"not the real file") in message
    assert not (tmp_path / "raw" / "3-sources" / "3-sources.mat").exists()


def test_mirror_fetch_writes_a_manifest(tmp_path, mirror):
    manifest = fetch_group(
        "Event8", FetchOptions(raw_dir=tmp_path / "raw", mirror=mirror, offline=True)
    )
    files = json.loads(manifest.read_text())["files"]
    assert sorted(files) == ["view1.mat", "view2.mat", "view3.mat"]
    assert all(entry["origin"].startswith("mirror:") for entry in files.values())


def test_embedded_mfeat_comes_from_the_installed_package_offline(tmp_path):
    manifest = fetch_group("mfeat", FetchOptions(raw_dir=tmp_path / "raw", offline=True))
    files = json.loads(manifest.read_text())["files"]
    assert len(files) == 6
    assert {e["origin"] for e in files.values()} == {"package:mmcbench"}


def test_offline_without_a_source_is_a_clear_error(tmp_path):
    with pytest.raises(DataError, match=r"not available offline.*data\.offline is set"):
        fetch_group("Scene-15", FetchOptions(raw_dir=tmp_path / "raw", offline=True))
    assert not (tmp_path / "raw" / "Scene-15" / "manifest.json").exists()


def test_manual_dataset_says_which_file_goes_where(tmp_path):
    options = FetchOptions(raw_dir=tmp_path / "raw", manual_dir=tmp_path / "manual")
    with pytest.raises(DataError) as info:
        fetch_group("MIRFlickr", options)
    message = str(info.value)
    assert str(tmp_path / "manual" / "MIRFlickr" / "flickr.mat") in message
    assert "'X1'" in message and "12154 × 4096" in message and "6 distinct classes" in message


def test_manual_file_is_used_when_placed(tmp_path):
    import numpy as np
    import scipy.io

    options = FetchOptions(raw_dir=tmp_path / "raw", manual_dir=tmp_path / "manual")
    placed = tmp_path / "manual" / "WVU" / "WVU.mat"
    placed.parent.mkdir(parents=True)
    scipy.io.savemat(placed, {"X1": np.ones((3, 2)), "Y": np.arange(3)})
    files = json.loads(fetch_group("WVU", options).read_text())["files"]
    assert files["WVU.mat"] == {
        "path": str(placed),
        "sha256": sha(placed.read_bytes()),
        "origin": f"manual:{placed}",
    }


@pytest.mark.parametrize("content", [b"user data", b"", b"MATLAB 5.0 MAT-file" + b" " * 200])
def test_unreadable_manual_file_says_replace_it_not_fetch_again(tmp_path, content):
    """A hand-placed file has no download to fetch again: the message says to replace it, and
    what it must hold and where it comes from (the registry's instructions and notes)."""
    options = FetchOptions(raw_dir=tmp_path / "raw", manual_dir=tmp_path / "manual")
    placed = tmp_path / "manual" / "WVU" / "WVU.mat"
    placed.parent.mkdir(parents=True)
    placed.write_bytes(content)
    with pytest.raises(DataError) as info:
        fetch_group("WVU", options)
    message = str(info.value)
    assert f"{placed} (hand-placed, no public download) cannot be read" in message
    assert "replace it with a complete, readable copy" in message
    assert "No public copy was found" in message  # the registry's note on WVU
    assert "650 entries and 10 distinct classes" in message
    assert "fetch it again" not in message and "\n" not in message
    assert not (tmp_path / "raw" / "WVU" / "manifest.json").exists()


def test_manual_path_that_is_a_folder_is_called_a_folder(tmp_path):
    options = FetchOptions(raw_dir=tmp_path / "raw", manual_dir=tmp_path / "manual")
    placed = tmp_path / "manual" / "WVU" / "WVU.mat"
    placed.mkdir(parents=True)
    with pytest.raises(DataError) as info:
        fetch_group("WVU", options)
    message = str(info.value)
    assert f"{placed} is a folder, not the file WVU.mat" in message
    assert "does not exist" not in message


def test_a_mirror_that_is_not_a_folder_is_refused_naming_it(tmp_path):
    missing = tmp_path / "no-such-mirror"
    with pytest.raises(DataError, match="does not exist") as info:
        FetchOptions(raw_dir=tmp_path / "raw", mirror=missing)
    assert f"mirror folder {missing} (--mirror" in str(info.value)
    a_file = tmp_path / "file"
    a_file.write_text("")
    with pytest.raises(DataError, match=f"mirror folder {a_file} .* is not a folder"):
        FetchOptions(raw_dir=tmp_path / "raw", mirror=a_file)
    assert FetchOptions(raw_dir=tmp_path / "raw", mirror=tmp_path).mirror == tmp_path


def test_git_blob_checksum(tmp_path):
    path = tmp_path / "f.bin"
    path.write_bytes(b"hello\n")
    assert git_blob_sha1(path) == "ce013625030ba8dba906f756967f9e9ca394464a"  # `git hash-object`
    spec = SourceFile(
        name="f.bin",
        url="https://example.invalid/f.bin",
        git_blob="ce013625030ba8dba906f756967f9e9ca394464a",
    )
    assert verify(path, spec, "test") == sha(b"hello\n")
    path.write_bytes(b"hello again\n")
    with pytest.raises(DataError, match="expected git blob"):
        verify(path, spec, "test")


def test_packaged_gzip_file_is_verified_after_decompression(tmp_path):
    import gzip

    from mmcbench.data.fetch import _copy_packaged
    from mmcbench.data.registry import SourceFile

    packed = tmp_path / "x.csv.gz"
    packed.write_bytes(gzip.compress(b"a,b\n1,2\n"))
    good = SourceFile(name="x.csv", sha256=hashlib.sha256(b"a,b\n1,2\n").hexdigest())
    dest = tmp_path / "raw" / "x.csv"
    assert _copy_packaged(packed, dest, good, "test") == good.sha256
    assert dest.read_bytes() == b"a,b\n1,2\n"
    dest.unlink()
    bad = SourceFile(name="x.csv", sha256="0" * 64)
    with pytest.raises(DataError, match="Checksum mismatch"):
        _copy_packaged(packed, dest, bad, "test")
    assert not list((tmp_path / "raw").iterdir())
