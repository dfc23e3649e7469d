"""The feature catalogue: every feature's definition lives here as data.

A *family* is one pure, vectorised function over a :class:`~detector.features.base.Bucket`
(the annotated requests of a set of accounts) that returns one array per feature it
declares, one value per account. Families are registered per family rather than per
feature because the features of a family share their group-bys (one sort of a bucket
serves every timing feature). Families register with :func:`family`; the catalogue (``docs/features.md``)
and the model's preprocessing and reason sentences all read :data:`SPECS`, so a
feature is defined in exactly one place.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal

import numpy as np

FamilyFunc = Callable[..., Mapping[str, np.ndarray]]
Scale = Literal["log", "share", "linear"]
Direction = Literal["high", "low", "both"]


@dataclass(frozen=True, kw_only=True)
class FeatureSpec:
    """Metadata of one feature.

    Built by keyword only: ten fields of which five are strings read too easily in
    the wrong order when they are positional.

    Attributes
    ----------
    name : column name in the feature table.
    family : the family (module) that computes it.
    unit : human unit, used to render values (``share``, ``per_day``, ``tokens`` ...).
    description : one-line definition.
    why : why it separates extraction from product use.
    needs : contract columns it needs; when one is missing from a log the feature is
        omitted and named in the output metadata.
    neutral : value given to accounts with too little data for the feature.
    scale : how the model preprocesses it (``log`` for heavy-tailed counts, ``share``
        for values in [0, 1], ``linear`` otherwise).
    direction : which side is suspicious: ``high`` (large values), ``low`` or ``both``.
        The model only isolates on the suspicious side, so a benign account that is
        extreme in a harmless direction (a very *diverse* chat product) is not an outlier.
    reason : sentence template for explanations, formatted with ``value`` (already
        rendered in human units).
    echo_of : a feature this one mostly repeats (tokens per day echoes output tokens
        per day); explanations cite at most one feature of such a pair.
    """

    name: str
    family: str
    unit: str
    description: str
    why: str
    needs: tuple[str, ...]
    neutral: float
    scale: Scale
    direction: Direction
    reason: str
    echo_of: str | None = None


@dataclass(frozen=True)
class Family:
    """A registered family: its compute function and the specs it produces."""

    name: str
    func: FamilyFunc
    specs: tuple[FeatureSpec, ...]
    per_bucket: bool = True
    """False for families computed across buckets (coordination links accounts)."""


FAMILIES: dict[str, Family] = {}
SPECS: dict[str, FeatureSpec] = {}


def family(
    name: str, specs: list[FeatureSpec], *, per_bucket: bool = True
) -> Callable[[FamilyFunc], FamilyFunc]:
    """Register a feature family under ``name`` producing the columns in ``specs``."""

    def register(func: FamilyFunc) -> FamilyFunc:
        if name in FAMILIES:
            raise ValueError(f"feature family {name!r} registered twice")
        for spec in specs:
            if spec.name in SPECS:
                raise ValueError(f"feature {spec.name!r} registered twice")
            SPECS[spec.name] = spec
        FAMILIES[name] = Family(name, func, tuple(specs), per_bucket)
        return func

    return register
