"""CLIB's settings and variants (torch-free): every resolved choice of spec/CLIB.md, with the
spec's default (config keys `clib.*`), and what each ablation of CLIB's slide keeps."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from mmcbench.core.settings import (
    Compression,
    Epochs,
    FeatureMiInput,
    IBSettings,
    TrainingSettings,
    compression_help,
    feature_mi_help,
    redescribe,
    setting,
    variant_entry,
)


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

    alpha: float = redescribe(
        IBSettings, "alpha", "α, weight of L_Cal in L_IB + α L_Cal (spec default 0.5)."
    )
    beta: float = redescribe(
        IBSettings,
        "beta",
        "β, weight of the preservation term Σ_m I(H^m; H^f) of L_IB (spec default 0.5).",
    )
    epochs: int = redescribe(
        Epochs, "epochs", "Training epochs, warm-up included (spec - 100, as GIB)."
    )
    head_hidden: int = redescribe(
        IBSettings,
        "head_hidden",
        "Hidden width of the calibration and cluster heads (spec - 100).",
    )
    variational: bool = redescribe(
        IBSettings,
        "variational",
        "Variational encoders with the KL bound of I(X^m; H^m) (spec - true, as GIB).",
    )
    compression: Compression = redescribe(
        IBSettings,
        "compression",
        compression_help(
            "each calibration head's assignment of H^m (its parameters detached, so that only "
            "the encoders learn from it)"
        ),
    )
    feature_mi_input: FeatureMiInput = redescribe(
        IBSettings, "feature_mi_input", feature_mi_help("feature vectors (H^m and H^f)")
    )
    screen_frac: float = setting(
        0.5,
        "Screening quota, K = ceil(screen_frac · B / k) samples per cluster per modality "
        "(spec - 0.5).",
        exclusiveMinimum=0,
        maximum=1,
    )
    warmup_epochs: int = setting(
        20,
        "Epochs of L_IB only before the heads are initialised from k-means (spec - 20).",
        minimum=0,
    )
    head_init_steps: int = setting(
        200, "Cross-entropy steps fitting each head to its k-means labels (spec - 200).", minimum=0
    )
    # The spec gives no optimiser for the head initialisation: Adam at this rate, batches of
    # `batch_size` drawn from all samples (a config key, our choice).
    head_init_lr: float = setting(
        1e-3,
        "Adam learning rate of the head initialisation (the spec gives none; ours).",
        exclusiveMinimum=0,
    )
    kmeans_n_init: int = setting(10, "k-means restarts of the head initialisation.", minimum=1)
    detach_cali: bool = setting(
        True,
        "Calibration heads read H^m.detach() (spec - true; the calihead-backprop variant sets "
        "false).",
    )

    def for_variant(self, variant: str) -> CLIBConfig:
        """The configuration a variant trains with (no-warmup: 0 epochs; backprop: no detach)."""
        terms = variant_terms(variant)
        changes: dict[str, Any] = {}
        if not terms.warmup:
            changes["warmup_epochs"] = 0
        if terms.cali_backprop:
            changes["detach_cali"] = False
        return dataclasses.replace(self, **changes)

    def config_problems(self, section: str, variants: list[str]) -> list[str]:
        """A warm-up as long as the run leaves the heads never initialised (they are fitted
        after the last warm-up epoch)."""
        warming = [v for v in variants if v in VARIANTS and VARIANTS[v].warmup]
        if warming and self.warmup_epochs >= self.epochs:
            return [
                f"{section}.warmup_epochs = {self.warmup_epochs} is not below {section}.epochs "
                f"= {self.epochs}: {', '.join(warming)} would end in warm-up with the heads "
                "never initialised (the heads are fitted after the last warm-up epoch)"
            ]
        return []
