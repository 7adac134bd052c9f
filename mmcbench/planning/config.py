"""Workflow configuration checks that give one clear paragraph per problem.

Used by the Snakefile before `snakemake.utils.validate` (which fills in the schema defaults):
jsonschema's own messages dump the whole schema, ours name the key, the config file(s), the
offending value and what the key means. Needs only jsonschema and PyYAML (both come with
Snakemake), so it runs in the Snakemake process.
"""

from __future__ import annotations

import functools
import importlib
import json
import math
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from mmcbench.core.errors import ConfigError
from mmcbench.data.registry import dataset_names
from mmcbench.planning import catalogue

# The one schema of the configuration: the Snakefile validates the config with it, and the
# CLI validates its hyper-parameters with its gib / clib / baselines sections.
SCHEMA_PATH = Path(__file__).resolve().parents[2] / "workflow" / "schemas" / "config.schema.yaml"


def load_schema(path: str | Path) -> dict[str, Any]:
    """Read the YAML (or JSON) config schema, with every deep method's section added, written
    from its settings class (`method_sections`): the methods' sections come from the
    catalogue, so a new method folder brings its own."""
    import yaml

    try:
        schema = yaml.safe_load(Path(path).read_text())
    except OSError as exc:
        raise ConfigError(
            f"{path}: cannot read the config schema ({exc.strerror}); mmcbench runs from its "
            "checkout (pip install -e .), where workflow/schemas/ holds it"
        ) from exc
    if isinstance(schema, dict) and isinstance(schema.get("properties"), dict):
        from mmcbench.planning import catalogue

        for name, section in method_sections().items():
            if name in schema["properties"]:
                owner = next(m for m, s in catalogue.sections().items() if s == name)
                raise ConfigError(
                    f"method {owner}'s config section {name!r} (METHOD.section in its folder, "
                    f"{importlib.import_module(catalogue.get(owner).package).__file__}) is a "
                    "key of the workflow config: rename the section"
                )
            schema["properties"][name] = section
        variants = _subschema(schema, ["resolution", "variants"])
        if isinstance(variants.get("properties"), dict):
            variants["properties"].update(study_variants_schema())
            # a method the default does not study is there with [] (documented, not studied)
            default = variants.setdefault("default", {})
            for method in variants["properties"]:
                default.setdefault(method, [])
    return schema


def study_variants_schema() -> dict[str, dict[str, Any]]:
    """`resolution.variants`' property of every deep method: the variants it may study."""
    from mmcbench.planning import catalogue

    return {
        method: {
            "description": f"{method} variants studied (absent or [] = {method} not studied).",
            "type": "array",
            "items": {"enum": catalogue.variants(method)},
            "uniqueItems": True,
        }
        for method in catalogue.deep_methods()
    }


def method_sections() -> dict[str, dict[str, Any]]:
    """Config section name → its schema, for every deep method of the catalogue, written from
    its settings class (`mmcbench.planning.method_schema`)."""
    from mmcbench.planning import catalogue
    from mmcbench.planning.method_schema import section_schema

    return {catalogue.get(name).section: section_schema(name) for name in catalogue.deep_methods()}


def method_seed_count(config: Mapping[str, Any], section: str) -> int:
    """How many seeds a deep method's table runs have: its section's `seeds`, else the
    top-level `seeds`."""
    own = config[section].get("seeds")
    return config["seeds"] if own is None else own


@functools.cache
def config_schema() -> dict[str, Any]:
    """The workflow's config schema (workflow/schemas/config.schema.yaml)."""
    return load_schema(SCHEMA_PATH)


