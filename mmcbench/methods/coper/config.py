"""COPER's settings and variants (torch-free): every resolved choice of spec/COPER.md with the
spec's default (config keys `coper.*`; generic vector data take `caltech5V_7`'s values), and
the pseudo-CCA variant (the paper's objective)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Literal

from mmcbench.core.settings import TrainingSettings, setting, variant_entry

CoperInit = Literal["normal", "torch_default", "he"]


@dataclass(frozen=True)
class COPERTerms:
    """What a variant changes of the configured objective."""

    pseudo_cca_loss: bool | None = None  # None: as configured
    cca_precision: str | None = None  # None: as configured


VARIANTS: dict[str, COPERTerms] = {
    # the released configs' objective (pseudo_cca_loss as configured, false by default)
    "COPER": COPERTerms(),
    # the abstract's and Figure 1's objective: CCA on the within-cluster permuted batches
    "pseudo-CCA": COPERTerms(pseudo_cca_loss=True),
    # the CCA blocks in float64 (a suite alternative: in float32 the eigendecomposition's
    # backward overflows on near-equal eigenvalues, e.g. on mfeat, and the run diverges)
    "CCA-float64": COPERTerms(cca_precision="float64"),
}


def variant_terms(variant: str) -> COPERTerms:
    """The terms `variant` changes; ValueError naming the known variants otherwise."""
    return variant_entry("COPER", variant, VARIANTS)


def _whole(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass(frozen=True)
class COPERConfig(TrainingSettings):
    """Every resolved choice of spec/COPER.md with the spec's default (the authors' code,
    LindenbaumLab/COPER be0428f, `caltech5V_7`'s values for generic vector data).

    Schedule (0-based epoch t = loop epoch − 1): stage I (t < `stage2_epoch`) reconstruction +
    CCA; stage II adds the soft pseudo-label CE; stage III (t ≥ `stage3_epoch`) the permuted CE
    (and the permuted CCA under `pseudo_cca_loss`). The CCA constants r = 1e-3 and the top 10
    canonical correlations are fixed in losses.py (hard-coded in the code)."""

    batch_size: int = setting(
        256,
        "Batch size B (caltech5V_7 256; capped at N, shuffled, last partial batch dropped).",
        minimum=2,
    )
    lr: float = setting(
        1e-4,
        "Adam learning rate (code 1e-4; no weight decay, scheduler or clipping).",
        exclusiveMinimum=0,
    )
    init: CoperInit = setting(
        "normal",
        "Linear layers: normal (code: weights N(0, 0.01²), biases 0) | torch_default | he.",
    )
    grad_clip: float | None = setting(None, "Gradient-norm clipping (null = none, the code).")
    epochs: int = setting(600, "T, training epochs (caltech5V_7 600).", minimum=1)
    encoder_widths: tuple[int, ...] = setting(
        (512, 256, 128),
        "Encoder widths after d_v, the last = D the embedding width (caltech5V_7 512-256-128; "
        "the decoder mirrors them).",
    )
    head_hidden: int = setting(1024, "H, the cluster head's hidden width (code 1024).", minimum=1)
    stage2_epoch: int = setting(
        150, "t₂: 0-based epoch t ≥ t₂ adds the soft pseudo-label CE (caltech5V_7 150).", minimum=0
    )
    stage3_epoch: int = setting(
        200, "t₃: 0-based epoch t ≥ t₃ adds the permuted CE (caltech5V_7 200).", minimum=0
    )
    pseudo_labels_k: int | None = setting(
        None,
        "k, rows per cluster of the pseudo-labels: null = floor(B/K) (the uspsmnist rule, "
        "spec default) | a number (caltech5V_7 70).",
    )
    cosine_neighbor_threshold: float = setting(
        0.5, "τ, the cosine threshold of the pseudo-label neighbours (code 0.5)."
    )
    validation_every: int = setting(
        10,
        "Validation interval in epochs (code 10): the paper protocol picks among these epochs, "
        "and eval_neg_silhouette is computed only there.",
        minimum=1,
    )
    pseudo_cca_loss: bool = setting(
        False,
        "CCA on the within-cluster permuted batches in stage III: false (the released "
        "configs) | true (the paper's objective; variant pseudo-CCA).",
    )
    pseudo_cca_loss_lambda: float = setting(
        0.01, "λ of the permuted CCA term (code 0.01).", minimum=0
    )
    ce_to_encoders: bool = setting(
        False,
        "false: the CE terms train the head only (the code) | true: they reach the encoders "
        "too (ω detached; the paper's end-to-end).",
    )
    use_decoder: bool = setting(
        True,
        "Per-view decoders and the reconstruction term: true (README, the training step's "
        "default) | false (the builder's default).",
    )
    shared_forward: bool = setting(
        False,
        "false: fresh train-mode passes per view pair (faithful; BN statistics updated "
        "2(V−1) times per step) | true: one pass per view reused by every pair.",
    )
    normalize_embeddings: bool = setting(
        True, "Row-wise L2 normalisation of h^v before the fusion and the head (code true)."
    )
    cca_precision: Literal["run", "float64"] = setting(
        "run",
        "Floating-point type of the CCA blocks: run (the run's, float32 by default, as the "
        "code) | float64 (the suite's alternative: float32's eigendecomposition backward "
        "overflows on near-equal eigenvalues and the run diverges, e.g. on mfeat).",
    )
    acc_matching: Literal["hungarian", "greedy"] = setting(
        "hungarian",
        "ACC matching: hungarian (protocol.md, the loop's) | greedy (the code; refused: the "
        "loop scores ACC by Hungarian matching and a trainer never sees the labels).",
    )
    preprocess: Literal["minmax_feature", "none"] = setting(
        "minmax_feature",
        "Scaling of the views for COPER runs: minmax_feature (per feature [0, 1], protocol.md) "
        "| none (the authors' pickles as given).",
    )

    def check(self) -> None:
        for key in ("epochs", "head_hidden", "validation_every", "batch_size"):
            value = getattr(self, key)
            if not _whole(value) or value < (2 if key == "batch_size" else 1):
                low = 2 if key == "batch_size" else 1
                raise ValueError(f"{key} = {value!r}: a whole number, {low} or more")
        for key in ("stage2_epoch", "stage3_epoch"):
            value = getattr(self, key)
            if not _whole(value) or value < 0:
                raise ValueError(f"{key} = {value!r}: a 0-based epoch, 0 or more")
        if self.stage3_epoch < self.stage2_epoch:
            raise ValueError(
                f"stage3_epoch = {self.stage3_epoch} < stage2_epoch = {self.stage2_epoch}: the "
                "permuted CE needs the pseudo-labels, which start at stage2_epoch"
            )
        widths = self.encoder_widths
        if not widths or not all(_whole(w) and w >= 1 for w in widths):
            raise ValueError(f"encoder_widths = {widths!r}: one or more whole widths ≥ 1")
        if widths[-1] < 10:
            raise ValueError(
                f"encoder_widths = {widths!r}: the embedding width D (the last) must be ≥ 10, "
                "the CCA term sums the 10 largest canonical correlations"
            )
        k = self.pseudo_labels_k
        if k is not None and (not _whole(k) or k < 1):
            raise ValueError(f"pseudo_labels_k = {k!r}: null (floor(B/K)) or a whole number ≥ 1")
        if not -1.0 <= self.cosine_neighbor_threshold < 1.0:
            raise ValueError(
                f"cosine_neighbor_threshold = {self.cosine_neighbor_threshold!r}: a cosine in "
                "[-1, 1)"
            )
        if not self.pseudo_cca_loss_lambda >= 0:
            raise ValueError(f"pseudo_cca_loss_lambda = {self.pseudo_cca_loss_lambda!r}: 0 or more")
        if self.acc_matching != "hungarian":
            raise ValueError(
                "acc_matching = 'greedy' is not supported: the training loop scores ACC with "
                "Hungarian matching and a trainer never sees the labels; use 'hungarian'"
            )

    @property
    def total_epochs(self) -> int:
        """T epochs."""
        return self.epochs

    def scaling(self) -> str | None:
        """`preprocess`, the view scaling of COPER runs."""
        return self.preprocess

    def for_variant(self, variant: str) -> COPERConfig:
        """The configuration a variant trains with (pseudo-CCA: `pseudo_cca_loss` true;
        CCA-float64: `cca_precision` float64)."""
        terms = variant_terms(variant)
        changes = {
            key: value
            for key, value in dataclasses.asdict(terms).items()
            if value is not None and value != getattr(self, key)
        }
        return dataclasses.replace(self, **changes) if changes else self
