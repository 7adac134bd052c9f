"""The run-path grammar: where a run's record lives, written by the rules and read back by
every reader (aggregation, figures), with one spelling of a value in a path and back.

    results/runs/<method>/<dataset>/<variant>/seed<N>.json                          baselines
    results/runs/<method>/<dataset>/<variant>/a<α>_b<β>/seed<N>.json                deep runs
    results/runs/<method>/<dataset>/<variant>/a<α>_b<β>/<key>=<value>/seed<N>.json  study points

A number is spelled exactly (the shortest positional text that reads back as the same float:
0.5, 1, 0.00001, 0.00012345678), so two different values never share a path and a path part
always reads back as the value that was trained. Torch-free: the workflow and the CLI use it.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# What the rules' wildcards accept: a number of a setting, a study key and a study value.
NUMBER_PATTERN = r"[0-9]+(?:\.[0-9]+)?"
KEY_PATTERN = r"[a-z][a-z0-9_]*"
VALUE_PATTERN = r"[A-Za-z0-9_.+\-]+"
SEED_PATTERN = r"[0-9]+"
MAX_PART = 100  # characters of a value in a path (file systems allow 255 per folder name)


def number_text(value: float) -> str:
    """A number as a path spells it: exact, positional, no trailing zeros (0.5, 1, 0.00001)."""
    import numpy as np

    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{value!r} is not a number")
    if not math.isfinite(value):
        raise ValueError(f"{value!r} is not a finite number")
    if isinstance(value, int):
        return str(value)
    text = np.format_float_positional(float(value), unique=True, trim="-")
    return "0" if text == "-0" else text


def format_value(value: Any) -> str:
    """A value as it appears in a run path: JSON spelling (true, null, exp_logvar), numbers
    exact (`number_text`)."""
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return number_text(value)
    return json.dumps(value)


def parse_value(text: str) -> Any:
    """The value a path part or `--set KEY=VALUE` spells (JSON where it parses, else text)."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def same_value(a: Any, b: Any) -> bool:
    """Equal as config values (5 == 5.0, but True is not 1)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    return a == b


DEFAULT_SETTING = "default"  # the setting part of a method whose path spells no key


def setting_dir(alpha: float | None = None, beta: float | None = None) -> str:
    """The path part that names a deep run's setting: its (α, β), `a0.5_b0.5`, for a method
    whose path spells them (GIB, CLIB), or `default` for one that spells none (SiMVC, …)."""
    if alpha is None and beta is None:
        return DEFAULT_SETTING
    return f"a{number_text(alpha)}_b{number_text(beta)}"


def setting_of(values: Any, keys: Sequence[str]) -> str:
    """`setting_dir` of a method whose path spells `keys` (catalogue path_keys), from `values`
    (a config section or settings object holding them)."""
    get = values.get if isinstance(values, dict) else lambda k: getattr(values, k)
    if not keys:
        return DEFAULT_SETTING
    if tuple(keys) != ("alpha", "beta"):
        raise ValueError(f"run paths spell (alpha, beta) or nothing, not {tuple(keys)}")
    return setting_dir(get("alpha"), get("beta"))


def setting_values(text: str) -> dict[str, float]:
    """The values a setting part spells ({} for `default`); ValueError for another text."""
    if text == DEFAULT_SETTING:
        return {}
    if not (found := _SETTING.fullmatch(text)):
        raise ValueError(f"{text!r} is not a run setting (a<α>_b<β> or {DEFAULT_SETTING})")
    return {"alpha": float(found.group(1)), "beta": float(found.group(2))}


RUNS_FOLDER = "results/runs"  # where the workflow writes run records


def run_file(
    method: str,
    dataset: str,
    variant: str,
    seed: int | str,
    suffix: str = ".json",
    setting: str | None = None,
    point: str | None = None,
    root: str = RUNS_FOLDER,
) -> str:
    """The path of a run's file: `<root>/<method>/<dataset>/<variant>[/<setting>[/<point>]]/
    seed<seed><suffix>` (a deep run has a setting part, a study point its `key=value`). The one
    spelling of run paths: the workflow's rules and targets build them here (with wildcard
    names such as "{seed}"), `parse_run_path` reads them back."""
    parts = [root, method, dataset, variant, *([setting] if setting is not None else [])]
    parts += [point] if point is not None else []
    return "/".join(parts) + f"/seed{seed}{suffix}"


def point_dir(key: str, value: Any) -> str:
    """The path part of a resolution-study point: `<key>=<value>`."""
    return f"{key}={format_value(value)}"


def path_problem(value: Any) -> str | None:
    """Why `value` cannot be written in a run path and read back as itself, or None."""
    try:
        text = format_value(value)
    except ValueError as exc:
        return str(exc)
    if not re.fullmatch(VALUE_PATTERN, text):
        return f"its path spelling {text!r} has characters a run path cannot hold"
    if len(text) > MAX_PART:
        return f"its exact path spelling has {len(text)} characters (at most {MAX_PART})"
    if not same_value(back := parse_value(text), value):
        return f"its path spelling {text!r} reads back as {back!r}"
    return None


def check_path_values(values: Iterable[Any], where: str) -> None:
    """Every value can be spelled in a path and read back, and no two different values (or
    one value listed twice) share a path part. ValueError naming `where` and the values."""
    seen: dict[str, Any] = {}
    for value in values:
        if problem := path_problem(value):
            raise ValueError(f"{where}: value {value!r} cannot name a run: {problem}")
        text = format_value(value)
        if text in seen:
            other = seen[text]
            what = "is listed twice" if same_value(other, value) else f"and {other!r} would share"
            raise ValueError(
                f"{where}: {value!r} {what} (run path part {text!r}); each value must name "
                "its own runs: remove the duplicate"
            )
        seen[text] = value


@dataclass(frozen=True)
class RunPath:
    """A record's identity as its path states it (α, β, key: None where the path has none)."""

    method: str
    dataset: str
    variant: str
    seed: int
    alpha: float | None = None
    beta: float | None = None
    key: str | None = None
    value: Any = None
    deep: bool = False  # a deep run's path (it has a setting part)


_SETTING = re.compile(rf"a({NUMBER_PATTERN})_b({NUMBER_PATTERN})")
SETTING_PATTERN = rf"a{NUMBER_PATTERN}_b{NUMBER_PATTERN}|{DEFAULT_SETTING}"
_POINT = re.compile(rf"({KEY_PATTERN})=({VALUE_PATTERN})")
_SEED = re.compile(rf"seed({SEED_PATTERN})\.json")


def parse_run_path(path: str | Path, root: str | Path) -> RunPath | None:
    """The identity of the record at `path` below the runs folder `root`, or None when the path
    does not follow the grammar (a stray copy such as `seed0-old.json`)."""
    parts = relative_parts(path, root)
    if parts is None or len(parts) not in (4, 5, 6):
        return None
    if not (seed := _SEED.fullmatch(parts[-1])) or parts[-1] != f"seed{int(seed.group(1))}.json":
        return None  # one spelling per seed (no seed00.json beside seed0.json)
    method, dataset, variant = parts[:3]
    found = RunPath(method, dataset, variant, int(seed.group(1)))
    if len(parts) == 4:
        return found
    try:
        values = setting_values(parts[3])
    except ValueError:
        return None
    alpha, beta = values.get("alpha"), values.get("beta")
    if parts[3] != setting_dir(alpha, beta):
        return None  # one spelling per value (no a1.0_b0.5 beside a1_b0.5)
    if len(parts) == 5:
        return RunPath(method, dataset, variant, found.seed, alpha, beta, deep=True)
    if not (point := _POINT.fullmatch(parts[4])):
        return None
    key, value = point.group(1), parse_value(point.group(2))
    if path_problem(value) or parts[4] != point_dir(key, value):
        return None  # e.g. grad_clip=5.0 or lr=1e-05 (the suite writes grad_clip=5, lr=0.00001)
    return RunPath(method, dataset, variant, found.seed, alpha, beta, key, value, deep=True)


def relative_parts(path: str | Path, root: str | Path) -> tuple[str, ...] | None:
    """The parts of `path` below `root` (absolute, symbolic links kept: a linked folder inside
    the runs folder is inside it), or None when `path` is not below `root`."""
    try:
        return Path(os.path.abspath(path)).relative_to(os.path.abspath(root)).parts
    except ValueError:
        return None


def find_records(root: str | Path) -> tuple[list[Path], list[Path]]:
    """The run records below `root` (`seed<N>.json` files whose path follows the grammar),
    sorted, and the `.json` files there that do not (strays, to be reported)."""
    found, strays = [], []
    for folder, _, names in os.walk(root, followlinks=True):  # linked folders count too
        for name in names:
            if name.endswith(".json"):
                path = Path(folder) / name
                (found if parse_run_path(path, root) is not None else strays).append(path)
    return sorted(found), sorted(strays)


def identity_mismatch(record: dict[str, Any], expected: RunPath) -> str | None:
    """How a record's own identity differs from what its path says, or None."""
    params = record.get("params") or {}
    overrides = record.get("overrides") or {}
    differences = [
        f"{name} {record.get(name)!r} (path: {want!r})"
        for name, want in (
            ("method", expected.method),
            ("dataset", expected.dataset),
            ("variant", expected.variant),
            ("seed", expected.seed),
        )
        if record.get(name) != want
    ]
    if not expected.deep and "alpha" in params:
        differences.append("a deep run's record (it has α) at a baseline run's path")
    if expected.deep and expected.alpha is None and "alpha" in params:
        differences.append("a record with α at a path that spells none (…/default/…)")
    from mmcbench.planning import catalogue  # torch-free

    entry = catalogue.CATALOGUE.get(str(record.get("method")))
    if entry is not None and entry.deep != expected.deep:
        kind = "a deep method's" if entry.deep else "a baseline's"
        differences.append(
            f"{kind} record at a {'deep' if expected.deep else 'baseline'} run's path"
        )
    elif entry is not None and entry.deep and bool(entry.path_keys) != (expected.alpha is not None):
        differences.append(
            f"{entry.name}'s run path spells {'α and β' if entry.path_keys else 'no key (default)'}"
        )
    if expected.alpha is not None:
        for name, want in (("alpha", expected.alpha), ("beta", expected.beta)):
            if not isinstance(params.get(name), int | float) or params[name] != want:
                differences.append(f"{name} {params.get(name)!r} (path: {want!r})")
    want_overrides = {} if expected.key is None else {expected.key: expected.value}
    if set(overrides) != set(want_overrides) or any(
        not same_value(overrides[k], v) for k, v in want_overrides.items()
    ):
        differences.append(f"overrides {overrides!r} (path: {want_overrides!r})")
    return "; ".join(differences) or None
