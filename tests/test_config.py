"""Config validation: one clear paragraph naming the key and the file, before anything runs."""

from __future__ import annotations

import pytest
import yaml

from mmcbench.core.errors import ConfigError
from mmcbench.planning.config import check_config, load_schema


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

    from mmcbench.methods.clib.model import CLIBConfig
    from mmcbench.methods.gib.model import GIBConfig

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
    from mmcbench.planning.catalogue import WORKFLOW_KEYS, default, hyper_parameters
    from mmcbench.planning.study import RUN_KEYS

    properties = schema["properties"][section]["properties"]
    assert set(properties) == set(hyper_parameters(method)) | set(WORKFLOW_KEYS)
    assert not set(WORKFLOW_KEYS) & set(hyper_parameters(method))
    assert set(RUN_KEYS) - set(WORKFLOW_KEYS) <= set(hyper_parameters(method))  # α, β
    assert default(method, "alpha") == properties["alpha"]["default"] == 0.5


def test_cli_and_table_defaults_come_from_the_config_class():
    import inspect

    from mmcbench.cli import build_parser
    from mmcbench.core.settings import IBSettings
    from mmcbench.report import tables

    render = build_parser()._subparsers._group_actions[0].choices["render"]
    defaults = {a.dest: a.default for a in render._actions}
    assert (defaults["alpha"], defaults["beta"]) == (IBSettings.alpha, IBSettings.beta)
    for function in (tables.render, tables.comparison):
        signature = inspect.signature(function)
        assert signature.parameters["alpha"].default == IBSettings.alpha


DEEP = ["GIB", "CLIB", "SiMVC", "CoMVC", "MFLVC"]


@pytest.mark.parametrize("method", DEEP)
def test_each_section_is_written_from_its_settings_class(schema, method):
    """Every hyper-parameter's rule comes from its field: the same keys, the class's default,
    the field's description, a type for every value; the rest are the workflow keys."""
    import dataclasses

    from mmcbench.planning.catalogue import WORKFLOW_KEYS, config_class, default, get

    properties = schema["properties"][get(method).section]["properties"]
    fields = {f.name: f for f in dataclasses.fields(config_class(method))}
    assert set(properties) - set(WORKFLOW_KEYS) == set(fields)
    for name, field in fields.items():
        rule = properties[name]
        assert rule["description"] == field.metadata["help"], name
        assert "type" in rule or "enum" in rule, name
        expected = default(method, name)
        if dataclasses.is_dataclass(expected):  # a nested section: its own keys' defaults
            assert rule["default"] == {}
            expected = dataclasses.asdict(expected)
            assert {k: v["default"] for k, v in rule["properties"].items()} == expected
        else:
            assert rule["default"] == (list(expected) if isinstance(expected, tuple) else expected)


def test_a_shipped_schema_yaml_names_only_workflow_keys():
    """One source per default: a method folder's schema.yaml says nothing its class says."""
    from mmcbench.planning.catalogue import WORKFLOW_KEYS
    from mmcbench.planning.method_schema import folder_schema

    for method in DEEP:
        assert set(folder_schema(method).get("properties", {})) <= set(WORKFLOW_KEYS), method


def test_generated_rules_keep_their_constraints(schema):
    """Types, enums and bounds written on the fields reach the validator."""
    gib, simvc = schema["properties"]["gib"]["properties"], schema["properties"]["simvc"]
    assert gib["alpha"] | {"description": ""} == {
        "description": "",
        "type": "number",
        "minimum": 0,
        "maximum": 1,
        "default": 0.5,
    }
    assert gib["grad_clip"]["type"] == ["number", "null"] and gib["grad_clip"]["default"] == 5.0
    assert gib["encoder_hidden"]["items"] == {"type": "integer", "minimum": 1}
    assert gib["balls"]["properties"]["implementation"]["enum"] == ["batched", "sequential"]
    assert gib["grid"]["properties"]["alphas"]["items"] == {
        "type": "number",
        "minimum": 0,
        "maximum": 1,
    }
    assert gib["readings"]["properties"]["compression"]["items"]["enum"] == list(
        gib["compression"]["enum"]
    )
    lr_step = simvc["properties"]["lr_step"]
    assert lr_step["type"] == ["array", "null"] and (lr_step["minItems"], lr_step["maxItems"]) == (
        2,
        2,
    )
    assert simvc["properties"]["encoder"]["enum"] == [
        "mvc_mlp",
        "deepmvc_dense5",
    ]


@pytest.mark.parametrize(
    "section,values,fragment",
    [
        ("simvc", {"encoder": "resnet"}, "key 'simvc.encoder': 'resnet' is not one of"),
        ("gib", {"alpha": 1.5}, "key 'gib.alpha': 1.5 is greater than the maximum of 1"),
        ("gib", {"balls": {"theta": "x"}}, "key 'gib.balls.theta'"),
        ("mflvc", {"lr": "fast"}, "key 'mflvc.lr': 'fast' is not of type 'number'"),
        ("clib", {"latent_dims": 3}, "'latent_dims' was unexpected"),
    ],
)
def test_a_generated_rule_refuses_a_bad_value_naming_the_key(schema, section, values, fragment):
    with pytest.raises(ConfigError) as info:
        check_config({"datasets": ["mfeat"], section: values}, schema, ["config/mine.yaml"])
    message = str(info.value)
    assert fragment in message and "config/mine.yaml" in message and "\n" not in message


def test_method_hooks_are_declared_on_the_settings_base_class():
    """for_variant, config_problems, inert_reason and scaling have defaults on
    TrainingSettings; a method overrides them (no module-level function looked up by name)."""
    import importlib

    from mmcbench.core.settings import TrainingSettings
    from mmcbench.planning.catalogue import config_class, get

    base = TrainingSettings()
    assert base.for_variant("any") is base
    assert base.config_problems("x", ["any"]) == []
    assert TrainingSettings.inert_reason("any", "compression") is None
    assert base.scaling() is None
    for method in DEEP:
        module = importlib.import_module(f"{get(method).package}.config")
        assert not hasattr(module, "config_problems") and not hasattr(module, "inert_reason")
        assert issubclass(config_class(method), TrainingSettings)
    assert config_class("GIB").inert_reason("DDC", "compression")
    assert config_class("SiMVC")().scaling() == "none"
    assert config_class("MFLVC")().scaling() == "minmax_feature"
    assert config_class("GIB")().scaling() is None
    clib = config_class("CLIB")(epochs=10, warmup_epochs=10)
    assert "warmup_epochs = 10" in clib.config_problems("clib", ["CLIB"])[0]
    assert clib.config_problems("clib", ["no-warmup"]) == []
