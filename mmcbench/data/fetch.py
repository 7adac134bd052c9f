"""Obtain a dataset's raw files, checksum-verified, into `resources/raw/{group}/`.

A user's dataset (config `user_datasets`) has one file, read where it is: it is never copied,
moved or deleted; it must be readable and match its `sha256` when the config pins one.

Sources are tried in this order for each other file:
1. already in the raw folder with the right checksum (resumable);
2. the local mirror (`data.mirror`), laid out as `<owner>__<repo>/<path in repo>`;
3. an installed Python package that ships the file (mmcbench itself for mfeat, gzip-compressed:
   fully offline);
4. download from the public URL with pooch (retries, sha256), unless `offline` is set;
5. a manual file placed by the user in `manual_dir/{group}/` (datasets with no public URL):
   it has no registry checksum, so it is read through once here and refused, with what to
   place instead, when it cannot be read.

A checksum mismatch is an error naming the file, the expected and the actual hash; it is
never silently replaced by another source. The manifest (written last, atomically) lists each
file with its sha256 and where it came from, and is what the converter reads.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import logging
import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path

from mmcbench.core import atomic
from mmcbench.core.errors import DataError
from mmcbench.data.registry import SourceFile, group_datasets, group_files

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
RETRIES = 3


@dataclass(frozen=True)
class FetchOptions:
    """Where raw files come from. A mirror that is given must be an existing folder (checked
    here, before anything is fetched: a mistyped mirror would otherwise be passed over)."""

    raw_dir: Path
    mirror: Path | None = None
    offline: bool = False
    manual_dir: Path = Path("resources/manual")

    def __post_init__(self) -> None:
        if self.mirror is not None and not Path(self.mirror).is_dir():
            problem = "is not a folder" if Path(self.mirror).exists() else "does not exist"
            raise DataError(
                f"mirror folder {self.mirror} (--mirror; data.mirror in the config) {problem}. "
                "Give the folder of the local dataset mirror (laid out as "
                "<owner>__<repo>/<path in repo>), or leave the option out to use the raw "
                "folder, installed packages and downloads only."
            )


def sha256sum(path: Path) -> str:
    """Hex sha256 of a file."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def git_blob_sha1(path: Path) -> str:
    """The git blob id of a file: sha1 of `blob <size>\\0` followed by the content."""
    digest = hashlib.sha1()
    digest.update(f"blob {path.stat().st_size}\0".encode())
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verify(path: Path, spec: SourceFile, origin: str) -> str:
    """Check `path` against the registry checksum; return its sha256. Raise DataError if not."""
    actual = sha256sum(path)
    if spec.sha256 and actual != spec.sha256:
        raise DataError(
            f"Checksum mismatch for {spec.name} (from {origin}, file {path}): expected sha256 "
            f"{spec.sha256}, actual sha256 {actual}. The file is corrupt, truncated or a "
            "different version; delete it and fetch again, or fix the mirror."
        )
    if spec.git_blob:
        blob = git_blob_sha1(path)
        if blob != spec.git_blob:
            raise DataError(
                f"Checksum mismatch for {spec.name} (from {origin}, file {path}): expected git "
                f"blob {spec.git_blob}, actual git blob {blob}. The file is corrupt, truncated "
                "or a different version; delete it and fetch again, or fix the mirror."
            )
    return actual


def _has_checksum(spec: SourceFile) -> bool:
    return bool(spec.sha256 or spec.git_blob)


def _copy_verified(src: Path, dest: Path, spec: SourceFile, origin: str) -> str:
    """Verify `src`, then copy it atomically to `dest`."""
    digest = verify(src, spec, origin)
    with atomic.atomic_path(dest) as tmp:
        shutil.copyfile(src, tmp)
    return digest


def _copy_packaged(src: Path, dest: Path, spec: SourceFile, origin: str) -> str:
    """A file shipped in a package, gzip-compressed or not: decompress to a temporary beside
    `dest`, verify the bytes, then rename (nothing is left on a mismatch)."""
    if src.suffix != ".gz":
        return _copy_verified(src, dest, spec, origin)
    with atomic.atomic_path(dest) as tmp:
        with gzip.open(src, "rb") as packed, open(tmp, "wb") as out:
            shutil.copyfileobj(packed, out)
        return verify(tmp, spec, origin)


