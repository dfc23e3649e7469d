"""The simulated world's state: the time window and every account group's parameters.

Plain data shared by the population builders (:mod:`.population`, :mod:`.groups`,
:mod:`.campaigns`) and the traffic engine (:mod:`.traffic`); nothing here draws.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from detector.simulate.persona_spec import Persona, Stream

DAY_US = 86_400_000_000
HOUR_US = 3_600_000_000
MODELS = ("orion-2-fast", "orion-2-pro", "orion-3-pro")
NEW_MODEL = MODELS[2]
RPM_CAP = {"free": 10, "build": 60, "scale": 400, "enterprise": 2000}
NEVER = np.iinfo(np.int64).max // 4


@dataclass(frozen=True)
class World:
    """The simulated time window."""

    start_us: int
    days: int
    seed: int
    volume_scale: float
    release: bool = True
    """Whether a new model ships inside the window (most weeks of real traffic have none)."""

    @property
    def end_us(self) -> int:
        return self.start_us + self.days * DAY_US

    @property
    def release_us(self) -> int:
        """The new model is released at noon UTC on the middle day of the window, or,
        in a week without a release, a month after the window ends (nobody adopts it
        and no release-day suite runs inside the window)."""
        if not self.release:
            return self.end_us + 30 * DAY_US
        return self.start_us + (self.days // 2) * DAY_US + 12 * HOUR_US


@dataclass
class StreamState:
    """Per-account parameters of one stream of one persona group."""

    spec: Stream
    rate: np.ndarray  # requests/day (0 = the account does not send this stream)
    active: np.ndarray  # (n, days) bool
    block_start_h: np.ndarray
    block_len_h: np.ndarray
    temp_grid: np.ndarray  # (n, g) values; a row's temperature is one of the first temp_k
    temp_k: np.ndarray
    max_tokens: np.ndarray
    out_median: np.ndarray
    refusal: np.ndarray
    logprobs: np.ndarray
    thinking: np.ndarray
    base_ctx: np.ndarray
    ctx_turn: np.ndarray
    sys_tokens: np.ndarray
    adopt_us: np.ndarray
    ramp_us: np.ndarray
    q_new: np.ndarray
    ua_alt: np.ndarray  # index into the group's UA list, -1 = use the account's own
    ip_alt: np.ndarray | None = None
    """Start of the account's own address pool for this stream in the group's IP list (-1 none)."""
    ip_alt_k: np.ndarray | None = None
    """Size of that pool."""


@dataclass
class Group:
    """All accounts of one persona, as parallel arrays."""

    persona: Persona
    ids: list[str]
    created_us: np.ndarray
    country: list[str]
    plan: list[str]
    fingerprint: list[str | None]
    org: list[str | None]
    tz: np.ndarray
    tz2: np.ndarray
    w2: np.ndarray
    shift: np.ndarray
    amp: np.ndarray
    global_mix: np.ndarray
    style: np.ndarray
    p_fast: np.ndarray
    rpm_cap: np.ndarray
    ip: pa.Array
    ip_off: np.ndarray
    ip_gamma: np.ndarray
    ua: pa.Array
    ua_off: np.ndarray
    sys: pa.Array
    sys_off: np.ndarray
    streams: list[StreamState] = field(default_factory=list)
    cluster_of: np.ndarray | None = None
    clusters: list[np.ndarray] = field(default_factory=list)
    cluster_evidence: list[str] = field(default_factory=list)
    campaign_rate: np.ndarray | None = None
    campaign_start_us: np.ndarray | None = None
    campaign_stream: np.ndarray | None = None

    @property
    def n(self) -> int:
        return len(self.ids)


@dataclass
class Population:
    """Every persona group plus the world they live in."""

    world: World
    groups: list[Group]

    @property
    def n_accounts(self) -> int:
        return sum(g.n for g in self.groups)


@dataclass
class Draft:
    """A group under construction: per-account lists not yet flattened into Arrow arrays.

    Group builders (organisations, cohorts, campaigns) rewrite these lists so that
    member accounts share addresses, clients or system prompts.
    """

    group: Group
    rate: np.ndarray
    """Requests/day per account (before stream shares)."""
    chosen: np.ndarray | None
    """Stream index per account when each account sends only one stream."""
    ip_lists: list[list[str]]
    ua_lists: list[list[str]]
    sys_lists: list[list[str]]