def validated_config(
    config: dict[str, Any],
    schema_path: str | Path = SCHEMA_PATH,
    files: Iterable[Any] = (),
    overrides: Mapping[str, Any] | None = None,
) -> None:
    """Every check of a workflow config, in place: no key written twice in a file, the schema
    with clear messages (`check_config`), the schema's defaults filled in
    (snakemake.utils.validate), then the rules that join keys (`check_consistency`). The
    Snakefile and `mmcbench estimate` both call it (the Snakefile checks the devices,
    `check_devices`, once it knows where jobs run)."""
    from snakemake.utils import validate

    files = list(files)
    schema = load_schema(schema_path)
    check_duplicate_keys(files)
    check_config(config, schema, files, overrides)
    # snakemake.utils.validate reads a schema file: the composed one, written for it
    with tempfile.TemporaryDirectory(prefix="mmcbench-schema-") as folder:
        composed = Path(folder) / "config.schema.json"
        composed.write_text(json.dumps(schema))
        validate(config, str(composed))
    check_consistency(config, schema, files, overrides)


def check_duplicate_keys(files: Iterable[Any]) -> None:
    """A key written twice in one mapping of a config file is an error naming the key, its
    lines and the file (YAML itself keeps the last one silently, dropping e.g. a whole first
    `gib:` block)."""
    import yaml

    class StrictLoader(yaml.SafeLoader):
        pass

    def construct_mapping(loader: StrictLoader, node: yaml.MappingNode, deep: bool = False):
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key, line = loader.construct_object(key_node, deep=True), key_node.start_mark.line + 1
            if key in seen:
                raise _DuplicateKey(
                    f"key {key!r} is written twice in one mapping (lines {seen[key]} and {line})"
                )
            seen[key] = line
        return yaml.SafeLoader.construct_mapping(loader, node, deep=deep)

    StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, construct_mapping)

    def json_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _DuplicateKey(f"key {key!r} is written twice in one JSON object")
            seen.add(key)
        return dict(pairs)

    for file in files:
        try:
            text = Path(str(file)).read_text()
        except OSError:
            continue  # Snakemake (or estimate) reports an unreadable config file itself
        try:
            try:
                yaml.load(text, Loader=StrictLoader)  # a SafeLoader
            except yaml.YAMLError:  # e.g. JSON indented with tabs, which YAML refuses
                try:
                    json.loads(text, object_pairs_hook=json_object)
                except ValueError:
                    continue  # neither: the loader that read the config reports it
        except _DuplicateKey as exc:
            raise ConfigError(
                f"Invalid configuration (config file: {file}): {exc}; YAML would keep only the "
                "last one and silently drop the first. Merge the two into one."
            ) from None


class _DuplicateKey(Exception):
    """A mapping key written twice (check_duplicate_keys adds the file)."""


def check_devices(
    config: Mapping[str, Any], files: Iterable[Any] = (), overrides: Mapping[str, Any] | None = None
) -> None:
    """A deep section asking for `device: cuda` on a machine whose torch sees no GPU is refused
    before any job runs (or any output is removed). Only for jobs run on this machine (the
    Snakefile's onstart): under an executor (SLURM) the GPU is on the nodes. A method with no
    planned run is not checked."""
    asking = [
        name
        for method, name in catalogue.sections().items()
        if config[name]["device"] == "cuda"
        and (config[name]["variants"] or grid_seeds(config[name]) or _studied(config, method))
    ]
    if not asking:
        return
    import torch

    if torch.cuda.is_available():
        return
    where = _source(set(asking), files, overrides or {})
    raise ConfigError(
        f"Invalid configuration ({where}): "
        + ", ".join(f"{s}.device" for s in asking)
        + " = cuda, but torch sees no CUDA GPU on this machine, where the jobs would run. Use "
        "device: auto (the GPU when there is one, else the CPU) or cpu, or run on GPU nodes "
        "(--workflow-profile workflow/profiles/slurm-gres). Nothing was run or removed."
    )


def _source(top_keys: Iterable[Any], files: Iterable[Any], overrides: Mapping[str, Any]) -> str:
    """Where keys came from, for a message: the command line's --config if it set any of these
    top-level keys, else the config file(s)."""
    if set(top_keys) & set(overrides):
        return "command-line --config"
    return f"config file: {_describe_files(files)}"


