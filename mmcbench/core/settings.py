"""Settings of deep methods, composed from key groups (torch-free).

Every deep method's config class is a frozen dataclass built from `TrainingSettings` (the keys
every method has: batch size, learning rate, initialisation, gradient clipping) and the key
groups it uses: `Epochs` (one schedule of `epochs`), `IBSettings` (α, β and the variational
encoder of GIB and CLIB), and the method's own keys in its folder's `config.py`. Fields typed
as a Literal are checked on construction; `from_dict` turns a config section into the class.
The Snakefile's checks and the CLI read these classes without loading torch.

Each field is the one source of its key: `setting` gives it its default, its description and
its JSON-schema rules (minimum, maximum, …), and `fields_schema` writes the key's rule of the
config schema from the field (type from the annotation, enum from a Literal, default, description);
`redescribe` gives an inherited field a method's own description. A method's hooks (`for_variant`,
`config_problems`, `inert_reason`, `scaling`) are methods of `TrainingSettings` with defaults.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, Self, TypeVar

Init = Literal["torch_default", "he"]
SigmaParam = Literal["softplus_offset", "exp_logvar"]
KlReduction = Literal["mean", "sum"]
Compression = Literal["gaussian_kl", "cluster_balance", "sampled", "none"]
COMPRESSION_READINGS: tuple[str, ...] = ("gaussian_kl", "cluster_balance", "sampled", "none")
READING_KEY = "compression"  # the key whose readings are rows of the tables and claims
# Each reading of I(X; H) in words (a table row's label says which one it shows).
COMPRESSION_WORDS = {
    "gaussian_kl": "I(X;H) as the analytic KL to N(0, I)",
    "cluster_balance": "I(X;H) as cluster balance vs uniform",
    "sampled": "I(X;H) as the KL sampled at the draw",
    "none": "no I(X;H) term",
}


def reading_words(reading: str) -> str:
    """A reading of the compression term in words ("" = the configured reading)."""
    return COMPRESSION_WORDS.get(reading, reading) if reading else "configured"


FeatureMiInput = Literal["normalised", "softmax"]


def literal_choices(cls: type) -> dict[str, tuple[Any, ...]]:
    """The allowed values of every field of dataclass `cls` typed as a Literal."""
    hints = typing.get_type_hints(cls)
    return {
        f.name: typing.get_args(hints[f.name])
        for f in dataclasses.fields(cls)
        if typing.get_origin(hints[f.name]) is Literal
    }


def setting(
    default: Any = dataclasses.MISSING, help: str = "", *, factory: Any = None, **rules: Any
) -> Any:
    """A dataclass field with its config key's description (`help`) and JSON-schema `rules`
    (minimum, maximum, exclusiveMinimum, items: {...}, …), read by `fields_schema`."""
    metadata = {"help": help, "rules": rules}
    if factory is not None:
        return dataclasses.field(default_factory=factory, metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


def redescribe(cls: type, name: str, help: str) -> Any:
    """Field `name` of dataclass `cls` (its default and rules) with a method's own description."""
    found = {f.name: f for f in dataclasses.fields(cls)}[name]
    rules = found.metadata.get("rules", {})
    if found.default_factory is not dataclasses.MISSING:
        return setting(help=help, factory=found.default_factory, **rules)
    return setting(found.default, help, **rules)


_JSON_TYPES = {bool: "boolean", int: "integer", float: "number", str: "string"}


