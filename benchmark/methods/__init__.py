"""Deep methods, one folder each: `benchmark/methods/<folder>/` (README "Add a method").

A method folder holds `__init__.py` (torch-free: `METHOD = DeepMethod(...)`, its catalogue
entry), `config.py` (torch-free: its settings class and `VARIANTS`), `schema.yaml` (its config
section), and the torch side: its model, losses and `trainer.py`. The catalogue
(`benchmark.catalogue`) finds every folder here and in the folders named by the environment
variable MMCBENCH_METHODS (os.pathsep-separated), so a researcher's method can live outside
the package. A model never imports the catalogue.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
from dataclasses import dataclass
from pathlib import Path

EXTRA_FOLDERS_VARIABLE = "MMCBENCH_METHODS"


@dataclass(frozen=True)
class DeepMethod:
    """What a method folder declares in its `__init__.py`.

    `config` and `trainer` are class names in the folder's `config.py` and `trainer.py`;
    `path_keys` the hyper-parameters its run path spells (GIB, CLIB: α and β, as
    `a{α}_b{β}`; none: `default`), which are also its grid's axes; `role` says whether it is
    one of the papers' methods (`paper`) or a compared one (`compared`); `order` its place in
    tables and figures; `panels` the columns of its training-curve figure; `paper_protocol`
    the rule its own paper's numbers were selected by (`benchmark.protocols`: final, best_acc,
    mvc, fixed_seed_last) and `paper_seeds` the fixed seed per dataset that rule reports
    ("*": any other dataset)."""

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


def folders() -> list[Path]:
    """The folders searched for methods: this package's and MMCBENCH_METHODS'."""
    extra = [Path(p) for p in os.environ.get(EXTRA_FOLDERS_VARIABLE, "").split(os.pathsep) if p]
    return [Path(__file__).resolve().parent, *extra]


def discover() -> dict[str, tuple[str, DeepMethod]]:
    """Method name → (its package, its entry), for every method folder found."""
    for folder in folders()[1:]:
        if str(folder) not in __path__:
            __path__.append(str(folder))
    found: dict[str, tuple[str, DeepMethod]] = {}
    for module in pkgutil.iter_modules(__path__):
        if not module.ispkg:
            continue
        package = f"{__name__}.{module.name}"
        entry = getattr(importlib.import_module(package), "METHOD", None)
        if not isinstance(entry, DeepMethod):
            continue
        if entry.name in found:
            raise ValueError(
                f"two method folders declare {entry.name!r}: {found[entry.name][0]}, {package}"
            )
        found[entry.name] = (package, entry)
    return dict(sorted(found.items(), key=lambda item: (item[1][1].order, item[0])))
