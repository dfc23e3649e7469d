"""Named simulated worlds: which personas live there, how many of each, and the defaults.

``default`` is the original demo world: persona weights fix its composition (about
12% extraction, many heavy products), its bytes are pinned by the tests. ``realistic``
is a provider's population as it looks (see :mod:`.personas_realistic`): 20,000
accounts, most of them small, and a ``prevalence`` (default 1%) that sets the share
of extraction accounts exactly, whatever the size of the world.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from detector.schema import LABEL_BENIGN, LABEL_EXTRACTION
from detector.simulate.corpus import Corpus
from detector.simulate.networks import SharedPools, default_pools, realistic_pools
from detector.simulate.persona_spec import Persona
from detector.simulate.personas import PERSONAS
from detector.simulate.personas_realistic import REALISTIC_PERSONAS, SWARM_PERSONA
from detector.simulate.population import allocate
from detector.simulate.prompts import PromptLibrary
from detector.simulate.prompts_realistic import add_realistic_makers

PREVALENCE_RANGE = (0.001, 0.25)
"""Accepted extraction shares (the realistic world's default is 0.01)."""
GROUP_FLOORS = {"hydra": 5, "swarm": 10, "lab": 5, "cohort": 10, "org": 4}
"""Fewest accounts a coordinated persona needs to be itself; others need 2."""


@dataclass(frozen=True)
class WorldSpec:
    """A named world and its defaults (the one home of each world's default sizes)."""

    name: str
    personas: tuple[Persona, ...]
    accounts: int
    days: int
    prevalence: float | None
    """Default share of extraction accounts; ``None``: fixed by the persona weights."""
    pools: Callable[[int, int], SharedPools]
    """``(seed, accounts)`` -> the world's shared address pools and boilerplate."""
    extra_makers: Callable[[PromptLibrary, int], None] | None = None
    """Registers the world's own prompt makers on a library (``lib, seed``)."""

    def counts(
        self, accounts: int, prevalence: float | None, hydra_accounts: int | None
    ) -> dict[str, int]:
        """Accounts per persona; ``prevalence``/``hydra_accounts`` only where supported."""
        if self.prevalence is None:
            if prevalence is not None or hydra_accounts is not None:
                raise ValueError(
                    f"prevalence and hydra_accounts apply to the realistic world, "
                    f"not the {self.name!r} one"
                )
            return allocate(accounts)
        share = self.prevalence if prevalence is None else prevalence
        lo, hi = PREVALENCE_RANGE
        if not lo <= share <= hi:
            raise ValueError(f"prevalence must be within {lo}..{hi} (got {share})")
        fixed = None if hydra_accounts is None else {SWARM_PERSONA: hydra_accounts}
        return allocate_by_prevalence(self.personas, accounts, share, fixed)

    def library(self, seed: int, corpus: Corpus | None = None) -> PromptLibrary:
        """The prompt library of this world (corpus content included when given)."""
        lib = PromptLibrary(seed, corpus)
        if self.extra_makers is not None:
            self.extra_makers(lib, seed)
        return lib


DEFAULT_WORLD = WorldSpec(
    "default", PERSONAS, accounts=1500, days=10, prevalence=None,
    pools=lambda seed, _accounts: default_pools(seed),
)  # fmt: skip
REALISTIC_WORLD = WorldSpec(
    "realistic", REALISTIC_PERSONAS, accounts=20_000, days=7, prevalence=0.01,
    pools=realistic_pools, extra_makers=add_realistic_makers,
)  # fmt: skip
WORLDS: dict[str, WorldSpec] = {w.name: w for w in (DEFAULT_WORLD, REALISTIC_WORLD)}


def group_floor(persona: Persona) -> int:
    """Fewest accounts ``persona`` should get when the world is big enough."""
    return GROUP_FLOORS.get(persona.group or "", 2)


def allocate_by_prevalence(
    personas: tuple[Persona, ...],
    n_accounts: int,
    prevalence: float,
    fixed: dict[str, int] | None = None,
) -> dict[str, int]:
    """Accounts per persona: ``round(prevalence * n)`` extraction, the rest benign.

    Within a label, accounts follow the persona weights (largest remainder), then
    personas under their floor (:func:`group_floor`) take accounts from the persona of
    the same label with the most to spare, so the labels' totals never move. ``fixed``
    pins some personas' counts; the rest of their label's budget is split as usual.
    """
    n_x = round(prevalence * n_accounts)
    budgets = {LABEL_BENIGN: n_accounts - n_x, LABEL_EXTRACTION: n_x}
    fixed = fixed or {}
    counts: dict[str, int] = {}
    for label, budget in budgets.items():
        members = [p for p in personas if p.label == label]
        pinned = {p.name: int(fixed[p.name]) for p in members if p.name in fixed}
        if any(v < 0 for v in pinned.values()) or sum(pinned.values()) > budget:
            raise ValueError(
                f"{', '.join(pinned)}: {sum(pinned.values())} accounts do not fit in the "
                f"{budget} {label} accounts of this world"
            )
        counts.update(pinned)
        rest = [p for p in members if p.name not in pinned]
        counts.update(_split(rest, budget - sum(pinned.values())))
    return {p.name: counts[p.name] for p in personas}


def _split(personas: list[Persona], budget: int) -> dict[str, int]:
    if not personas:
        return {}
    weights = np.array([p.weight for p in personas], dtype=float)
    exact = weights / weights.sum() * budget
    counts = np.floor(exact).astype(int)
    order = np.argsort(-(exact - counts), kind="stable")
    counts[order[: budget - counts.sum()]] += 1
    floors = np.array([group_floor(p) for p in personas])
    for i in range(len(personas)):
        while counts[i] < floors[i]:
            spare = counts - floors
            donor = int(np.argmax(spare))
            if spare[donor] <= 0:
                break
            counts[donor] -= 1
            counts[i] += 1
    return {p.name: int(c) for p, c in zip(personas, counts, strict=True)}
