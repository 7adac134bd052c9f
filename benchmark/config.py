"""Workflow configuration checks that give one clear paragraph per problem.

Used by the Snakefile before `snakemake.utils.validate` (which fills in the schema defaults):
jsonschema's own messages dump the whole schema, ours name the key, the config file(s), the
offending value and what the key means. Needs only jsonschema and PyYAML (both come with
Snakemake), so it runs in the Snakemake process.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from benchmark.data.registry import dataset_names
from benchmark.errors import ConfigError


def load_schema(path: str | Path) -> dict[str, Any]:
    """Read the YAML (or JSON) config schema."""
    import yaml

    return yaml.safe_load(Path(path).read_text())


def _describe_files(files: Iterable[Any]) -> str:
    names = [str(f) for f in files]
    return ", ".join(names) if names else "the command line --config"


def _subschema(schema: Mapping[str, Any], path: list[Any]) -> Mapping[str, Any]:
    node: Mapping[str, Any] = schema
    for part in path:
        if isinstance(part, int):
            node = node.get("items", {})
        else:
            node = node.get("properties", {}).get(part, {})
    return node


def check_config(
    config: Mapping[str, Any],
    schema: Mapping[str, Any],
    files: Iterable[Any] = (),
    overrides: Mapping[str, Any] | None = None,
) -> None:
    """Raise ConfigError naming the first invalid key; check dataset names against the registry.

    `files` are the config files given, `overrides` the command line's --config values: the
    message names the one a bad key came from.
    """
    import jsonschema

    overrides = overrides or {}
    files = list(files)

    def source(top_key: object) -> str:
        if top_key in overrides:
            return "command-line --config"
        return f"config file: {_describe_files(files)}"

    validator_cls = jsonschema.validators.validator_for(schema)
    errors = list(validator_cls(schema).iter_errors(dict(config)))
    if errors:
        error = jsonschema.exceptions.best_match(errors)
        path = list(error.absolute_path)
        key = ".".join(str(p) for p in path) or "(top level)"
        meaning = _subschema(schema, path).get("description", "")
        if error.validator == "additionalProperties":
            meaning = "Allowed keys here: " + ", ".join(
                sorted(_subschema(schema, path).get("properties", {}))
            )
        raise ConfigError(
            f"Invalid configuration ({source(path[0] if path else None)}): key '{key}': "
            f"{error.message}. {meaning}".strip()
        )
    known = set(dataset_names())
    for i, name in enumerate(config.get("datasets", [])):
        if name not in known:
            raise ConfigError(
                f"Invalid configuration ({source('datasets')}): key 'datasets[{i}]': unknown "
                f"dataset {name!r}. Known datasets: {', '.join(dataset_names())} "
                "(`mmcbench datasets` lists them with their availability)."
            )
