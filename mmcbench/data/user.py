"""A user's own datasets: the config's `user_datasets` (README "Add a dataset").

Each entry names a local file (MATLAB .mat of any version, or HDF5 .h5 / .hdf5), the variable
of each view and of the labels, n and k, and optionally view names, the layout and a sha256
to pin the file. `register` checks the entries (clear one-paragraph errors naming the key and
the problem) and makes them registry entries by setting the environment variable the registry
reads (`mmcbench.data.registry.USER_DATASETS_VARIABLE`): the jobs Snakemake starts inherit it.
The file itself is checked like every dataset's, by `fetch` (readable, the pinned sha256) and
`convert` (keys, shapes, n, k, NaN, integer labels); it is read where it is, never copied or
changed. Pure standard library: the Snakefile imports it.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mmcbench.core.errors import ConfigError
from mmcbench.data.registry import (
    DATASETS,
    USER_DATASETS_VARIABLE,
    Dataset,
    Location,
    SourceFile,
    View,
)

SUFFIXES = (".mat", ".h5", ".hdf5")
LAYOUTS = ("samples_first", "features_first")
REQUIRED = ("path", "views", "labels", "n_samples", "k")
OPTIONAL = ("view_names", "layout", "sha256", "description")
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")  # a path part and a `group` wildcard
CELL_KEY = re.compile(r"^(.+)\{([1-9][0-9]*)\}$")  # `X{2}`: cell 2 of the cell array X
SHA256 = re.compile(r"^[0-9a-f]{64}$")
# Folders the workflow writes (and rewrites) under its working directory.
WORKFLOW_OUTPUTS = ("resources/hdf5", "resources/raw")
FORMAT = (
    "Each entry of user_datasets is NAME: {path: FILE (.mat or .h5), views: [KEY, ...], "
    "labels: KEY, n_samples: N, k: K} with optional view_names, layout (samples_first or "
    "features_first), sha256 and description; a KEY is a variable (an HDF5 path such as "
    "'views/0'), or 'X{2}' for cell 2 of a MATLAB cell array X (README \"Add a dataset\")"
)


def _problem(where: str, key: str, problem: str) -> ConfigError:
    return ConfigError(f"Invalid configuration ({where}): key '{key}': {problem}. {FORMAT}.")


def _location(file: str, key: str) -> Location:
    match = CELL_KEY.match(key)
    if match:
        return Location(file, (match.group(1),), cell=int(match.group(2)) - 1)
    return Location(file, (key,))


def _text(value: Any) -> bool:
    return isinstance(value, str) and value.strip() != ""


def _count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def normalise(name: Any, entry: Any, where: str) -> dict[str, Any]:
    """One entry checked, its defaults filled in and its path made absolute (from the working
    directory); a ConfigError naming the key and the problem otherwise."""
    at = f"user_datasets.{name}"
    if not (isinstance(name, str) and NAME.match(name)):
        raise _problem(
            where,
            at,
            f"{name!r} is not a usable dataset name (letters, digits, '_', '.', '-'; it names "
            "folders and files)",
        )
    builtin = {d.name for d in DATASETS} | {d.group for d in DATASETS}
    if name in builtin:
        raise _problem(
            where, at, f"{name!r} is a built-in dataset (or raw-file group) name; pick another"
        )
    if not isinstance(entry, Mapping):
        raise _problem(where, at, f"expected a mapping of its settings, got {entry!r}")
    unknown = sorted(set(entry) - set(REQUIRED) - set(OPTIONAL))
    if unknown:
        raise _problem(
            where,
            f"{at}.{unknown[0]}",
            f"unknown setting; allowed: {', '.join(REQUIRED + OPTIONAL)}",
        )
    missing = [k for k in REQUIRED if k not in entry]
    if missing:
        raise _problem(where, f"{at}.{missing[0]}", "required setting missing")
    path = entry["path"]
    if not _text(path) or Path(path).suffix.lower() not in SUFFIXES:
        raise _problem(where, f"{at}.path", f"{path!r} is not a .mat, .h5 or .hdf5 file name")
    views = entry["views"]
    if not (isinstance(views, list) and views and all(_text(v) for v in views)):
        raise _problem(
            where, f"{at}.views", f"expected a list of one variable name per view, got {views!r}"
        )
    if len(set(views)) != len(views):
        raise _problem(where, f"{at}.views", f"{views} names a variable twice")
    if not _text(entry["labels"]):
        raise _problem(
            where, f"{at}.labels", f"expected the label variable's name, got {entry['labels']!r}"
        )
    n, k = entry["n_samples"], entry["k"]
    if not (_count(n) and n >= 2):
        raise _problem(where, f"{at}.n_samples", f"expected a whole number ≥ 2, got {n!r}")
    if not (_count(k) and 2 <= k <= n):
        raise _problem(
            where, f"{at}.k", f"expected a whole number of classes from 2 to n_samples, got {k!r}"
        )
    view_names = entry.get("view_names", [f"view{i + 1}" for i in range(len(views))])
    if not (
        isinstance(view_names, list)
        and len(view_names) == len(views)
        and all(_text(v) for v in view_names)
        and len(set(view_names)) == len(view_names)
    ):
        raise _problem(
            where,
            f"{at}.view_names",
            f"expected {len(views)} distinct names, one per view of 'views', got {view_names!r}",
        )
    layout = entry.get("layout", "samples_first")
    if layout not in LAYOUTS:
        raise _problem(where, f"{at}.layout", f"{layout!r} is not one of {', '.join(LAYOUTS)}")
    sha256 = entry.get("sha256")
    if sha256 is not None and not (isinstance(sha256, str) and SHA256.match(sha256)):
        raise _problem(where, f"{at}.sha256", f"{sha256!r} is not 64 lowercase hex digits")
    description = entry.get("description", f"user dataset from {path}")
    if not isinstance(description, str):
        raise _problem(where, f"{at}.description", f"expected text, got {description!r}")
    return {
        "path": os.path.abspath(path),
        "views": list(views),
        "labels": entry["labels"],
        "n_samples": n,
        "k": k,
        "view_names": list(view_names),
        "layout": layout,
        "sha256": sha256,
        "description": description,
    }


def dataset(name: str, entry: Mapping[str, Any]) -> Dataset:
    """The registry entry of a normalised user entry."""
    file = entry["path"]
    return Dataset(
        name=name,
        description=entry["description"],
        n_samples=entry["n_samples"],
        n_clusters=entry["k"],
        views=tuple(
            View(name=view_name, at=_location(file, key), layout=entry["layout"])
            for key, view_name in zip(entry["views"], entry["view_names"], strict=True)
        ),
        labels=_location(file, entry["labels"]),
        files=(SourceFile(name=file, sha256=entry["sha256"], user=True),),
    )


def _check_file(name: str, path: str, where: str) -> None:
    """The file exists, and is not where the workflow writes (it would be replaced)."""
    at = f"user_datasets.{name}.path"
    file = Path(path)
    if not file.exists():
        raise _problem(
            where, at, f"{path} does not exist (a relative path is read from the working directory)"
        )
    if not file.is_file():
        raise _problem(where, at, f"{path} is not a file")
    for folder in WORKFLOW_OUTPUTS:
        if Path(os.path.abspath(folder)) in file.parents:
            raise _problem(
                where,
                at,
                f"{path} is inside {folder}/, which the workflow writes and replaces; keep "
                "your file outside it",
            )


def register(user_datasets: Mapping[str, Any] | None, where: str = "config") -> list[Dataset]:
    """Check the config's `user_datasets` and register them (for this process and the jobs it
    starts); an empty or missing section registers none. Returns the datasets."""
    user_datasets = user_datasets or {}
    if not isinstance(user_datasets, Mapping):
        raise ConfigError(
            f"Invalid configuration ({where}): key 'user_datasets': expected a mapping of "
            f"dataset names to their settings, got {user_datasets!r}. {FORMAT}."
        )
    entries = {name: normalise(name, entry, where) for name, entry in user_datasets.items()}
    for name, entry in entries.items():
        _check_file(name, entry["path"], where)
    if entries:
        os.environ[USER_DATASETS_VARIABLE] = json.dumps(entries, sort_keys=True)
    else:
        os.environ.pop(USER_DATASETS_VARIABLE, None)
    return [dataset(name, entry) for name, entry in entries.items()]


def datasets_from_environment(text: str) -> tuple[Dataset, ...]:
    """The datasets `register` wrote to the environment variable (checked again)."""
    where = f"environment variable {USER_DATASETS_VARIABLE}"
    try:
        entries = json.loads(text)
    except ValueError as exc:
        raise ConfigError(f"{where} is not JSON ({exc}); {FORMAT}") from None
    if not isinstance(entries, dict):
        raise ConfigError(f"{where} is not a JSON object; {FORMAT}")
    return tuple(dataset(name, normalise(name, entry, where)) for name, entry in entries.items())
