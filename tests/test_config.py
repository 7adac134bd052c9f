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

    from benchmark.methods.clib.model import CLIBConfig
    from benchmark.methods.gib.model import GIBConfig

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


@pytest.mark.parametrize("method,section", [("GIB", "gib"), ("CLIB", "clib")])
def test_schema_keys_are_the_config_class_and_the_workflow_keys_exactly(schema, method, section):
    """The other direction: every key of the section is a hyper-parameter of the config class
    or one of the workflow's keys, so a new schema key cannot be silently left out of runs."""
    from benchmark.catalogue import WORKFLOW_KEYS, default, hyper_parameters
    from benchmark.study import RUN_KEYS

    properties = schema["properties"][section]["properties"]
    assert set(properties) == set(hyper_parameters(method)) | set(WORKFLOW_KEYS)
    assert not set(WORKFLOW_KEYS) & set(hyper_parameters(method))
    assert set(RUN_KEYS) - set(WORKFLOW_KEYS) <= set(hyper_parameters(method))  # α, β
    assert default(method, "alpha") == properties["alpha"]["default"] == 0.5


def test_cli_and_table_defaults_come_from_the_config_class():
    import inspect

    from benchmark import tables
    from benchmark.cli import build_parser
    from benchmark.settings import IBSettings

    render = build_parser()._subparsers._group_actions[0].choices["render"]
    defaults = {a.dest: a.default for a in render._actions}
    assert (defaults["alpha"], defaults["beta"]) == (IBSettings.alpha, IBSettings.beta)
    for function in (tables.render, tables.comparison):
        signature = inspect.signature(function)
        assert signature.parameters["alpha"].default == IBSettings.alpha
