"""A tiny vectorised grammar: generators that return whole Arrow string arrays.

Every generator produces ``n`` strings at once with Arrow compute kernels (``take`` and
``binary_join_element_wise``), so building millions of prompts costs a handful of C++
calls per grammar node instead of a Python loop per request. All arrays are
``large_string`` so a day of long documents cannot overflow 32-bit offsets.
"""

from __future__ import annotations

import string
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

STR = pa.large_string()
_EMPTY = pa.scalar("", STR)


def lit(text: str) -> pa.Scalar:
    """A literal usable as a broadcast argument of :func:`join`."""
    return pa.scalar(text, STR)


def join(*parts: pa.Array | pa.Scalar | str, sep: str = "") -> pa.Array:
    """Element-wise concatenation of arrays and literals; nulls are skipped."""
    args = [lit(p) if isinstance(p, str) else p for p in parts]
    if not any(isinstance(a, pa.Array | pa.ChunkedArray) for a in args):
        raise ValueError("join needs at least one array")
    return pc.binary_join_element_wise(*args, _EMPTY if not sep else lit(sep), null_handling="skip")


def strings(items: Sequence[str]) -> pa.Array:
    """A ``large_string`` array of ``items``."""
    return pa.array(list(items), STR)


def take(items: pa.Array, idx: np.ndarray) -> pa.Array:
    """``items[idx]`` as an Arrow array."""
    return items.take(pa.array(idx, pa.int64()))


def assemble(n: int, parts: Sequence[tuple[np.ndarray, pa.Array]]) -> pa.Array:
    """Scatter ``(row_indices, values)`` parts into one array of length ``n``.

    The parts must cover ``0..n-1`` exactly once.
    """
    parts = [p for p in parts if len(p[0])]
    if not parts:
        return strings([])
    if len(parts) == 1:
        idx, arr = parts[0]
        order = np.empty(n, dtype=np.int64)
        order[idx] = np.arange(n)
        return arr.take(pa.array(order))
    rows = np.concatenate([p[0] for p in parts])
    values = pa.concat_arrays([p[1].cast(STR) for p in parts])
    inverse = np.empty(n, dtype=np.int64)
    inverse[rows] = np.arange(len(rows))
    return values.take(pa.array(inverse))


class Gen:
    """Base class: ``sample(rng, n)`` returns ``n`` strings."""

    def sample(self, rng: np.random.Generator, n: int) -> pa.Array:
        raise NotImplementedError


@dataclass
class Vocab(Gen):
    """Uniform choice from a fixed list."""

    items: Sequence[str]
    _arr: pa.Array = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if not self.items:
            raise ValueError("empty vocabulary")
        self._arr = strings(self.items)

    def sample(self, rng: np.random.Generator, n: int) -> pa.Array:
        return take(self._arr, rng.integers(0, len(self.items), n))

    def pick(self, idx: np.ndarray) -> pa.Array:
        """Deterministic choice: ``items[idx % len]``."""
        return take(self._arr, np.asarray(idx, dtype=np.int64) % len(self.items))


@dataclass
class Num(Gen):
    """Uniform integers in ``[lo, hi]`` rendered as decimal strings."""

    lo: int
    hi: int

    def sample(self, rng: np.random.Generator, n: int) -> pa.Array:
        return pa.array(rng.integers(self.lo, self.hi + 1, n), pa.int64()).cast(STR)


def _parse(text: str) -> tuple[list[str], list[str]]:
    """Split a ``str.format`` template into literal pieces and slot names."""
    literals: list[str] = []
    names: list[str] = []
    pending = ""
    for literal, name, _spec, _conv in string.Formatter().parse(text):
        pending += literal
        if name is None:
            continue
        literals.append(pending)
        names.append(name)
        pending = ""
    literals.append(pending)
    return literals, names


