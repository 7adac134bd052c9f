"""The method catalogue: every method the suite runs, in one place.

For each method: deep or baseline, single-view or all-view, its variants (deep: variant → the
loss terms it keeps; the variant named as the method is the full model), its config section,
its config class and trainer (as import paths, loaded only when a run needs them), and the
panels of its training-curve figure. The package, the workflow rules (which import this module
without torch) and the config checks read it; nothing else lists the methods or their variants
(the paper tables name the rows the papers print).

Adding a deep method is a model file, a trainer (benchmark.trainers.Trainer) and one entry in
CATALOGUE (tests/test_catalogue.py adds one at run time); running it in the DAG also needs its
config section in workflow/schemas/config.schema.yaml.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from benchmark.errors import MmcbenchError
from benchmark.variants import CLIB_VARIANTS, GIB_VARIANTS


@dataclass(frozen=True)
class Method:
    """One catalogue entry."""

    name: str
    kind: Literal["deep", "baseline"]
    single_view: bool = False  # baselines: one run per view (variants view<i>) or all views
    section: str = "baselines"  # its config section
    variants: Mapping[str, Any] = field(default_factory=dict)  # deep: variant → its terms
    config: str | None = None  # deep: "module:Class" of its config dataclass (torch-free)
    trainer: str | None = None  # deep: "module:Class" of its trainer (imports torch)
    panels: tuple[str, ...] = ("total", "ACC", "NMI")  # deep: training-curve panels

    @property
    def deep(self) -> bool:
        return self.kind == "deep"


CATALOGUE: dict[str, Method] = {
    "KM": Method("KM", "baseline", single_view=True),
    "Ncuts": Method("Ncuts", "baseline", single_view=True),
    "AmKM": Method("AmKM", "baseline"),
    "AmNcuts": Method("AmNcuts", "baseline"),
    "GIB": Method(
        "GIB",
        "deep",
        section="gib",
        variants=GIB_VARIANTS,
        config="benchmark.models.settings:GIBConfig",
        trainer="benchmark.trainers.gib:GIBTrainer",
    ),
    "CLIB": Method(
        "CLIB",
        "deep",
        section="clib",
        variants=CLIB_VARIANTS,
        config="benchmark.models.settings:CLIBConfig",
        trainer="benchmark.trainers.clib:CLIBTrainer",
        panels=("total", "ACC", "NMI", "ECE"),
    ),
}


def get(name: str) -> Method:
    """The entry of method `name`; MmcbenchError listing the known ones otherwise."""
    try:
        return CATALOGUE[name]
    except KeyError:
        raise MmcbenchError(
            f"unknown method {name!r}; known methods: {', '.join(CATALOGUE)}"
        ) from None


def deep_methods() -> list[str]:
    return [m.name for m in CATALOGUE.values() if m.deep]


def baseline_methods() -> list[str]:
    return [m.name for m in CATALOGUE.values() if not m.deep]


def single_view_methods() -> list[str]:
    return [m.name for m in CATALOGUE.values() if m.single_view]


def sections() -> dict[str, str]:
    """Deep method → its config section."""
    return {m.name: m.section for m in CATALOGUE.values() if m.deep}


def variants(method: str) -> list[str]:
    return list(get(method).variants)


def all_deep_variants() -> list[str]:
    """Every variant of every deep method, without repeats (for the workflow's patterns)."""
    return list(dict.fromkeys(v for m in deep_methods() for v in variants(m)))


def names_pattern(names: list[str]) -> str:
    """A regular expression matching exactly these names (wildcard constraints, run paths)."""
    return "|".join(re.escape(name) for name in names)


def variant_terms(method: str, variant: str) -> Any:
    """The terms `variant` of `method` keeps; ValueError naming the known variants otherwise."""
    table = get(method).variants
    if variant not in table:
        raise ValueError(f"unknown {method} variant {variant!r}; expected one of {list(table)}")
    return table[variant]


def _load(path: str | None, what: str, method: str) -> Any:
    if path is None:
        raise MmcbenchError(f"{method} has no {what} (it is not a deep method)")
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


def config_class(method: str) -> type:
    """The config dataclass of a deep method."""
    return _load(get(method).config, "config class", method)


def trainer_class(method: str) -> type:
    """The trainer of a deep method (imports torch)."""
    return _load(get(method).trainer, "trainer", method)


def hyper_parameters(method: str) -> tuple[str, ...]:
    """Field names of a deep method's config class: the keys of one run's --hparams."""
    import dataclasses

    return tuple(f.name for f in dataclasses.fields(config_class(method)))


def default(method: str, key: str) -> Any:
    """The default of hyper-parameter `key` of `method`: its config class's (the one place
    defaults are written)."""
    import dataclasses

    found = {f.name: f for f in dataclasses.fields(config_class(method))}[key]
    if found.default_factory is not dataclasses.MISSING:
        return found.default_factory()
    return found.default
