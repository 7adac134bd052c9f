"""The method catalogue: every method the suite runs, in one place.

For each method: deep or baseline, single-view or all-view, its variants (deep: variant → the
loss terms it keeps; the variant named as the method is the full model), its config section,
its config class and trainer (as import paths, loaded only when a run needs them), the
hyper-parameters its run path spells, and the panels of its training-curve figure. The
package, the workflow rules (which import this module without torch) and the config checks
read it; nothing else lists the methods or their variants.

The baselines are listed here; the deep methods are found in their folders
(`mmcbench.methods`): adding one is one new folder (README "Add a method").
"""

from __future__ import annotations

import importlib
import importlib.util
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from mmcbench import methods
from mmcbench.core.errors import MmcbenchError

# Keys of a deep method's config section that are not hyper-parameters of the model, named here
# only: they select runs (RUN_SELECTORS and `seeds`) or say how one run executes (RUN_OPTIONS,
# which `mmcbench train` takes besides the hyper-parameters). Every other key of the section is
# a field of its config class (mmcbench.planning.method_schema writes the section from both).
RUN_SELECTORS = ("variants", "grid", "readings")
RUN_OPTIONS = ("embeddings_at", "device", "threads")
WORKFLOW_KEYS = (*RUN_SELECTORS, "seeds", *RUN_OPTIONS)


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
    path_keys: tuple[str, ...] = ()  # deep: hyper-parameters its run path spells (grid axes)
    role: str = "baseline"  # paper | compared | baseline
    package: str | None = None  # deep: its folder's package
    paper_protocol: str = (
        "final"  # deep: the selection rule of its paper (mmcbench.summaries.protocols)
    )
    paper_seeds: tuple[tuple[str, int], ...] = ()  # deep: that rule's fixed seed per dataset
    paper_bound: str | None = None  # deep: a second reading of that rule (an upper bound)
    paper_assumed: bool = False  # deep: its paper names no rule; the one above is assumed
    label_free_column: str = "eval_total"  # deep: what the label-free rule minimises
    # deep, `mvc` rule: the run_select_loss values → the eval columns its run selection reads
    run_select_columns: tuple[tuple[str, str], ...] = ()
    min_views: int = 1  # deep: the fewest views its objective works with
    table_variants: tuple[str, ...] = ()  # deep: variants the tables show as rows of their own

    @property
    def deep(self) -> bool:
        return self.kind == "deep"


CATALOGUE: dict[str, Method] = {
    "KM": Method("KM", "baseline", single_view=True),
    "Ncuts": Method("Ncuts", "baseline", single_view=True),
    "AmKM": Method("AmKM", "baseline"),
    "AmNcuts": Method("AmNcuts", "baseline"),
}


def _deep_method(package: str, entry: methods.DeepMethod) -> Method:
    config = importlib.import_module(f"{package}.config")
    return Method(
        entry.name,
        "deep",
        section=entry.section,
        variants=dict(config.VARIANTS),
        config=f"{package}.config:{entry.config}",
        trainer=f"{package}.trainer:{entry.trainer}",
        panels=entry.panels,
        path_keys=entry.path_keys,
        role=entry.role,
        package=package,
        paper_protocol=entry.paper_protocol,
        paper_seeds=entry.paper_seeds,
        paper_bound=entry.paper_bound,
        paper_assumed=entry.paper_assumed,
        label_free_column=entry.label_free_column,
        run_select_columns=entry.run_select_columns,
        min_views=entry.min_views,
        table_variants=entry.table_variants,
    )


def views_problem(method: str, n_views: int, dataset: str) -> str | None:
    """Why `method` cannot train on a dataset of `n_views` views (None when it can)."""
    need = get(method).min_views
    if n_views >= need:
        return None
    return (
        f"{method} needs at least {need} views (its contrastive loss pairs views) and "
        f"{dataset} has {n_views}"
    )


def paper_seed(method: str, dataset: str) -> int | None:
    """The fixed seed the paper protocol of `method` reports on `dataset` (None: none)."""
    seeds = dict(get(method).paper_seeds)
    return seeds.get(dataset, seeds.get("*"))


