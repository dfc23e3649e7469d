"""What a persona is: an account archetype and its traffic streams, as parameters.

A :class:`Persona` is an account archetype with a label; its traffic is one or more
:class:`Stream` components (a product's user chats, a nightly job, a hidden
distillation loop). The worlds' catalogues (:mod:`.personas`, :mod:`.personas_realistic`)
are data built from these two types; the engine in :mod:`detector.simulate.traffic`
turns their parameters into rows. Also here: the parameter values both catalogues
share (hydra cluster sizes and evidence, temperature sweep grids).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Timing = Literal["poisson", "block", "campaign"]
Days = Literal["account", "always", "release"] | tuple[int, int]
Adoption = Literal["fast", "gradual", "evaluator"]
GroupKind = Literal["hydra", "org", "lab", "cohort", "swarm"]

# hydra clusters: sizes cut in turn, and what each successive cluster shares
HYDRA_SIZES: tuple[int, ...] = (6, 15, 40, 10, 25, 80, 8, 120, 30, 200, 12, 60)
HYDRA_EVIDENCE: tuple[str, ...] = ("payment", "network", "none")

# temperature sweeps a script cycles through (one grid per account)
SWEEP_GRIDS: tuple[tuple[float, ...], ...] = (
    (0.0, 0.5, 1.0),
    (0.2, 0.6, 1.0),
    (0.3, 0.7, 1.0, 1.2),
    (0.0, 0.25, 0.5, 0.75, 1.0),
    (0.5, 0.8, 1.1),
    (0.6, 0.9),
    (0.7, 1.0),
)


@dataclass(frozen=True)
class Stream:
    """One traffic component of an account (all ranges are drawn once per account)."""

    name: str
    prompt: str
    """Prompt maker for a conversation's first turn (see :mod:`.prompts`)."""
    timing: Timing = "poisson"
    curve: str = "human"
    """Hour-of-day curve for ``poisson`` timing (see :mod:`.timing`)."""
    share: tuple[float, float] = (1.0, 1.0)
    """Share of the account's daily rate this stream carries."""
    rate: tuple[float, float] | None = None
    """Own requests/day (log-uniform), overriding ``share`` x account rate."""
    days: Days = "account"
    """Active days: the account's daily coin flip, every day, ``(lo, hi)`` chosen days, or
    ``"release"`` (the day a new model ships and the day after)."""
    block: tuple[float, float, float, float] = (0.0, 0.0, 24.0, 24.0)
    """``block`` timing: start hour lo/hi and duration lo/hi (hours)."""
    block_local: bool = False
    """Block start is in the account's local time rather than UTC."""
    session: tuple = ("single",)
    """Requests per session: ``("single",)``, ``("geom", mean, cap)``, ``("burst", lo, hi)``."""
    conversation: float = 1.0
    """Probability a session is one conversation (else independent single requests)."""
    gap_s: tuple[float, float] = (60.0, 0.9)
    """Lognormal median (seconds) and sigma of the gap between a session's requests."""
    followup: str = "followup"
    followup_p: float = 0.5
    """Probability a later turn uses the ``followup`` maker instead of ``prompt``."""
    endpoints: tuple[tuple[str, float], ...] = (("messages", 1.0),)
    system_prompt: float = 0.0
    """Probability a request carries one of the account's system prompts."""
    sys_tokens: tuple[int, int] = (60, 600)
    base_context: tuple[int, int] = (0, 0)
    """Tokens added to every request (tool schemas, retrieved context)."""
    context_per_turn: tuple[int, int] = (150, 600)
    context_cap: int = 32_000
    temperature: tuple = ("fixed", (1.0,))
    """``("fixed", values)`` one value per account; ``("zero",)``; ``("grid", grids)`` sweeps."""
    max_tokens: tuple[int, ...] = (1024,)
    output: tuple[float, float] = (250.0, 0.8)
    """Lognormal median and sigma of output tokens (capped at max_tokens)."""
    output_frac: tuple[float, float] | None = None
    """If set, the account's output median is this fraction of its max_tokens."""
    refusal: tuple[float, float] = (0.0, 0.003)
    error: float = 0.005
    logprobs: float = 0.0
    thinking: float = 0.0
    ua: tuple[str, float] | None = None
    """``(family, p)``: with probability p an account sends this stream with a UA of ``family``."""
    adoption: Adoption | None = None
    """New-model adoption for this stream (default: the persona's)."""
    network: tuple[str, float] | None = None
    """``(kind, p)``: with probability p an account sends this stream from its own address
    pool of ``kind`` (a script host beside a product's servers)."""


@dataclass(frozen=True)
class Persona:
    """An account archetype: who the accounts are and which streams they send."""

    name: str
    label: str
    weight: float
    """Share of the population (normalised over all personas)."""
    streams: tuple[Stream, ...]
    rate: tuple[float, float] = (1.0, 30.0)
    """Requests/day when active, log-uniform per account."""
    active: tuple[float, float] = (1.0, 1.0)
    """Per-day probability of being active (drawn per account)."""
    age_days: tuple[float, float] = (60.0, 1500.0)
    """Account age at the window start, log-uniform (days)."""
    fresh_in_window: float = 0.0
    """Probability the account is created inside the window (first 60% of it)."""
    plans: tuple[tuple[str, float], ...] = (("free", 0.6), ("build", 0.4))
    countries: Literal["benign", "any"] = "benign"
    regions: tuple[int, int] = (1, 1)
    """Number of regions (1 or 2) whose working hours the account follows."""
    network: tuple[tuple[str, float], ...] = (("residential", 1.0),)
    ua: tuple[tuple[str, float], ...] = (("sdk", 1.0),)
    system_prompts: tuple[int, int] = (0, 0)
    adoption: Adoption = "gradual"
    exclusive_streams: bool = False
    """Each account sends exactly one of the streams (chosen by mean share)."""
    group: GroupKind | None = None
    """Accounts built as coordinated groups (see :mod:`.groups` and :mod:`.campaigns`)."""
    min_accounts: int = 10
    group_size: tuple[int, int] = (2, 6)
    """Members per organisation, lab or classroom cohort (drawn per group)."""
    cluster_sizes: tuple[int, ...] = HYDRA_SIZES
    """Hydra: cluster sizes, cut in turn from the persona's accounts."""
    evidence: tuple[str, ...] = HYDRA_EVIDENCE
    """Hydra: what each successive cluster shares besides its template and timing."""
    creation_spread_h: tuple[float, float] = (1 / 6, 6.0)
    """Hydra: hours over which a cluster's accounts were created (log-uniform per cluster)."""
    ua_count: tuple[int, int] = (1, 2)
    """User agents per account (a relay passes many end users' clients through)."""
    boilerplate_sys: float = 0.0
    """Probability that an account's first system prompt is a boilerplate one that
    unrelated products also use (needs the realistic world's shared pools)."""
    min_active_days: int = 0
    """Accounts whose daily coin flips leave them idle get this many active days."""