def _type_rule(hint: Any) -> dict[str, Any]:
    """The JSON-schema type of an annotation (Literal: enum; X | None: [type, null]; tuples:
    arrays; a dataclass: an object of its own fields)."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is Literal:
        return {"enum": list(args)}
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in args if a is not type(None)]
        if len(inner) != 1:
            raise TypeError(f"no config-schema type for {hint!r}")
        rule = _type_rule(inner[0])
        if "enum" in rule:
            return {"enum": [*rule["enum"], None]}
        return {**rule, "type": [rule["type"], "null"]}
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return {"type": "array", "items": _type_rule(args[0])}
        item = "integer" if all(a is int for a in args) else "number"
        return {
            "type": "array",
            "items": {"type": item},
            "minItems": len(args),
            "maxItems": len(args),
        }
    if dataclasses.is_dataclass(hint):
        return {"type": "object", "additionalProperties": False, "properties": fields_schema(hint)}
    if hint in _JSON_TYPES:
        return {"type": _JSON_TYPES[hint]}
    raise TypeError(f"no config-schema type for {hint!r}")


def _json_default(value: Any) -> Any:
    if dataclasses.is_dataclass(value):
        return {}  # a nested section: its own keys' defaults fill it in
    if isinstance(value, tuple | list):
        return [_json_default(v) for v in value]
    return value


def fields_schema(cls: type) -> dict[str, dict[str, Any]]:
    """Key → its JSON-schema rule, for every field of settings class `cls`: the description and
    rules of `setting`, the type of the annotation, the default of the field."""
    hints = typing.get_type_hints(cls)
    rules = {}
    for f in dataclasses.fields(cls):
        rule = {"description": f.metadata["help"]} if f.metadata.get("help") else {}
        rule |= _type_rule(hints[f.name])
        for key, value in f.metadata.get("rules", {}).items():
            rule[key] = {**rule.get(key, {}), **value} if key == "items" else value
        if f.default_factory is not dataclasses.MISSING:
            rule["default"] = _json_default(f.default_factory())
        elif f.default is not dataclasses.MISSING:
            rule["default"] = _json_default(f.default)
        rules[f.name] = rule
    return rules


def _tuple_fields(cls: type) -> set[str]:
    hints = typing.get_type_hints(cls)
    return {
        f.name
        for f in dataclasses.fields(cls)
        if typing.get_origin(hints[f.name]) is tuple or hints[f.name] is tuple
    }


def compression_help(balance_input: str) -> str:
    """The description of `compression`, its cluster_balance reading taken on `balance_input`."""
    return (
        "What stands for I(X; H) (Theorem 2; history term vib; each reading is a row of the "
        "tables with readings.compression). gaussian_kl (spec default) - the analytic "
        "KL(N(μ, σ²) ‖ N(0, I)), reduced by kl_reduction; sampled - the same KL estimated at "
        "the step's reparameterised draw (Eq. 23's E_θ; same expectation, another gradient "
        "noise); cluster_balance - Theorem 2's q \"uniformly distributed to enforce balanced "
        "cluster assignments\" read literally, per view the KL of the batch's mean assignment "
        f"against the uniform distribution over the k clusters, on {balance_input}; none - no "
        "compression term, the other terms unchanged."
    )


def feature_mi_help(vectors: str) -> str:
    """The description of `feature_mi_input`, for the method's `vectors`."""
    return (
        f"How {vectors} enter the Proposition-1 MI estimator. normalised (spec default, "
        "revised) - ReLU rows, the joint normalised by its sum; softmax (the first reading) - "
        "softmax over the features of each row, measured to give I ≈ 0."
    )


