"""Small random draws shared by the population builders (one call per group, not per row)."""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa

from detector.simulate.ids import token_hex
from detector.simulate.persona_spec import Persona
from detector.simulate.state import DAY_US, World
from detector.simulate.textgen import STR


def loguniform(rng: np.random.Generator, lo: float, hi: float, n: int) -> np.ndarray:
    """``n`` values log-uniform in ``[lo, hi]`` (``lo`` everywhere when ``hi <= lo``)."""
    if hi <= lo:
        return np.full(n, float(lo))
    return np.exp(rng.uniform(math.log(lo), math.log(hi), n))


def choice(rng: np.random.Generator, options: tuple[tuple[str, float], ...], n: int) -> list[str]:
    """``n`` names drawn from weighted ``(name, weight)`` options."""
    names = [o[0] for o in options]
    w = np.array([o[1] for o in options], dtype=float)
    return [names[i] for i in rng.choice(len(names), size=n, p=w / w.sum())]


def flat(lists: list[list[str]]) -> tuple[pa.Array, np.ndarray]:
    """Concatenate per-account lists into one array plus offsets."""
    sizes = np.array([len(x) for x in lists], dtype=np.int64)
    off = np.concatenate([[0], np.cumsum(sizes)])
    return pa.array([s for x in lists for s in x], STR), off


def creation_times(rng: np.random.Generator, persona: Persona, world: World, n: int) -> np.ndarray:
    """Account creation instants (µs): ``persona.age_days`` before the window, or inside it."""
    age_days = loguniform(rng, persona.age_days[0], persona.age_days[1], n)
    created = world.start_us - (age_days * DAY_US).astype(np.int64)
    fresh = rng.random(n) < persona.fresh_in_window
    inside = world.start_us + (rng.random(n) * 0.6 * world.days * DAY_US).astype(np.int64)
    return np.where(fresh, inside, created)


class AccountIds:
    """Unique ``acct_`` + 10 hex account ids that reveal nothing about the persona."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self.seen: set[str] = set()

    def new(self) -> str:
        """A fresh id, never returned before by this instance."""
        while True:
            acct = "acct_" + token_hex(self.rng, 10)
            if acct not in self.seen:
                self.seen.add(acct)
                return acct