def _describe_files(files: Iterable[Any]) -> str:
    names = [str(f) for f in files]
    return ", ".join(names) if names else "the command line --config"


def rule_error(rule: Mapping[str, Any], value: Any) -> str | None:
    """Why `value` breaks one schema rule (jsonschema's best message), or None."""
    import jsonschema

    validator = jsonschema.validators.validator_for(rule, default=jsonschema.Draft202012Validator)
    error = jsonschema.exceptions.best_match(validator(rule).iter_errors(value))
    return None if error is None else error.message


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
        return _source({top_key}, files, overrides)

    for key in config:  # a section of a method folder that is not loaded: say why
        if key not in schema.get("properties", {}) and (
            problem := catalogue.broken_problem(str(key))
        ):
            raise ConfigError(f"Invalid configuration ({source(key)}): key '{key}': {problem}")

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
    if bad := non_finite(config):
        raise ConfigError(
            f"Invalid configuration ({source(bad.split('.')[0].split('[')[0])}): key '{bad}' is "
            "not a finite number (NaN and infinities are refused: no run could use them)."
        )
    check_resolution(config, schema, source("resolution"))
    from mmcbench.data.user import register  # the config's user_datasets join the registry

    register(config.get("user_datasets"), source("user_datasets"))
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
    from mmcbench.planning.study import NOT_STUDIED, RUN_KEYS

    study = config.get("resolution") or {}
    if not study.get("seeds"):
        return
    sections = catalogue.sections()
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
                if error := rule_error(rule, value):
                    raise ConfigError(
                        f"{where}: value {value!r} is not a valid {sections[method]}.{key} "
                        f"({error}). {rule.get('description', '')}".strip()
                    )


def _hyper_parameters(schema: Mapping[str, Any], section: str) -> set[str]:
    from mmcbench.planning.study import NOT_STUDIED, RUN_KEYS

    properties = _subschema(schema, [section]).get("properties", {})
    return {
        k
        for k, rule in properties.items()
        if k not in RUN_KEYS
        and k not in NOT_STUDIED
        and rule.get("type") not in ("array", "object")
    }


def non_finite(value: Any, path: str = "") -> str | None:
    """The dotted key of the first NaN or infinite number in a nested config, or None."""
    if isinstance(value, float) and not math.isfinite(value):
        return path or "(value)"
    if isinstance(value, Mapping):
        for key, item in value.items():
            if found := non_finite(item, f"{path}.{key}" if path else str(key)):
                return found
    if isinstance(value, list | tuple):
        for i, item in enumerate(value):
            if found := non_finite(item, f"{path}[{i}]"):
                return found
    return None


def deep_problems(method: str, values: Mapping[str, Any], variants: Iterable[str]) -> list[str]:
    """Combinations of a deep method's keys (schema defaults filled in) that cannot train as
    specified, one sentence each naming the keys. The same rules for the config (Snakefile,
    estimate) and the command line (`mmcbench train`): the saved epochs, then the method's own
    rules (its config class's `config_problems`)."""
    entry = catalogue.get(method)
    section = entry.section
    problems = []
    known = set(catalogue.hyper_parameters(method))
    try:
        settings = catalogue.config_class(method).from_dict(
            {k: v for k, v in values.items() if k in known}
        )
    except (TypeError, ValueError) as exc:
        return [f"{section}: {exc}"]
    for variant in list(variants) or [None]:
        epochs = catalogue.for_variant(settings, variant).total_epochs
        beyond = [e for e in values.get("embeddings_at", ()) if e > epochs]
        if not beyond:
            continue
        if "epochs" in known:
            schedule = f"{section}.epochs = {epochs}"
        else:
            schedule = f"the {epochs} epochs {method} {variant or method} trains"
        problems.append(
            f"{section}.embeddings_at asks for epoch(s) {beyond}, beyond {schedule}: those "
            f"embeddings would never be saved (use epochs 0…{epochs})"
        )
    return problems + settings.config_problems(section, list(variants))


