"""Deep methods, one folder each: `mmcbench/methods/<folder>/` (README "Add a method").

A method folder holds `__init__.py` (torch-free: `METHOD = DeepMethod(...)`, its catalogue
entry), `config.py` (torch-free: its settings class, from which its config section is generated, and
`VARIANTS`), optionally `schema.yaml` (what the class cannot say: the section's description,
its variants' default), and the torch side: its model, losses and `trainer.py`. The catalogue
(`mmcbench.planning.catalogue`) finds every folder here and in the folders named by the
environment variable MMCBENCH_METHODS (os.pathsep-separated), so a researcher's method can
live outside the package. A model never imports the catalogue.

Discovery checks each folder before it joins the catalogue, without importing torch: its files,
its entry's values, that its names clash with no other method's, its config class and variants,
and (a user's folder) that `trainer.py` defines the trainer it names. A folder that fails is left
out, as a `BrokenFolder` with one paragraph naming the folder, the file and the problem: the
commands that use it (by its method name, folder name or config section) give that paragraph,
the others work.
"""

from __future__ import annotations

import ast
import dataclasses
import importlib
import os
import pkgutil
import re
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path

EXTRA_FOLDERS_VARIABLE = "MMCBENCH_METHODS"
# Selection rules a method's own paper may have used (mmcbench.summaries.protocols reads them).
PAPER_RULES = (
    "final",
    "best_run_final",
    "best_epoch_best_run",
    "mvc",
    "fixed_seed_last",
    "best_validation",
)
ROLES = ("paper", "compared")
FOLDER_FILES = ("__init__.py", "config.py", "trainer.py")  # and an optional schema.yaml
NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_+\-]*$")  # a method's name is a run-path part


@dataclass(frozen=True)
class DeepMethod:
    """What a method folder declares in its `__init__.py`.

    `config` and `trainer` are class names in the folder's `config.py` and `trainer.py`;
    `path_keys` the hyper-parameters its run path spells (GIB, CLIB: α and β, as `a{α}_b{β}`;
    none: `default`), which are also its grid's axes; `role` says whether it is one of the
    papers' methods (`paper`) or a compared one (`compared`); `order` its place in tables and
    figures; `panels` the columns of its training-curve figure; `paper_protocol` the rule its
    own paper's numbers were selected by (`mmcbench.summaries.protocols`: final, best_run_final,
    best_epoch_best_run, mvc, fixed_seed_last, best_validation) and `paper_seeds` the fixed seed
    per dataset that rule reports ("*": any other dataset); `paper_bound` a second reading of
    that protocol shown beside it as an upper bound (GIB: `best_epoch_best_run`),
    `paper_assumed` that its paper names no protocol and the rule is assumed (CLIB);
    `label_free_column` the eval-mode history column whose lowest value the label-free protocol
    picks an epoch by (the method's clustering terms, as its own code monitors them; the rule
    reads nothing else; the `mvc` rule's checkpoint too); `run_select_columns` the `mvc` rule's
    run selection, pairs of a value of the run's `run_select_loss` setting and the eval-mode
    column it names (any other value: `label_free_column`); `min_views` the fewest views a
    dataset needs for its objective (2 for a contrast between views: with one view it has no
    pair to contrast); `table_variants` the variants (besides the full model) the tables and
    claims show as rows of their own where they were run (an alternative reading the spec's
    default may fail under)."""

    name: str
    section: str
    config: str
    trainer: str
    path_keys: tuple[str, ...] = ()
    role: str = "compared"
    order: int = 100
    panels: tuple[str, ...] = ("total", "ACC", "NMI")
    description: str = ""
    paper_protocol: str = "final"
    paper_seeds: tuple[tuple[str, int], ...] = ()
    paper_bound: str | None = None
    paper_assumed: bool = False
    label_free_column: str = "eval_total"
    run_select_columns: tuple[tuple[str, str], ...] = ()
    min_views: int = 1
    table_variants: tuple[str, ...] = ()


@dataclass(frozen=True)
class BrokenFolder:
    """A method folder discovery left out: the names it may be used by (its folder's, and its
    method's and section's when it got as far as declaring them) and why, in one paragraph."""

    folder: Path
    names: tuple[str, ...]
    problem: str


