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
    check_resolution(config, schema, source("resolution"))
    known = set(dataset_names())
    for i, name in enumerate(config.get("datasets", [])):
        if name not in known:
            raise ConfigError(
                f"Invalid configuration ({source('datasets')}): key 'datasets[{i}]': unknown "
                f"dataset {name!r}. Known datasets: {', '.join(dataset_names())} "
                "(`mmcbench datasets` lists them with their availability)."
            )


def check_resolution(config: Mapping[str, Any], schema: Mapping[str, Any], source: str) -> None:
    """The study's keys: each a scalar hyper-parameter of a studied method's section, every value
    valid for that key by the section's own schema (one source of the rules)."""
    import jsonschema

    from benchmark.study import NOT_STUDIED, RUN_KEYS

    study = config.get("resolution") or {}
    if not study.get("seeds"):
        return
    sections = {"GIB": "gib", "CLIB": "clib"}
    variants = study.get("variants", _subschema(schema, ["resolution", "variants"]).get("default"))
    methods = [m for m, v in (variants or {}).items() if v]
    keys = study.get("keys", _subschema(schema, ["resolution", "keys"]).get("default", {}))
    for key, values in keys.items():
        where = f"Invalid configuration ({source}): key 'resolution.keys.{key}'"
        if key in NOT_STUDIED or key in RUN_KEYS:
            raise ConfigError(
                f"{where}: {key} cannot be studied (α and β have the grid; epochs, runs and "
                "devices are the protocol, not a reading)."
            )
        owners = [
            m for m in methods if key in _subschema(schema, [sections[m]]).get("properties", {})
        ]
        if not owners:
            raise ConfigError(
                f"{where}: no studied method ({', '.join(methods) or 'none'}) has a key {key!r}; "
                "keys of gib and clib: "
                + ", ".join(
                    sorted(_hyper_parameters(schema, "gib") | _hyper_parameters(schema, "clib"))
                )
            )
        for method in owners:
            rule = _subschema(schema, [sections[method], key])
            if rule.get("type") in ("array", "object"):
                raise ConfigError(f"{where}: {sections[method]}.{key} is not a scalar setting")
            for value in values:
                error = jsonschema.exceptions.best_match(
                    jsonschema.validators.validator_for(schema)(rule).iter_errors(value)
                )
                if error is not None:
                    raise ConfigError(
                        f"{where}: value {value!r} is not a valid {sections[method]}.{key} "
                        f"({error.message}). {rule.get('description', '')}".strip()
                    )


def _hyper_parameters(schema: Mapping[str, Any], section: str) -> set[str]:
    from benchmark.study import NOT_STUDIED, RUN_KEYS

    properties = _subschema(schema, [section]).get("properties", {})
    return {
        k
        for k, rule in properties.items()
        if k not in RUN_KEYS
        and k not in NOT_STUDIED
        and rule.get("type") not in ("array", "object")
    }