@dataclass(frozen=True)
class TrainingSettings:
    """Keys every deep method has: Adam at `lr` (no weight decay) over batches of
    `batch_size`; `init` of the linear layers (`he`: He normal, DanielTrosten/mvc;
    `torch_default`); `grad_clip` the whole model's gradient norm (null: none)."""

    batch_size: int = setting(256, "Mini-batch size B (GIB's paper, CLIB's spec - 256).", minimum=2)
    lr: float = setting(
        1e-4, "Adam learning rate (GIB's paper, CLIB's spec - 1e-4).", exclusiveMinimum=0
    )
    init: Init = setting(
        "he",
        "Weight initialisation, left to the code by the paper, so the authors' code lineage "
        "gives the default. he (spec default, DanielTrosten/mvc) - He-normal weights of every "
        "linear layer, biases as PyTorch's; torch_default (the first reading) - PyTorch's.",
    )
    grad_clip: float | None = setting(
        5.0,
        "Largest gradient norm of the whole model before each Adam step of training, left to "
        "the code by the paper (spec default 5, DanielTrosten/mvc); null = no clipping (the "
        "first reading). CLIB's head initialisation has optimisers of its own, not clipped.",
        exclusiveMinimum=0,
    )

    def __post_init__(self) -> None:
        for name, choices in literal_choices(type(self)).items():
            value = getattr(self, name)
            if value not in choices:
                raise ValueError(
                    f"{name} = {value!r}: expected one of {', '.join(map(repr, choices))}"
                )
        if self.grad_clip is not None and not self.grad_clip > 0:
            raise ValueError(f"grad_clip = {self.grad_clip!r}: a positive number, or null for none")
        self.check()

    def check(self) -> None:
        """Method-specific checks (ValueError naming the key); none by default."""

    def for_variant(self, variant: str) -> Self:
        """The settings a run of `variant` trains with (a method may change its schedule per
        variant, e.g. MFLVC's no-finetune: no stage 3); these settings by default."""
        return self

    def config_problems(self, section: str, variants: list[str]) -> list[str]:
        """Settings that cannot train `variants` as specified, one sentence each naming the keys
        of config section `section` (checks that need the variants); none by default."""
        return []

    @classmethod
    def inert_reason(cls, variant: str, key: str) -> str | None:
        """Why study key `key` cannot change a run of `variant` (its loss term is off), or None
        (the default: every key acts on every variant)."""
        return None

    def scaling(self) -> str | None:
        """The view scaling this method's runs use instead of the config's
        `preprocessing.scaling`, or None (the default: the config's)."""
        return None

    @property
    def total_epochs(self) -> int:
        """Epochs the training loop runs (all stages)."""
        raise NotImplementedError(f"{type(self).__name__} does not say how many epochs it runs")

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> Self:
        """From a config section (lists where the dataclass has tuples)."""
        values = dict(values)
        for name in _tuple_fields(cls) & set(values):
            values[name] = tuple(values[name])
        return cls(**values)


@dataclass(frozen=True)
class Epochs:
    """One schedule of `epochs` epochs."""

    epochs: int = setting(100, "Training epochs (GIB's paper §3.1 - 100).", minimum=0)

    @property
    def total_epochs(self) -> int:
        return self.epochs