@dataclass
class Discovered:
    """Every method folder found: the loaded ones (name → package, entry) and the broken."""

    methods: dict[str, tuple[str, DeepMethod]]
    broken: list[BrokenFolder]


def folders() -> list[Path]:
    """The folders searched for methods: this package's and MMCBENCH_METHODS'."""
    extra = [Path(p) for p in os.environ.get(EXTRA_FOLDERS_VARIABLE, "").split(os.pathsep) if p]
    return [Path(__file__).resolve().parent, *extra]


class FolderProblem(Exception):
    """What is wrong with one method folder (the message names the file)."""


def discover(reserved: tuple[str, ...] = ()) -> Discovered:
    """Every method folder of `folders()`, each checked (`check_folder`); a method name or
    section already taken (by an earlier folder, or in `reserved`: the baselines' names) makes
    the later folder broken. The built-in folders come first, so a user's folder never shadows
    one."""
    found: dict[str, tuple[str, DeepMethod]] = {}
    broken: list[BrokenFolder] = []
    sections: dict[str, str] = {}
    where: dict[str, Path] = {}  # folder name → the folder that has it
    for root in folders():
        if not root.is_dir():
            broken.append(
                BrokenFolder(
                    root,
                    (),
                    f"{EXTRA_FOLDERS_VARIABLE} names {root}, which is not a folder: it should "
                    'hold method folders (README "Add a method")',
                )
            )
            continue
        for module in sorted(pkgutil.iter_modules([str(root)]), key=lambda m: m.name):
            if not module.ispkg:
                continue
            folder = root / module.name
            if module.name in where:
                first = where[module.name]
                broken.append(
                    BrokenFolder(
                        folder,
                        (module.name,),
                        f"method folder {folder} has the name of the method folder {first}"
                        f"{' (built in)' if first.parent == folders()[0] else ''}: two folders "
                        f"would be one package mmcbench.methods.{module.name}; rename yours",
                    )
                )
                continue
            where[module.name] = folder
            try:
                package, entry = check_folder(folder)
                _check_unique(folder, entry, found, sections, reserved)
            except FolderProblem as problem:
                names = [module.name]
                entry = _declared(f"{__name__}.{module.name}")
                if entry is not None:
                    names += [entry.name, entry.section]
                broken.append(BrokenFolder(folder, tuple(dict.fromkeys(names)), str(problem)))
                continue
            found[entry.name] = (package, entry)
            sections[entry.section] = entry.name
    ordered = dict(sorted(found.items(), key=lambda item: (item[1][1].order, item[0])))
    return Discovered(ordered, broken)


def _declared(package: str) -> DeepMethod | None:
    """The entry a folder's package declared, if its import got that far."""
    entry = getattr(sys.modules.get(package), "METHOD", None)
    return entry if isinstance(entry, DeepMethod) else None


def check_folder(folder: Path) -> tuple[str, DeepMethod]:
    """Import one method folder's `__init__.py` and `config.py` as
    `mmcbench.methods.<folder name>` and check what it declares; FolderProblem naming the
    file and the problem otherwise. torch-free: a user's `trainer.py` is read, not imported
    (the built-in ones are not read at all: start-up)."""
    if not folder.name.isidentifier():
        raise FolderProblem(
            f"method folder {folder}: its name is not a Python identifier (it is imported as "
            f"mmcbench.methods.<folder name>); rename it, e.g. {_identifier(folder.name)}"
        )
    if missing := [f for f in FOLDER_FILES if not (folder / f).is_file()]:
        raise FolderProblem(
            f"{' and '.join(str(folder / f) for f in missing)}: missing (a method folder holds "
            f'{", ".join(FOLDER_FILES)}; README "Add a method")'
        )
    if str(folder.parent) not in __path__:
        __path__.append(str(folder.parent))
    package = f"{__name__}.{folder.name}"
    module = _import(package, folder / "__init__.py")
    entry = getattr(module, "METHOD", None)
    if not isinstance(entry, DeepMethod):
        raise FolderProblem(
            f"{folder / '__init__.py'}: defines no METHOD = DeepMethod(...) "
            f"(found {type(entry).__name__ if entry is not None else 'nothing'})"
        )
    _check_entry(folder / "__init__.py", entry)
    config = _import(f"{package}.config", folder / "config.py")
    _check_config(folder / "config.py", config, entry)
    if folder.parent != folders()[0]:  # the built-in trainers are imported by the tests
        _check_trainer(folder / "trainer.py", entry.trainer)
    return package, entry


