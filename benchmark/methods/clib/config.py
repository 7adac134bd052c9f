"""CLIB's settings and variants (torch-free): every resolved choice of spec/CLIB.md, with the
spec's default (config keys `clib.*`), and what each ablation of CLIB's slide keeps."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from benchmark.settings import Epochs, IBSettings, TrainingSettings, variant_entry


@dataclass(frozen=True)
class CLIBTerms:
    """Which parts of the full CLIB model a variant keeps (L_IB is always on)."""

    cluH: bool = True
    re: bool = True
    caliH: bool = True
    con: bool = True
    warmup: bool = True
    cali_backprop: bool = False


VARIANTS: dict[str, CLIBTerms] = {
    "CLIB": CLIBTerms(),
    "IB+cluH": CLIBTerms(re=False, caliH=False, con=False),
    "IB+cluH+re": CLIBTerms(caliH=False, con=False),
    "IB+cluH+caliH": CLIBTerms(re=False, con=False),
    "IB+cluH+con": CLIBTerms(re=False, caliH=False),
    "no-warmup": CLIBTerms(warmup=False),
    "calihead-backprop": CLIBTerms(cali_backprop=True),
}


def variant_terms(variant: str) -> CLIBTerms:
    """The parts `variant` keeps; ValueError naming the known variants otherwise."""
    return variant_entry("CLIB", variant, VARIANTS)


@dataclass(frozen=True)
class CLIBConfig(IBSettings, Epochs, TrainingSettings):
    """Every resolved choice of spec/CLIB.md, with the spec's default."""

    screen_frac: float = 0.5
    warmup_epochs: int = 20
    head_init_steps: int = 200
    # The spec gives no optimiser for the head initialisation: Adam at this rate, batches of
    # `batch_size` drawn from all samples (a config key, our choice).
    head_init_lr: float = 1e-3
    kmeans_n_init: int = 10
    detach_cali: bool = True

    def for_variant(self, variant: str) -> CLIBConfig:
        """The configuration a variant trains with (no-warmup: 0 epochs; backprop: no detach)."""
        terms = variant_terms(variant)
        changes: dict[str, Any] = {}
        if not terms.warmup:
            changes["warmup_epochs"] = 0
        if terms.cali_backprop:
            changes["detach_cali"] = False
        return dataclasses.replace(self, **changes)


def config_problems(section: str, config: CLIBConfig, variants: list[str]) -> list[str]:
    """Settings that cannot train as specified: a warm-up as long as the run leaves the heads
    never initialised (they are fitted after the last warm-up epoch)."""
    warming = [v for v in variants if v in VARIANTS and VARIANTS[v].warmup]
    if warming and config.warmup_epochs >= config.epochs:
        return [
            f"{section}.warmup_epochs = {config.warmup_epochs} is not below {section}.epochs = "
            f"{config.epochs}: {', '.join(warming)} would end in warm-up with the heads never "
            "initialised (the heads are fitted after the last warm-up epoch)"
        ]
    return []