def grid_seeds(section: Mapping[str, Any]) -> int:
    """Seeds per grid point of a deep method's section (0 for a method with no grid)."""
    return int(section.get("grid", {}).get("seeds", 0))


def _studied(config: Mapping[str, Any], method: str) -> bool:
    study = config["resolution"]
    return bool(study["seeds"] and study["variants"].get(method))


def check_consistency(
    config: Mapping[str, Any],
    schema: Mapping[str, Any],
    files: Iterable[Any] = (),
    overrides: Mapping[str, Any] | None = None,
) -> None:
    """Rules joining keys, on a config whose schema defaults are filled in: the t-SNE seed is
    a table seed; every deep run the config plans (tables, grid, each study point) can train as
    specified (`deep_problems`). ConfigError naming the keys otherwise."""
    checked = {"seeds", "figures", "resolution", *catalogue.sections().values()}
    where = _source(checked, files, overrides or {})
    problems = []
    seeds, tsne_seed = config["seeds"], config["figures"]["tsne_seed"]
    if tsne_seed >= seeds:
        problems.append(
            f"figures.tsne_seed = {tsne_seed}: the t-SNE figure shows a run of the tables, "
            f"whose seeds are 0…{seeds - 1} (key 'seeds')"
        )
    for method, name in catalogue.sections().items():
        section = config[name]
        own = method_seed_count(config, name)
        if section["variants"] and own <= tsne_seed < seeds:
            problems.append(
                f"figures.tsne_seed = {tsne_seed}: the t-SNE figure shows a run of the tables, "
                f"and {name}'s are seeds 0…{own - 1} (key '{name}.seeds')"
            )
        variants = list(section["variants"])
        if grid_seeds(section) and method not in variants:
            variants.append(method)  # the grid trains the full model
        problems += deep_problems(method, section, variants)
        if variants:
            problems += _views_problems(method, name, config["datasets"])
    problems += _study_problems(config)
    problems += _reading_problems(config)
    problems += _path_problems(config)
    if problems:
        raise ConfigError(
            f"Invalid configuration ({where}): " + "; ".join(dict.fromkeys(problems)) + "."
        )


def _views_problems(method: str, section: str, datasets: Iterable[str]) -> list[str]:
    """A method planned on a dataset with fewer views than it needs (registry's views)."""
    from mmcbench.data.registry import get_dataset

    problems = []
    for name in datasets:
        if problem := catalogue.views_problem(method, len(get_dataset(name).views), name):
            problems.append(f"{section}.variants: {problem}; run it on datasets with more views")
    return problems


def _study_problems(config: Mapping[str, Any]) -> list[str]:
    """`deep_problems` of every trained point of the resolution study, naming its key."""
    from mmcbench.planning.study import study_points

    study = config["resolution"]
    if not study["seeds"]:
        return []
    sections = {m: config[s] for m, s in catalogue.sections().items()}
    problems = []
    for point in study_points(study["variants"], study["keys"], sections):
        if not point.trained or point.path_part is None:
            continue
        changed = {**sections[point.method], point.key: point.value}
        problems += [
            f"resolution.keys.{point.key} value {point.value!r} ({point.method} "
            f"{point.variant}): {problem}"
            for problem in deep_problems(point.method, changed, [point.variant])
        ]
    return problems


