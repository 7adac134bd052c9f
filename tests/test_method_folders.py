"""A user's method folder (MMCBENCH_METHODS, README "Add a method") that is broken gives one
paragraph naming the folder, the file and what is wrong, and never breaks the commands that do
not use it; a folder that would shadow or replace a built-in method is refused the same way. And
a method that follows the README's example (the Trainer's default `config_params`) keeps its
finished runs under --keep-finished."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from mmcbench import methods
from mmcbench.runs import records
from tests.test_catalogue import TOY_FILES, toy_env_for
from tests.test_run_outcomes import tiny  # noqa: F401 (a fixture)


@pytest.fixture(scope="module")
def toy_folder(tmp_path_factory) -> Path:
    """The README's toy method, toy/, as test_catalogue writes it."""
    folder = tmp_path_factory.mktemp("toy") / "toy"
    folder.mkdir()
    for name, text in TOY_FILES.items():
        (folder / name).write_text(textwrap.dedent(text).lstrip())
    return folder


def user_folder(root: Path, toy: Path, name: str = "toy", edit=None) -> Path:
    """`root` holding a copy of the toy folder named `name`, `edit(folder)` applied."""
    folder = root / name
    shutil.copytree(toy, folder)
    if edit is not None:
        edit(folder)
    return root


def replace(file: str, old: str, new: str):
    def edit(folder: Path) -> None:
        path = folder / file
        text = path.read_text()
        assert old in text, (file, old)
        path.write_text(text.replace(old, new))

    return edit


def declaring(extra: str):
    """An edit: METHOD gets `extra` (`key=value`) besides the toy's fields."""
    return replace("__init__.py", 'trainer="ToyTrainer")', f'trainer="ToyTrainer", {extra})')


def run(args: list[str], root: Path, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "mmcbench", *args],
        env=toy_env_for(root),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )


# (folder name, edit, what the paragraph says)
BROKEN = {
    "named-like-a-built-in": ("gib", None, "has the name of the method folder"),
    "no-config": ("toy", lambda f: (f / "config.py").unlink(), "config.py: missing"),
    "import-error": (
        "toy",
        replace("__init__.py", '"""Toy', 'import no_such_module\n"""Toy'),
        "No module named 'no_such_module'",
    ),
    "wrong-trainer-name": (
        "toy",
        replace("__init__.py", 'trainer="ToyTrainer"', 'trainer="ToyTrainr"'),
        "defines no ToyTrainr",
    ),
    "trainer-outside-the-contract": (
        "toy",
        replace("trainer.py", "class ToyTrainer(Trainer):", "class ToyTrainer:"),
        "class ToyTrainer derives from nothing",
    ),
    "bogus-protocol": (
        "toy",
        replace(
            "__init__.py", 'trainer="ToyTrainer")', 'trainer="ToyTrainer", paper_protocol="x")'
        ),
        "invalid paper_protocol 'x'",
    ),
    "path-keys-without-fields": (
        "toy",
        replace(
            "__init__.py",
            'trainer="ToyTrainer")',
            'trainer="ToyTrainer", path_keys=("alpha", "beta"))',
        ),
        "ToyConfig has no field alpha, beta",
    ),
    "gib-section": (
        "toy",
        replace("__init__.py", 'section="toy"', 'section="gib"'),
        "METHOD.section 'gib' is the config section of GIB",
    ),
    "gib-name": (
        "toy",
        lambda f: (
            replace("__init__.py", 'name="Toy"', 'name="GIB"')(f),
            replace("config.py", '{"Toy": None}', '{"GIB": None}')(f),
        ),
        "METHOD.name 'GIB' is taken by mmcbench.methods.gib",
    ),
}


@pytest.mark.parametrize("case", list(BROKEN))
def test_a_broken_method_folder_is_left_out_with_one_paragraph(tmp_path, toy_folder, case):
    name, edit, says = BROKEN[case]
    root = user_folder(tmp_path / "methods", toy_folder, name, edit)
    # commands that do not use it work, and say once what is wrong with it
    for command in (["--help"], ["datasets"]):
        result = run(command, root, tmp_path)
        assert result.returncode == 0, result.stderr[-2000:]
        assert "Traceback" not in result.stderr
        assert "a method folder is not loaded" in result.stderr and says in result.stderr
        assert str(root / name) in result.stderr


@pytest.mark.parametrize("case", ["no-config", "import-error", "wrong-trainer-name", "gib-section"])
def test_using_a_broken_method_folder_gives_its_paragraph(tmp_path, toy_folder, tiny, case):  # noqa: F811
    name, edit, says = BROKEN[case]
    root = user_folder(tmp_path / "methods", toy_folder, name, edit)
    args = ["train", "--method", "Toy", "--variant", "Toy", "--data", str(tiny), "--seed", "0"]
    result = run([*args, "--out", str(tmp_path / "x.json")], root, tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert f"method folder {root / name} is not loaded" in result.stderr and says in result.stderr
    assert not (tmp_path / "x.json").exists()


def test_a_config_naming_a_broken_folders_section_gets_its_paragraph(tmp_path, toy_folder):
    from mmcbench.core.errors import ConfigError
    from mmcbench.planning import catalogue, config

    root = user_folder(tmp_path / "methods", toy_folder, "toy", BROKEN["no-config"][1])
    broken = methods.BrokenFolder(root / "toy", ("toy",), "config.py: missing")
    catalogue.BROKEN.append(broken)
    try:
        with pytest.raises(ConfigError, match=r"key 'toy': method folder .*toy is not loaded"):
            config.check_config({"toy": {"variants": ["Toy"]}}, config.config_schema())
    finally:
        catalogue.BROKEN.remove(broken)


def test_the_built_in_methods_are_unchanged_beside_a_clashing_folder(tmp_path, toy_folder):
    """A user's folder declaring section gib never replaces GIB's config section."""
    root = user_folder(tmp_path / "methods", toy_folder, "toy", BROKEN["gib-section"][1])
    code = (
        "from mmcbench.planning import config; import json; "
        "print(json.dumps(sorted(config.config_schema()['properties']['gib']['properties'])))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], env=toy_env_for(root), capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert "sigma_param" in result.stdout and "temperature" not in result.stdout


def test_keep_finished_keeps_a_run_of_a_method_without_config_params(tmp_path, toy_folder, tiny):  # noqa: F811
    """The README's example writes no `config_params`: the Trainer's default (the settings'
    fields) is what its record holds and what --keep-finished compares, so a finished run is
    kept, not retrained."""
    root = user_folder(tmp_path / "methods", toy_folder)
    out = tmp_path / "toy.json"
    args = ["train", "--method", "Toy", "--variant", "Toy", "--data", str(tiny), "--seed", "0"]
    args += ["--epochs", "2", "--threads", "1", "--keep-finished", "--out", str(out)]
    assert run(args, root, tmp_path).returncode == 0
    finished = out.read_bytes()
    again = run(args, root, tmp_path)
    assert again.returncode == 0, again.stderr[-2000:]
    assert "kept" in again.stderr and out.read_bytes() == finished
    assert records.read(out)["status"] == "done"
    changed = run([*args[:-2], "--hparams", '{"temperature": 0.5}', *args[-2:]], root, tmp_path)
    assert changed.returncode == 0 and "retraining" in changed.stderr  # a changed run is not kept
