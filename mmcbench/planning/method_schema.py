"""A deep method's section of the config schema, written from its settings class.

Each hyper-parameter's rule (type, enum, bounds, default, description) comes from its field
(`mmcbench.core.settings.fields_schema`). The workflow keys (`catalogue.WORKFLOW_KEYS`: the runs
a config selects and how they execute) are written here, once for every method: `variants`
(from the method's VARIANTS), `grid` (methods whose run path spells α and β), `readings`
(methods with the `compression` key), `embeddings_at`, `device`, `threads`, `seeds`. The method
folder's `schema.yaml` adds what neither can say: the section's description and its workflow
keys' own words and defaults (e.g. which variants run by default); a rule it writes updates the
written one key by key.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from mmcbench.core.errors import ConfigError
from mmcbench.core.settings import READING_KEY, fields_schema
from mmcbench.planning import catalogue

SYMBOLS = {"alpha": "α", "beta": "β"}
GRID_VALUES = [round(i / 10, 1) for i in range(11)]  # 0, 0.1, …, 1.0 (the papers' grids)


def section_schema(method: str) -> dict[str, Any]:
    """The config section of deep `method`: its hyper-parameters from its settings class, the
    workflow keys, then its folder's schema.yaml."""
    entry = catalogue.get(method)
    hyper = fields_schema(catalogue.config_class(method))
    properties: dict[str, Any] = {"variants": _variants(method), **hyper}
    if entry.path_keys:
        properties["grid"] = _grid(method, {k: hyper[k] for k in entry.path_keys})
    if READING_KEY in hyper:
        properties["readings"] = _readings(method, hyper[READING_KEY])
    properties |= {
        "embeddings_at": {
            "description": (
                "Epochs (of the whole schedule) at which the representation is saved (for t-SNE)."
            ),
            "type": "array",
            "items": {"type": "integer", "minimum": 0},
            "default": [0, 5, 100],
        },
        "device": {
            "description": "Training device; auto = cuda when available, else CPU.",
            "enum": ["auto", "cpu", "cuda"],
            "default": "auto",
        },
        "threads": {
            "description": (
                "CPU threads per training job (torch.set_num_threads; Snakemake schedules by it)."
            ),
            "type": "integer",
            "minimum": 1,
            "default": 1,
        },
        "seeds": {
            "description": (
                f"Seeds of {method}'s table runs (0…seeds−1); null = the top-level 'seeds'. "
                "Fewer for a costly method: its table cells and claims then rest on fewer runs "
                "(n_runs in summary.csv)."
            ),
            "type": ["integer", "null"],
            "minimum": 1,
            "default": None,
        },
    }
    section = {
        "description": f"{method}, trained per dataset, variant and seed.",
        "type": "object",
        "additionalProperties": False,
        "default": {},
        "properties": properties,
    }
    own = folder_schema(method)
    for key, value in own.items():
        if key != "properties":
            section[key] = value
    for key, rule in (own.get("properties") or {}).items():
        properties[key] = {**properties.get(key, {}), **rule}
    return section


def folder_schema(method: str) -> dict[str, Any]:
    """What the method folder's schema.yaml adds to its section ({} without one)."""
    import yaml

    package = catalogue.get(method).package
    path = Path(importlib.import_module(package).__file__).parent / "schema.yaml"
    if not path.is_file():
        return {}
    try:
        own = yaml.safe_load(path.read_text()) or {}
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read {method}'s schema.yaml ({exc.strerror})") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: {method}'s schema.yaml is not valid YAML ({exc})") from exc
    if not isinstance(own, dict) or not isinstance(own.get("properties", {}), dict):
        raise ConfigError(
            f"{path}: {method}'s schema.yaml must be a mapping, its `properties` one rule per key "
            "of its section that the settings class does not describe (its description, its "
            'variants\' default; README "Add a method")'
        )
    return own


def _variants(method: str) -> dict[str, Any]:
    return {
        "description": f"Runs to train ({method} = the full model). [] = no {method}.",
        "type": "array",
        "items": {"enum": catalogue.variants(method)},
        "uniqueItems": True,
        "default": [],
    }


def _grid(method: str, axes: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The grid over the path keys (α, β) of the full model, each axis within its key's rule."""
    properties = {}
    for key, rule in axes.items():
        item = {k: v for k, v in rule.items() if k in ("type", "minimum", "maximum")}
        properties[f"{key}s"] = {
            "description": f"{SYMBOLS.get(key, key)} values of the grid (paper - 0, 0.1, …, 1.0).",
            "type": "array",
            "items": item,
            "minItems": 1,
            "uniqueItems": True,
            "default": list(GRID_VALUES),
        }
    properties["seeds"] = {
        "description": "Seeds per grid point (config/config.yaml - 3); 0 = no grid.",
        "type": "integer",
        "minimum": 0,
        "default": 0,
    }
    properties["readings"] = {
        "description": (
            f"Train the grid under every reading of readings.{READING_KEY} too (each grid point "
            f"as the study point {READING_KEY}=<value>), so that results/paper_checks.csv checks "
            "GIB Fig. 4's α/β insensitivity per reading; false = the configured reading only."
        ),
        "type": "boolean",
        "default": False,
    }
    return {
        "description": (
            f"α/β grid of the full {method} model. Every (α, β) in alphas × betas is trained "
            "with seeds 0..seeds-1 as an ordinary run (same record path as any run, so a grid "
            "point at the default (α, β) is not trained twice), summarised over exactly these "
            "seeds in results/grid.csv and drawn in figures/grid/. seeds 0 = no grid."
        ),
        "type": "object",
        "additionalProperties": False,
        "default": {},
        "properties": properties,
    }


def _readings(method: str, rule: dict[str, Any]) -> dict[str, Any]:
    """Readings of the compression term run as rows (its values from the key's enum)."""
    key = READING_KEY
    return {
        "description": (
            "Readings of the compression term run as rows of the tables and of the claims, each "
            "with its own verdicts (spec/GIB.md; the configured compression stays the plain "
            f"{method} row, and no reading is promoted for its score). {key} - values of key "
            f"{key} besides the configured one: the full model ({method}) is trained under each "
            f"at every table seed, as the study point {key}=<value> (the resolution study's runs "
            "of the same key are the same files), and on the α/β grid too with grid.readings. "
            f"[] = none; nothing either when variants leave {method} out (its table rows are "
            "off)."
        ),
        "type": "object",
        "additionalProperties": False,
        "default": {},
        "properties": {
            key: {
                "description": (
                    f"Readings of key {key} to run as rows (the configured one is the plain row)."
                ),
                "type": "array",
                "items": {"enum": list(rule["enum"])},
                "uniqueItems": True,
                "default": [],
            }
        },
    }