def _identifier(name: str) -> str:
    return re.sub(r"\W", "_", name if name[:1].isalpha() else f"m_{name}")


def _import(module: str, path: Path):
    """Import `module` (from `path`), FolderProblem with the file, line and error otherwise."""
    try:
        return importlib.import_module(module)
    except Exception as exc:  # a method folder's own code: any error is the folder's
        frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename != __file__]
        own = [f for f in frames if Path(f.filename).parent == path.parent] or frames
        line = f"{own[-1].filename}:{own[-1].lineno}" if own else str(path)
        detail = f" (line {exc.lineno})" if isinstance(exc, SyntaxError) else ""
        raise FolderProblem(
            f"{path}: cannot be imported: {type(exc).__name__}: {exc}{detail}, at {line}"
        ) from None


def _check_entry(path: Path, entry: DeepMethod) -> None:
    """The values of a DeepMethod: FolderProblem naming the field otherwise."""
    problems = []
    if not isinstance(entry.name, str) or not NAME.match(entry.name):
        problems.append(
            f"name {entry.name!r} (a run-path part: a letter, then letters, digits, _ + -)"
        )
    if not isinstance(entry.section, str) or not entry.section.isidentifier():
        problems.append(f"section {entry.section!r} (a config key: a Python identifier)")
    if entry.role not in ROLES:
        problems.append(f"role {entry.role!r} (one of {', '.join(ROLES)})")
    if entry.paper_protocol not in PAPER_RULES:
        problems.append(
            f"paper_protocol {entry.paper_protocol!r} (one of {', '.join(PAPER_RULES)}; "
            "mmcbench/summaries/protocols.py)"
        )
    if entry.paper_bound is not None and entry.paper_bound not in PAPER_RULES:
        problems.append(
            f"paper_bound {entry.paper_bound!r} (None or one of {', '.join(PAPER_RULES)})"
        )
    if not isinstance(entry.label_free_column, str) or not entry.label_free_column.startswith(
        "eval_"
    ):
        problems.append(
            f"label_free_column {entry.label_free_column!r} (an eval-mode history column, "
            "eval_<term>)"
        )
    pairs_ok = isinstance(entry.run_select_columns, tuple) and all(
        isinstance(p, tuple) and len(p) == 2 and isinstance(p[0], str) and str(p[1])[:5] == "eval_"
        for p in entry.run_select_columns
    )
    if not pairs_ok:
        problems.append(
            f"run_select_columns {entry.run_select_columns!r} (a tuple of (setting value, "
            "eval_<term>) pairs)"
        )
    if not isinstance(entry.path_keys, tuple) or not all(
        isinstance(k, str) for k in entry.path_keys
    ):
        problems.append(f"path_keys {entry.path_keys!r} (a tuple of hyper-parameter names)")
    elif entry.path_keys not in ((), ("alpha", "beta")):
        problems.append(
            f"path_keys {entry.path_keys!r} (the run path spells () or ('alpha', 'beta'))"
        )
    if not isinstance(entry.panels, tuple) or not all(isinstance(p, str) for p in entry.panels):
        problems.append(f"panels {entry.panels!r} (a tuple of history columns)")
    seeds_ok = isinstance(entry.paper_seeds, tuple) and all(
        isinstance(s, tuple) and len(s) == 2 and isinstance(s[0], str) and _is_int(s[1])
        for s in entry.paper_seeds
    )
    if not seeds_ok:
        problems.append(f"paper_seeds {entry.paper_seeds!r} (a tuple of (dataset, seed) pairs)")
    if not _is_int(entry.min_views) or entry.min_views < 1:
        problems.append(f"min_views {entry.min_views!r} (a whole number ≥ 1)")
    if not _is_int(entry.order):
        problems.append(f"order {entry.order!r} (a whole number)")
    if not isinstance(entry.table_variants, tuple) or not all(
        isinstance(v, str) for v in entry.table_variants
    ):
        problems.append(f"table_variants {entry.table_variants!r} (a tuple of variant names)")
    for field in ("config", "trainer"):
        value = getattr(entry, field)
        if not isinstance(value, str) or not value.isidentifier():
            problems.append(f"{field} {value!r} (a class name)")
    if problems:
        raise FolderProblem(f"{path}: METHOD has an invalid " + "; an invalid ".join(problems))


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_config(path: Path, module, entry: DeepMethod) -> None:
    """config.py defines the settings class METHOD names (a dataclass with `total_epochs` and
    every path key as a field) and VARIANTS (a mapping that holds the full model)."""
    config = getattr(module, entry.config, None)
    if config is None or not dataclasses.is_dataclass(config):
        raise FolderProblem(
            f"{path}: defines no dataclass {entry.config} (METHOD.config names it: the "
            "method's settings, composed from mmcbench/core/settings.py)"
        )
    fields = {f.name for f in dataclasses.fields(config)}
    if missing := [k for k in entry.path_keys if k not in fields]:
        raise FolderProblem(
            f"{path}: {entry.config} has no field {', '.join(missing)}, which METHOD.path_keys "
            "names (the run path spells it)"
        )
    if not hasattr(config, "total_epochs"):
        raise FolderProblem(
            f"{path}: {entry.config} has no total_epochs (compose it from "
            "mmcbench.core.settings.Epochs, or give it a total_epochs property)"
        )
    variants = getattr(module, "VARIANTS", None)
    if (
        not isinstance(variants, dict)
        or not variants
        or not all(isinstance(v, str) and NAME.match(v) for v in variants)
    ):
        raise FolderProblem(
            f"{path}: VARIANTS must be a non-empty dict of variant name → its terms (found "
            f"{variants!r})"
        )
    if entry.name not in variants:
        raise FolderProblem(
            f"{path}: VARIANTS has no variant {entry.name!r}: the variant named as the method "
            "is its full model"
        )
    if unknown := [v for v in entry.table_variants if v not in variants]:
        raise FolderProblem(
            f"{path}: METHOD's table_variants {unknown} are not variants of VARIANTS "
            f"({', '.join(variants)})"
        )


