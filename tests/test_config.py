"""Config validation: one clear paragraph naming the key and the file, before anything runs."""

from __future__ import annotations

import pytest
import yaml

from benchmark.config import check_config, load_schema
from benchmark.errors import ConfigError


@pytest.fixture(scope="module")
def schema(repo):
    return load_schema(repo / "workflow/schemas/config.schema.yaml")


@pytest.mark.parametrize("name", ["config.yaml", "demo.yaml", "smoke.yaml"])
def test_shipped_configs_are_valid(repo, schema, name):
    check_config(yaml.safe_load((repo / "config" / name).read_text()), schema, [name])


def test_every_schema_key_is_documented(schema):
    def walk(node, path):
        for key, sub in node.get("properties", {}).items():
            assert sub.get("description"), f"{path + key} has no description"
            given_by_parent = key in (node.get("default") or {})  # resolution.variants.*
            if sub.get("type") != "object" and key != "datasets" and not given_by_parent:
                assert "default" in sub, f"{path + key} has no default"
            walk(sub, f"{path}{key}.")

    walk(schema, "")


@pytest.mark.parametrize(
    "config,fragment",
    [
        ({"datasets": ["mfeat", "Foo"]}, "key 'datasets[1]': unknown dataset 'Foo'"),
        ({"datasets": ["mfeat"], "seeds": "five"}, "key 'seeds': 'five' is not of type 'integer'"),
        ({"datasets": ["mfeat"], "baselines": {"n_init": 0}}, "key 'baselines.n_init'"),
        ({"datasets": ["mfeat"], "data": {"offline": "yes"}}, "key 'data.offline'"),
        (
            {"datasets": ["mfeat"], "baselines": {"n_neighbours": 3}},
            "'n_neighbours' was unexpected",
        ),
        ({"seeds": 3}, "'datasets' is a required property"),
    ],
)
def test_bad_config_names_the_key_and_file(schema, config, fragment):
    with pytest.raises(ConfigError) as info:
        check_config(config, schema, ["config/mine.yaml"])
    message = str(info.value)
    assert fragment in message and "config/mine.yaml" in message
    assert "\n" not in message  # one paragraph


def test_error_from_a_command_line_override_says_so(schema):
    config = {"datasets": ["mfeat"], "seeds": "x"}
    with pytest.raises(ConfigError, match=r"\(command-line --config\): key 'seeds'"):
        check_config(config, schema, ["config/demo.yaml"], overrides={"seeds": "x"})


@pytest.mark.parametrize("section", ["gib", "clib"])
def test_schema_defaults_are_the_spec_defaults_of_the_code(schema, section):
    import dataclasses

    from benchmark.models.clib import CLIBConfig
    from benchmark.models.gib import GIBConfig

    config_class = {"gib": GIBConfig, "clib": CLIBConfig}[section]
    properties = schema["properties"][section]["properties"]
    for field in dataclasses.fields(config_class):
        default = field.default if field.default is not dataclasses.MISSING else None
        if field.name == "balls":
            default = dataclasses.asdict(field.default_factory())
            schema_default = {k: v["default"] for k, v in properties["balls"]["properties"].items()}
        else:
            schema_default = properties[field.name]["default"]
        if isinstance(default, tuple):
            default = list(default)
        assert schema_default == default, field.name
