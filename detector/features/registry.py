"""The feature catalogue: every feature's definition lives here as data.

A *family* is one pure, vectorised function over an annotated request frame (one
bucket of accounts) that returns one row per account and one column per feature it
declares. Families register with :func:`family`; the catalogue (``docs/features.md``)
and the model's preprocessing and reason sentences all read :data:`SPECS`, so a
feature is defined in exactly one place.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import pandas as pd

Scale = Literal["log", "share", "linear"]
Direction = Literal["high", "low", "both"]


@dataclass(frozen=True)
class FeatureSpec:
    """Metadata of one feature.

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


@dataclass(frozen=True)
class Family:
    """A registered family: its compute function and the specs it produces."""

    name: str
    func: Callable[..., pd.DataFrame]
    specs: tuple[FeatureSpec, ...]


FAMILIES: dict[str, Family] = {}
SPECS: dict[str, FeatureSpec] = {}


def family(name: str, specs: list[FeatureSpec]) -> Callable[[Callable[..., pd.DataFrame]], Callable[..., pd.DataFrame]]:
    """Register a feature family under ``name`` producing the columns in ``specs``."""

    def register(func: Callable[..., pd.DataFrame]) -> Callable[..., pd.DataFrame]:
        if name in FAMILIES:
            raise ValueError(f"feature family {name!r} registered twice")
        for spec in specs:
            if spec.name in SPECS:
                raise ValueError(f"feature {spec.name!r} registered twice")
            SPECS[spec.name] = spec
        FAMILIES[name] = Family(name, func, tuple(specs))
        return func

    return register