@dataclass
class Template(Gen):
    """A ``str.format``-style template whose ``{slots}`` are filled by generators.

    A slot name used twice gets the same value in both places (one draw per row).
    Slots missing from ``slots`` are looked up in ``defaults``.
    """

    text: str
    slots: dict[str, Gen]
    _literals: list[str] = field(init=False, repr=False)
    _names: list[str] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._literals, self._names = _parse(self.text)
        missing = set(self._names) - set(self.slots)
        if missing:
            raise KeyError(f"template {self.text[:40]!r} has unfilled slots {sorted(missing)}")
        self._scalars = [lit(x) if x else None for x in self._literals]

    @property
    def names(self) -> tuple[str, ...]:
        """Distinct slot names in order of first use."""
        return tuple(dict.fromkeys(self._names))

    def sample(self, rng: np.random.Generator, n: int) -> pa.Array:
        if not self._names:
            return pa.array(np.full(n, self._literals[0], dtype=object), STR)
        return self.render({name: self.slots[name].sample(rng, n) for name in self.names})

    def render(self, values: dict[str, pa.Array]) -> pa.Array:
        """Fill the slots with given arrays (one value per row)."""
        if not self._names:
            n = len(next(iter(values.values()))) if values else 0
            return pa.array(np.full(n, self._literals[0], dtype=object), STR)
        parts: list[pa.Array | pa.Scalar] = []
        for scalar, name in zip(self._scalars, self._names, strict=False):
            if scalar is not None:
                parts.append(scalar)
            parts.append(values[name])
        if self._scalars[-1] is not None:
            parts.append(self._scalars[-1])
        return join(*parts)


@dataclass
class Choice(Gen):
    """Mixture of generators with weights (one option drawn per row)."""

    options: Sequence[Gen]
    weights: Sequence[float] | None = None

    def sample(self, rng: np.random.Generator, n: int) -> pa.Array:
        k = len(self.options)
        if k == 1:
            return self.options[0].sample(rng, n)
        p = None
        if self.weights is not None:
            w = np.asarray(self.weights, dtype=float)
            p = w / w.sum()
        which = rng.choice(k, size=n, p=p)
        return dispatch(rng, which, self.options)


def groups(which: np.ndarray, k: int) -> list[np.ndarray]:
    """Row indices per option ``0..k-1`` (one sort instead of ``k`` comparisons)."""
    order = np.argsort(which, kind="stable")
    bounds = np.searchsorted(which[order], np.arange(k + 1))
    return [order[bounds[j] : bounds[j + 1]] for j in range(k)]


def dispatch(rng: np.random.Generator, which: np.ndarray, options: Sequence[Gen]) -> pa.Array:
    """Row ``i`` drawn from ``options[which[i]]``; one vectorised call per option."""
    parts = []
    for j, rows in enumerate(groups(which, len(options))):
        if len(rows):
            parts.append((rows, options[j].sample(rng, len(rows))))
    return assemble(len(which), parts)


@dataclass
class Repeat(Gen):
    """``lo..hi`` independent draws of ``gen`` joined by ``sep`` (e.g. paragraphs)."""

    gen: Gen
    lo: int
    hi: int
    sep: str = "\n"

    def sample(self, rng: np.random.Generator, n: int) -> pa.Array:
        k = rng.integers(self.lo, self.hi + 1, n)
        cols = []
        for j in range(self.hi):
            col = self.gen.sample(rng, n)
            if j >= self.lo:
                col = pc.if_else(pa.array(k > j), col, pa.nulls(n, STR))
            cols.append(col)
        return join(*cols, sep=self.sep)


@dataclass
class Lower(Gen):
    """Lower-case a share of rows and drop their final period (casual typing)."""

    gen: Gen
    share: float = 0.4

    def sample(self, rng: np.random.Generator, n: int) -> pa.Array:
        arr = self.gen.sample(rng, n)
        mask = pa.array(rng.random(n) < self.share)
        casual = pc.replace_substring_regex(pc.utf8_lower(arr), r"\.$", "")
        return pc.if_else(mask, casual, arr)


def freeze(gen: Gen, rng: np.random.Generator, n: int) -> Vocab:
    """Pre-sample ``n`` strings from ``gen`` into a vocabulary (e.g. a paragraph pool)."""
    return Vocab(gen.sample(rng, n).to_pylist())


@dataclass
class Decorate(Gen):
    """Optionally prepend and/or append a modifier (context, constraint) to each row.

    Real requests carry small personal details and constraints; combining them with
    base templates multiplies variety without more templates.
    """

    gen: Gen
    prefix: Gen | None = None
    p_prefix: float = 0.0
    suffix: Gen | None = None
    p_suffix: float = 0.0

    def sample(self, rng: np.random.Generator, n: int) -> pa.Array:
        parts: list[pa.Array | str] = []
        if self.prefix is not None and self.p_prefix > 0:
            mask = pa.array(rng.random(n) < self.p_prefix)
            parts.append(pc.if_else(mask, self.prefix.sample(rng, n), pa.nulls(n, STR)))
        parts.append(self.gen.sample(rng, n))
        if self.suffix is not None and self.p_suffix > 0:
            mask = pa.array(rng.random(n) < self.p_suffix)
            parts.append(pc.if_else(mask, self.suffix.sample(rng, n), pa.nulls(n, STR)))
        return join(*parts) if len(parts) > 1 else parts[0]