def _check_trainer(path: Path, name: str) -> None:
    """trainer.py binds `name` at its top level (a class, or an import), a class with a base
    (Trainer's subclass): read, not imported."""
    try:
        tree = ast.parse(path.read_text(), str(path))
    except (OSError, SyntaxError, ValueError) as exc:
        raise FolderProblem(f"{path}: cannot be read as Python ({exc})") from None
    bound = set()
    for node in tree.body:
        if isinstance(node, ast.ClassDef | ast.FunctionDef):
            bound.add(node.name)
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            bound |= {t.id for t in targets if isinstance(t, ast.Name)}
        elif isinstance(node, ast.Import | ast.ImportFrom):
            bound |= {(a.asname or a.name).split(".")[0] for a in node.names}
    plain = [n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == name and not n.bases]
    if plain:
        raise FolderProblem(
            f"{path}:{plain[0].lineno}: class {name} derives from nothing: a trainer is a "
            "subclass of mmcbench.training.trainers.Trainer, which holds the whole contract "
            'with the training loop (README "Add a method")'
        )
    if name not in bound and "*" not in bound:  # a star import may bind it: not refused
        classes = sorted(n.name for n in tree.body if isinstance(n, ast.ClassDef))
        raise FolderProblem(
            f"{path}: defines no {name} (METHOD.trainer names it; the classes defined there: "
            f"{', '.join(classes) or 'none'})"
        )


def _check_unique(
    folder: Path,
    entry: DeepMethod,
    found: dict[str, tuple[str, DeepMethod]],
    sections: dict[str, str],
    reserved: tuple[str, ...],
) -> None:
    """A method's name and section are its own."""
    path = folder / "__init__.py"
    if entry.name in found or entry.name in reserved:
        other = found[entry.name][0] if entry.name in found else "a baseline of the catalogue"
        raise FolderProblem(
            f"{path}: METHOD.name {entry.name!r} is taken by {other}: method names are unique "
            "(they name run paths and table rows); rename yours"
        )
    if entry.section in sections:
        raise FolderProblem(
            f"{path}: METHOD.section {entry.section!r} is the config section of "
            f"{sections[entry.section]}: a method has its own section; rename yours"
        )