@dataclass(frozen=True)
class IBSettings:
    """α, β and the variational encoders of the information-bottleneck methods (GIB, CLIB):
    MLP encoders d → encoder_hidden → latent_dim, heads latent_dim → head_hidden → k.

    Revised keys (spec "Revised" lines; the first reading is config/resolutions/first-reading.yaml):
    `sigma_param` / `sigma_offset` (σ of the variational encoder), `kl_reduction` (of the VIB
    KL), `feature_mi_input` (feature-level Proposition-1 MI). `compression`, what stands for
    I(X^i; H^i) (Theorem 2; each reading is a row of the tables, `readings` in the config):
    `gaussian_kl` (default, the analytic VIB KL against N(0, I)), `cluster_balance` (KL of the
    batch's mean assignment of each view against the uniform distribution over the k clusters,
    `mmcbench.losses.balance`), `sampled` (the same KL estimated at the reparameterised draw,
    `mmcbench.losses.vib.sampled_kl`) or `none` (no compression term)."""

    alpha: float = setting(
        0.5,
        "α, weight of the compression terms of L_Balls and L_Samples (the paper does not state "
        "Table 1's; spec default 0.5).",
        minimum=0,
        maximum=1,
    )
    beta: float = setting(
        0.5,
        "β, weight of the preservation terms of L_Balls and L_Samples (spec default 0.5).",
        minimum=0,
        maximum=1,
    )
    encoder_hidden: tuple[int, ...] = setting(
        (512, 512),
        "Hidden widths of each modality's MLP encoder (GIB's paper, CLIB's spec - 512, 512).",
        items={"minimum": 1},
    )
    latent_dim: int = setting(256, "Dimension of H (GIB's paper, CLIB's spec - 256).", minimum=1)
    head_hidden: int = setting(
        100, "Hidden width of the DDC clustering module (paper - 100).", minimum=1
    )
    variational: bool = setting(
        True, "Variational encoders (μ, log σ²; Theorem 2). Spec's resolution - true."
    )
    sigma_param: SigmaParam = setting(
        "softplus_offset",
        "σ of the variational encoder from the raw half s of its last layer. softplus_offset "
        "(spec default, revised) - σ = softplus(s − sigma_offset) + 1e-7, deep VIB's code, σ ≈ "
        "0.007 at initialisation; exp_logvar (the first reading) - σ = exp(s / 2), σ ≈ 1 at "
        "initialisation.",
    )
    sigma_offset: float = setting(5.0, "Offset of sigma_param softplus_offset (spec - 5).")
    kl_reduction: KlReduction = setting(
        "mean",
        "Reduction of the VIB KL I(X; H). mean (spec default, revised) - over the latent "
        "dimensions and the batch, as the authors' group's IB code; sum (the first reading) - "
        "summed over the latent dimensions, mean over the batch (Alemi et al.), latent_dim "
        "times larger.",
    )
    compression: Compression = setting(
        "gaussian_kl", compression_help("the DDC module's Y^i (on C^i or H^i, by ddc_input)")
    )
    feature_mi_input: FeatureMiInput = setting(
        "normalised", feature_mi_help("feature vectors (ball centres C)")
    )
    mi_eps: float = setting(
        1e-9, "Clamp of every probability in the MI estimator.", exclusiveMinimum=0
    )
    min_batch_factor: int = setting(
        2,
        "A last batch smaller than min_batch_factor · k samples joins the previous one.",
        minimum=1,
    )

    def check(self) -> None:
        if not math.isfinite(self.sigma_offset):
            raise ValueError(f"sigma_offset = {self.sigma_offset!r}: must be a finite number")


@dataclass(frozen=True)
class BallSettings:
    """Granular-ball hyper-parameters (config keys `gib.balls.*`; defaults: GIB §3.1)."""

    theta: float = setting(0.9, "Purity threshold θ (paper - 0.9).", minimum=0, maximum=1)
    n_th: float = setting(
        1.0,
        "Largest ball as a fraction of the batch. Spec's resolution of the paper's \"1.0\" - "
        "1.0 = no size limit.",
        exclusiveMinimum=0,
    )
    min_ball_size: int = setting(
        2, "Smallest ball a split may produce (spec - 2, so no single-sample balls).", minimum=1
    )
    max_split_rounds: int = setting(10, "Rounds of splitting per batch.", minimum=0)
    kmeans_iters: int = setting(
        20, "Lloyd iterations of the pseudo-label k-means and of each 2-means split.", minimum=1
    )
    implementation: Literal["batched", "sequential"] = setting(
        "batched",
        "How the balls are computed, not a reading of the paper (both give the partition "
        "§2.4.1 describes, from other random numbers and float rounding). batched (default) - "
        "each representation of a run (H^i of every view, H^s) draws from its own generator, "
        "so a step's balls are one call, and a 2-means split scores each row against its own "
        "ball's two centres, and L_Balls's MI of a run alone sums its joint distribution per "
        "pair of balls (each centre times the samples the two balls share; the same sum in "
        "another order); sequential (the first reading sets it) - one "
        "generator for every representation in turn, one call each, each row scored by one "
        "product with all balls' centres (its cost grows with the square of the balls), and "
        "the MI summed over the samples' rows of C.",
    )

    def __post_init__(self) -> None:
        if self.implementation not in ("batched", "sequential"):
            raise ValueError(
                f"balls.implementation = {self.implementation!r}: expected batched or sequential"
            )


Terms = TypeVar("Terms")


def variant_entry(method: str, variant: str, variants: Mapping[str, Terms]) -> Terms:
    """A method's entry for `variant` in its VARIANTS; ValueError naming the known variants."""
    if variant not in variants:
        raise ValueError(f"unknown {method} variant {variant!r}; expected one of {list(variants)}")
    return variants[variant]