def _package_file(spec: SourceFile) -> Path | None:
    """The file inside an installed package, located without importing the package."""
    if spec.package is None:
        return None
    module, inner = spec.package
    found = importlib.util.find_spec(module)
    if found is None or not found.submodule_search_locations:
        return None
    for location in found.submodule_search_locations:
        candidate = Path(location) / inner
        if candidate.is_file():
            return candidate
    return None


def _download(url: str, sha256: str | None, dest_dir: Path, fname: str) -> Path:
    """Download with pooch (retries, sha256 check); return the local path."""
    import pooch

    known = f"sha256:{sha256}" if sha256 else None
    fetcher = pooch.create(
        path=dest_dir,
        base_url="",
        registry={fname: known},
        urls={fname: url},
        retry_if_failed=RETRIES,
    )
    try:
        return Path(fetcher.fetch(fname))
    except ValueError as exc:  # pooch's hash mismatch
        raise DataError(
            f"Checksum mismatch downloading {url} as {dest_dir / fname}: {exc}"
        ) from exc
    except Exception as exc:
        raise DataError(
            f"Could not download {url} to {dest_dir / fname} ({type(exc).__name__}: {exc}). "
            "Check the network, or set data.mirror to a local mirror folder."
        ) from exc


def _extract_member(archive: Path, member: str, dest: Path, spec: SourceFile) -> str:
    try:
        with zipfile.ZipFile(archive) as zf, atomic.atomic_path(dest) as tmp:
            with zf.open(member) as src, open(tmp, "wb") as out:
                shutil.copyfileobj(src, out)
            digest = verify(tmp, spec, f"{archive}:{member}")
    except (zipfile.BadZipFile, KeyError) as exc:
        raise DataError(f"Cannot read member {member} of archive {archive}: {exc}") from exc
    return digest


def fetch_file(spec: SourceFile, group: str, options: FetchOptions) -> dict[str, str]:
    """Bring one file into the raw folder; return its manifest entry."""
    if spec.user:
        return _user_file(spec, group)
    dest = options.raw_dir / group / spec.name
    if dest.is_file() and _has_checksum(spec):
        try:
            return {"path": str(dest), "sha256": verify(dest, spec, "cache"), "origin": "cache"}
        except DataError:
            log.warning("cached %s does not match its checksum; fetching it again", dest)
            dest.unlink()

    if options.mirror is not None and spec.mirror_path is not None:
        mirrored = options.mirror / spec.mirror_path
        if mirrored.is_file():
            log.info("%s: from mirror %s", spec.name, mirrored)
            digest = _copy_verified(mirrored, dest, spec, f"mirror {mirrored}")
            return {"path": str(dest), "sha256": digest, "origin": f"mirror:{mirrored}"}
        log.info("%s: not in mirror (looked for %s)", spec.name, mirrored)

    packaged = _package_file(spec)
    if packaged is not None:
        log.info("%s: from installed package %s (%s)", spec.name, spec.package[0], packaged)
        digest = _copy_packaged(packaged, dest, spec, f"installed package {packaged}")
        return {"path": str(dest), "sha256": digest, "origin": f"package:{spec.package[0]}"}

    if spec.manual:
        return _manual_file(spec, group, options)

    where = (
        f" or in the mirror at {options.mirror / spec.mirror_path}"
        if (options.mirror is not None and spec.mirror_path)
        else ""
    )
    if options.offline:
        raise DataError(
            f"{spec.name} of {group} is not available offline: it is not in {dest.parent}"
            f"{where}, and data.offline is set so it is not downloaded "
            f"from {spec.url or spec.archive.url}."
        )

    if spec.archive is not None:
        archive_name = spec.archive.url.rsplit("/", 1)[-1]
        archive = _download(
            spec.archive.url,
            spec.archive.sha256,
            options.raw_dir / group / "_archives",
            archive_name,
        )
        digest = _extract_member(archive, spec.archive.member, dest, spec)
        return {"path": str(dest), "sha256": digest, "origin": f"url:{spec.archive.url}"}

    downloaded = _download(spec.url, spec.sha256, options.raw_dir / group, spec.name)
    digest = verify(downloaded, spec, f"download {spec.url}")
    return {"path": str(downloaded), "sha256": digest, "origin": f"url:{spec.url}"}