_DISCOVERED = methods.discover(reserved=tuple(CATALOGUE))
CATALOGUE.update(
    {name: _deep_method(package, entry) for name, (package, entry) in _DISCOVERED.methods.items()}
)
# Method folders left out (mmcbench.methods.BrokenFolder): each is said once, here, and again
# by every command that uses it (`get`, `broken_problem`); the others work.
BROKEN: list[methods.BrokenFolder] = _DISCOVERED.broken
for _folder in BROKEN:
    print(f"mmcbench: warning: a method folder is not loaded: {_folder.problem}", file=sys.stderr)


def broken_problem(name: str) -> str | None:
    """The paragraph of the broken method folder that `name` (a method, folder or config
    section name; the folder's name in any case, as `Toy` for `toy/`) refers to, or None."""
    for folder in BROKEN:
        if name in folder.names or name.lower() == folder.folder.name.lower():
            return f"method folder {folder.folder} is not loaded: {folder.problem}"
    return None


def get(name: str) -> Method:
    """The entry of method `name`; MmcbenchError listing the known ones otherwise (or saying
    what is wrong with the method folder that would have declared it)."""
    try:
        return CATALOGUE[name]
    except KeyError:
        if problem := broken_problem(name):
            raise MmcbenchError(problem) from None
        raise MmcbenchError(
            f"unknown method {name!r}; known methods: {', '.join(CATALOGUE)}"
        ) from None


def deep_methods() -> list[str]:
    return [m.name for m in CATALOGUE.values() if m.deep]


def paper_methods() -> list[str]:
    """The papers' own deep methods (GIB, CLIB)."""
    return [m.name for m in CATALOGUE.values() if m.role == "paper"]


def compared_methods() -> list[str]:
    """The deep methods the papers compare with (SiMVC, CoMVC, MFLVC, …)."""
    return [m.name for m in CATALOGUE.values() if m.deep and m.role == "compared"]


def competing_methods() -> list[str]:
    """The methods a claim "Ours vs Best Compared" compares with: the baselines and the deep
    methods of role `compared` (a method folder's `role` declares whether it competes)."""
    return [m.name for m in CATALOGUE.values() if not m.deep or m.role == "compared"]


def path_keys(method: str) -> tuple[str, ...]:
    """The hyper-parameters the run path of `method` spells (its grid's axes)."""
    return get(method).path_keys


def inert_reason(method: str, variant: str, key: str) -> str | None:
    """Why study key `key` cannot change a run of `variant` of `method` (its loss term is off),
    or None: its config class's `inert_reason`."""
    if not get(method).deep:
        return None
    return config_class(method).inert_reason(variant, key)


def setting_methods() -> list[str]:
    """Deep methods whose run path spells (α, β): their tables show one (α, β) setting."""
    return [m for m in deep_methods() if get(m).path_keys]


def all_path_keys() -> tuple[str, ...]:
    """Every hyper-parameter some method's run path spells (a study cannot vary them)."""
    return tuple(dict.fromkeys(k for m in CATALOGUE.values() for k in m.path_keys))


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


def _load(path: str | None, what: str, method: str) -> Any:
    if path is None:
        raise MmcbenchError(f"{method} has no {what} (it is not a deep method)")
    module, _, name = path.partition(":")
    try:
        return getattr(importlib.import_module(module), name)
    except Exception as exc:  # the method folder's own code (its trainer.py imports torch)
        spec = importlib.util.find_spec(module)
        file = spec.origin if spec is not None else module
        raise MmcbenchError(
            f"{method}'s {what} {name} ({file} of its method folder) cannot be loaded: "
            f"{type(exc).__name__}: {exc}"
        ) from exc


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


def for_variant(settings: Any, variant: str | None) -> Any:
    """The settings a run of `variant` trains with (its config class's `for_variant`: e.g.
    MFLVC's no-finetune has no stage 3, CLIB's no-warmup no warm-up); None: `settings`."""
    return settings if variant is None else settings.for_variant(variant)


def total_epochs(method: str, section: Mapping[str, Any], variant: str | None = None) -> int:
    """Epochs a run of `method` (its `variant`) with config section `section` trains (all its
    stages)."""
    known = set(hyper_parameters(method))
    settings = config_class(method).from_dict({k: v for k, v in section.items() if k in known})
    return for_variant(settings, variant).total_epochs


def default(method: str, key: str) -> Any:
    """The default of hyper-parameter `key` of `method`: its config class's (the one place
    defaults are written)."""
    import dataclasses

    found = {f.name: f for f in dataclasses.fields(config_class(method))}[key]
    if found.default_factory is not dataclasses.MISSING:
        return found.default_factory()
    return found.default