def reading_points(section: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """(key, value) of each reading a deep section asks for (`readings`) that differs from
    its configured value: the study points its full model is trained at as table rows."""
    from mmcbench.planning.run_paths import same_value

    return [
        (key, value)
        for key, values in section.get("readings", {}).items()
        for value in values
        if not same_value(value, section[key])
    ]


def _reading_problems(config: Mapping[str, Any]) -> list[str]:
    """`deep_problems` of each reading's full model, naming its key."""
    problems = []
    for method, name in catalogue.sections().items():
        section = config[name]
        if method not in section["variants"]:
            continue  # the method's tables are off: its readings plan no run (schema)
        for key, value in reading_points(section):
            problems += [
                f"{name}.readings.{key} value {value!r}: {problem}"
                for problem in deep_problems(method, {**section, key: value}, [method])
            ]
    return problems


def _path_problems(config: Mapping[str, Any]) -> list[str]:
    """Values that name runs in their paths (α, β, the grids' α and β, the study's values):
    each spelled exactly and read back as itself, no two sharing a path
    (mmcbench.planning.run_paths)."""
    from mmcbench.planning.run_paths import check_path_values

    named: list[tuple[str, list[Any]]] = []
    for method, name in catalogue.sections().items():
        if not catalogue.path_keys(method):
            continue  # its runs' paths spell no value
        section = config[name]
        named.append((f"{name}.alpha", [section["alpha"]]))
        named.append((f"{name}.beta", [section["beta"]]))
        named.append((f"{name}.grid.alphas", list(section["grid"]["alphas"])))
        named.append((f"{name}.grid.betas", list(section["grid"]["betas"])))
        for key, values in section.get("readings", {}).items():
            named.append((f"{name}.readings.{key}", list(values)))
    if config["resolution"]["seeds"]:
        for key, values in config["resolution"]["keys"].items():
            named.append((f"resolution.keys.{key}", list(values)))
    problems = []
    for where, values in named:
        try:
            check_path_values(values, where)
        except ValueError as exc:
            problems.append(str(exc))
    return problems


def check_train_arguments(
    method: str, variant: str, values: Mapping[str, Any], origins: Mapping[str, str]
) -> dict[str, Any]:
    """Validate one run's hyper-parameters and run settings (`mmcbench train`) with the rules of
    the config schema's section of `method`, then `deep_problems`. `origins` says which option
    gave each key (for the message). Returns the values with integral floats of integer keys
    made int. ConfigError naming the key and the option otherwise."""
    section = catalogue.get(method).section
    in_schema = _subschema(config_schema(), [section]).get("properties")
    if in_schema:
        rules = {k: v for k, v in in_schema.items() if k not in catalogue.RUN_SELECTORS}
    else:  # a method added to the catalogue at run time, with no config section: its class checks
        names = (*catalogue.hyper_parameters(method), *catalogue.RUN_OPTIONS)
        rules = {k: {} for k in names}
    for key, value in values.items():
        origin = origins.get(key, "--hparams")
        if key not in rules:
            selector = key in catalogue.RUN_SELECTORS
            raise ConfigError(
                f"{key!r} (from {origin}) is "
                + ("a workflow key that selects runs, " if selector else "")
                + f"not a setting of one {method} run; known keys: {', '.join(sorted(rules))}"
            )
        if bad := non_finite(value, key):
            raise ConfigError(f"{bad} (from {origin}) is not a finite number")
        if error := rule_error(rules[key], value):
            raise ConfigError(
                f"{key} = {value!r} (from {origin}): {error}. "
                f"{rules[key].get('description', '')}".strip()
            )
    checked = {
        k: int(v) if rules[k].get("type") == "integer" and isinstance(v, float) else v
        for k, v in values.items()
    }
    # Defaults from the config class; embeddings_at is checked where given (a run without it
    # saves epochs within its own: the CLI's default).
    defaults = {k: catalogue.default(method, k) for k in catalogue.hyper_parameters(method)}
    filled = defaults | checked
    if problems := deep_problems(method, filled, [variant]):
        raise ConfigError("; ".join(problems))
    return checked


def check_baseline_arguments(values: Mapping[str, Any]) -> None:
    """`mmcbench baseline`'s parameters by the config schema's `baselines` section."""
    rules = _subschema(config_schema(), ["baselines"]).get("properties", {})
    for key, value in values.items():
        if error := rule_error(rules[key], value):
            raise ConfigError(
                f"--{key.replace('_', '-')} {value!r}: {error}. "
                f"{rules[key].get('description', '')}".strip()
            )