def _manual_file(spec: SourceFile, group: str, options: FetchOptions) -> dict[str, str]:
    """A file the user placed by hand (no public download): it must be a readable file; it
    has no registry checksum, so its own sha256 is recorded."""
    manual = options.manual_dir / group / spec.name
    instructions = " ".join(
        d.manual_instructions(str(options.manual_dir)) for d in group_datasets(group)[:1]
    )
    if manual.is_dir():
        raise DataError(
            f"{manual} is a folder, not the file {spec.name}: put the file itself at that path "
            f"(move it out of the folder and remove the folder). {instructions}"
        )
    if not manual.is_file():
        raise DataError(f"{instructions} (Expected file {manual} does not exist.)")
    if problem := unreadable(manual):
        raise DataError(
            f"{manual} (hand-placed, no public download) cannot be read ({problem}). "
            "Fetching again cannot fix a file placed by hand: replace it with a complete, "
            f"readable copy. {instructions}"
        )
    digest = sha256sum(manual)
    log.info("%s: manual file %s (sha256 %s)", spec.name, manual, digest)
    return {"path": str(manual), "sha256": digest, "origin": f"manual:{manual}"}


def _user_file(spec: SourceFile, group: str) -> dict[str, str]:
    """A user's dataset file (`spec.name` is its path): a readable file, with the sha256 the
    config pins if it pins one; recorded in place with its own sha256."""
    path = Path(spec.name)
    where = f"{path} (the file of user_datasets.{group} in the config)"
    if not path.is_file():
        problem = "is not a file" if path.exists() else "does not exist"
        raise DataError(
            f"{where} {problem}. Put the file there, or correct user_datasets.{group}.path."
        )
    if problem := unreadable(path):
        raise DataError(
            f"{where} cannot be read ({problem}). It should be a MATLAB .mat file (any "
            "version) or an HDF5 .h5 / .hdf5 file holding the views and the labels."
        )
    actual = sha256sum(path)
    if spec.sha256 and actual != spec.sha256:
        raise DataError(
            f"{where} has sha256 {actual}, but user_datasets.{group}.sha256 pins "
            f"{spec.sha256}: the file changed since it was pinned. Restore it, or write its "
            "new sha256 in the config if the change is meant; the file was left as it is."
        )
    log.info("%s: user file %s (sha256 %s)", group, path, actual)
    return {"path": str(path), "sha256": actual, "origin": f"user:{path}"}


def unreadable(path: Path) -> str | None:
    """Why the raw file `path` cannot be read (corrupt, truncated, not that format), or None.
    The whole file is read, as convert reads it (once per fetch of a hand-placed file)."""
    from mmcbench.data.readers import read_file

    try:
        contents = read_file(path)
    except DataError as exc:
        cause = exc.__cause__
        return f"{type(cause).__name__}: {cause}" if cause is not None else str(exc)
    return None if contents else "it holds no variable"


def fetch_group(group: str, options: FetchOptions) -> Path:
    """Fetch every file of a raw-file group and write its manifest; return the manifest path."""
    files = {spec.name: fetch_file(spec, group, options) for spec in group_files(group)}
    manifest = options.raw_dir / group / MANIFEST
    atomic.write_json(manifest, {"group": group, "files": files})
    return manifest


def file_status(spec: SourceFile, group: str, options: FetchOptions) -> str:
    """Where `spec` would come from right now, without fetching it (for `mmcbench datasets`)."""
    if spec.user:
        return "user" if Path(spec.name).is_file() else "MISSING"
    if (options.raw_dir / group / spec.name).is_file():
        return "raw"
    if (
        options.mirror is not None
        and spec.mirror_path
        and (options.mirror / spec.mirror_path).is_file()
    ):
        return "mirror"
    if _package_file(spec) is not None:
        return "package"
    if spec.manual:
        return "manual" if (options.manual_dir / group / spec.name).is_file() else "MISSING"
    return "download" if not options.offline else "MISSING"
