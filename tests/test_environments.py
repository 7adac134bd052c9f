"""environment.yml, workflow/envs/*.yaml and pyproject.toml carry the same lower bounds, and
every package they name is importable after the pip install (conda cannot run offline here)."""

from __future__ import annotations

import importlib
import re
import tomllib

import pytest
import yaml

IMPORT_NAME = {"scikit-learn": "sklearn", "pytorch": "torch", "torch": "torch", "pyyaml": "yaml"}
NOT_MODULES = {"python", "pip"}


def conda_pins(path) -> dict[str, str]:
    deps = yaml.safe_load(path.read_text())["dependencies"]
    pins = {}
    for dep in deps:
        if isinstance(dep, str):
            name, bound = re.match(r"^([A-Za-z0-9_.\-]+)\s*(.*)$", dep).groups()
            pins[name.lower()] = bound
    return pins


def pyproject_pins(repo) -> dict[str, str]:
    deps = tomllib.loads((repo / "pyproject.toml").read_text())["project"]["dependencies"]
    pins = {}
    for dep in deps:
        name, bound = re.match(r"^([A-Za-z0-9_.\-]+)\s*(.*)$", dep).groups()
        pins["pytorch" if name == "torch" else name.lower()] = bound
    return pins


def test_same_lower_bounds_everywhere(repo):
    project = pyproject_pins(repo)
    driver = conda_pins(repo / "environment.yml")
    jobs = conda_pins(repo / "workflow/envs/mmcbench.yaml")
    assert all(bound.startswith(">=") for bound in project.values()), "lower bounds only"
    assert {k: v for k, v in driver.items() if k not in NOT_MODULES} == project
    job_pins = {k: v for k, v in jobs.items() if k not in NOT_MODULES}
    driver_only = {"snakemake", "snakemake-executor-plugin-slurm"}  # the jobs need neither
    assert job_pins == {k: v for k, v in project.items() if k not in driver_only}
    assert driver["python"] == jobs["python"] == ">=3.11"


@pytest.mark.parametrize("env", ["environment.yml", "workflow/envs/mmcbench.yaml"])
def test_every_pinned_package_is_importable(repo, env):
    for name in conda_pins(repo / env):
        if name not in NOT_MODULES:
            importlib.import_module(IMPORT_NAME.get(name, name.replace("-", "_")))


def test_ci_runs_the_readme_commands(repo):
    """CI must run exactly what the README tells a newcomer to run (and its own checks of the
    outputs: `test …` lines and scripts in .ci/)."""
    readme = (repo / "README.md").read_text()
    ci = [
        line
        for line in (repo / ".ci/run").read_text().splitlines()
        if line and not line.startswith(("#", "set ", "cd ", "test ", "python3 .ci/"))
    ]
    assert len(ci) == 2
    for command in ci:
        assert f"\n{command}\n" in readme, f"README lacks the CI command: {command}"


def test_pytest_names_the_slowest_tests_and_registers_every_marker(repo):
    """`python -m pytest` (the README's command) lists skips and the 25 slowest tests; every
    marker a test uses is registered, so that `-m "not dag"` or `-m "not slow"` select what a
    developer expects."""
    options = tomllib.loads((repo / "pyproject.toml").read_text())["tool"]["pytest"]
    options = options["ini_options"]
    assert {"-ra", "--durations=25"} <= set(options["addopts"].split())
    registered = {marker.split(":")[0] for marker in options["markers"]}
    assert {"workflow", "dag", "slow"} <= registered
    used = set()
    for path in (repo / "tests").glob("*.py"):
        used |= set(re.findall(r"pytest\.mark\.(\w+)", path.read_text()))
    builtin = {"parametrize", "filterwarnings", "skip", "skipif", "xfail", "usefixtures"}
    assert used - builtin <= registered, used - builtin - registered
