"""The resolution study (spec "Resolution study"): which runs measure each resolved key.

For every method and variant of the study, dataset and seed, the default setting (the method's
config section) is trained, and so is every one-factor change: one key set to one of its other
values. A study point is an ordinary run whose path has one more part, `<key>=<value>`
(`results/runs/GIB/mfeat/GIB/a0.5_b0.5/kl_reduction=sum/seed0.json`), so the default point is
the very run the tables use, never trained twice, and adding a value adds exactly its own runs.
A value equal to the method's configured one is the default point itself.

A key a variant cannot feel (its loss term is off,
`mmcbench.planning.catalogue.inert_reason`) is not trained for that variant: the plan keeps
it as `inert`, with the reason, and the table says so.

Torch-free: the workflow plans the study with it, and `mmcbench train --set` parses with it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from mmcbench.planning import catalogue
from mmcbench.planning.run_paths import format_value, parse_value, point_dir, same_value

# Keys of a method's config section that are not passed in a run's --hparams: they select runs
# or set how a run executes, or the workflow sets them per run from the path (α, β).
RUN_KEYS = catalogue.WORKFLOW_KEYS + catalogue.all_path_keys()
# Hyper-parameters a study must not vary: α and β are the grid's, and the epochs define the
# protocol every other number is read at.
NOT_STUDIED = ("alpha", "beta", "epochs")
DEFAULT = "default"  # the `key` of a default point in the plan and in resolutions.csv


def parse_assignment(text: str) -> tuple[str, Any]:
    """`key=value` → (key, value); ValueError naming the text otherwise."""
    key, sep, value = text.partition("=")
    if not sep or not key or not value:
        raise ValueError(f"{text!r}: expected KEY=VALUE, e.g. kl_reduction=sum")
    return key, parse_value(value)


@dataclass(frozen=True)
class StudyPoint:
    """One setting of the study for one method and variant (all datasets and seeds)."""

    method: str
    variant: str
    key: str  # DEFAULT for the default setting
    value: Any = None
    inert: str | None = None  # why the key cannot change this variant (then not trained)

    @property
    def trained(self) -> bool:
        return self.inert is None

    @property
    def path_part(self) -> str | None:
        """`<key>=<value>`, or None for the default point (no extra path part)."""
        return None if self.key == DEFAULT else point_dir(self.key, self.value)

    @property
    def value_text(self) -> str:
        return "" if self.key == DEFAULT else format_value(self.value)

    def as_row(self) -> dict[str, Any]:
        row = asdict(self)
        row["value"] = self.value_text
        return row


def study_points(
    variants: Mapping[str, Iterable[str]],
    keys: Mapping[str, Iterable[Any]],
    sections: Mapping[str, Mapping[str, Any]],
) -> list[StudyPoint]:
    """Every point of the study: per method and variant, the default point, then each
    (key, value) the method has (a key of its section) that differs from its configured value.

    `variants`: method → study variants; `keys`: key → values to try; `sections`: method → its
    config section (with the schema's defaults filled in).
    """
    points = []
    for method, method_variants in variants.items():
        section = sections[method]
        for variant in method_variants:
            points.append(StudyPoint(method, variant, DEFAULT))
            for key, values in keys.items():
                if key not in section:
                    continue  # not a key of this method (e.g. ddc_input for CLIB)
                for value in values:
                    if same_value(value, section[key]):
                        continue  # the default point
                    reason = catalogue.inert_reason(method, variant, key)
                    points.append(StudyPoint(method, variant, key, value, reason))
    return points
