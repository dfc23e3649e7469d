"""The account population: how many of each persona, and every per-account parameter.

Everything random about an account (rate, rhythm, wrappers, IP pool, model adoption,
creation time, billing identity) is drawn here once, so the per-day traffic engine
only has to sample requests. Hydra clusters and multi-account organisations are
built as groups of accounts that share identity evidence.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from detector.simulate import identity
from detector.simulate.ids import token_hex
from detector.simulate.personas import PERSONAS, Persona, Stream
from detector.simulate.textgen import STR

DAY_US = 86_400_000_000
HOUR_US = 3_600_000_000
MODELS = ("orion-2-fast", "orion-2-pro", "orion-3-pro")
NEW_MODEL = MODELS[2]
RPM_CAP = {"free": 10, "build": 60, "scale": 400, "enterprise": 2000}
HYDRA_SIZES = (6, 15, 40, 10, 25, 80, 8, 120, 30, 200, 12, 60)
HYDRA_EVIDENCE = ("payment", "network", "none")
ORG_ROLES = (1.0, 0.08, 0.04, 0.3, 0.3, 0.1)  # prod, staging, dev, team, team, sandbox
NEVER = np.iinfo(np.int64).max // 4


@dataclass(frozen=True)
class World:
    """The simulated time window."""

    start_us: int
    days: int
    seed: int
    volume_scale: float

    @property
    def end_us(self) -> int:
        return self.start_us + self.days * DAY_US

    @property
    def release_us(self) -> int:
        """The new model is released at noon UTC on the middle day of the window."""
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


def allocate(n_accounts: int) -> dict[str, int]:
    """Accounts per persona: proportional to weights, with floors for small worlds.

    With 200+ accounts every persona gets at least 3 (hydra at least one cluster of
    5); smaller worlds just take the largest-remainder split.
    """
    weights = np.array([p.weight for p in PERSONAS])
    exact = weights / weights.sum() * n_accounts
    counts = np.floor(exact).astype(int)
    rest = n_accounts - counts.sum()
    order = np.argsort(-(exact - counts), kind="stable")
    counts[order[:rest]] += 1
    floor = 3 if n_accounts >= 200 else (1 if n_accounts >= 2 * len(PERSONAS) else 0)
    if floor:
        for i, p in enumerate(PERSONAS):
            need = (
                (5 if p.group == "hydra" else 4 if p.group == "org" else floor)
                if n_accounts >= 200
                else floor
            )
            while counts[i] < need:
                donor = int(np.argmax(counts))
                counts[donor] -= 1
                counts[i] += 1
    return {p.name: int(c) for p, c in zip(PERSONAS, counts, strict=True)}


def _loguniform(rng: np.random.Generator, lo: float, hi: float, n: int) -> np.ndarray:
    if hi <= lo:
        return np.full(n, float(lo))
    return np.exp(rng.uniform(math.log(lo), math.log(hi), n))


def _choice(rng: np.random.Generator, options: tuple[tuple[str, float], ...], n: int) -> list[str]:
    names = [o[0] for o in options]
    w = np.array([o[1] for o in options], dtype=float)
    return [names[i] for i in rng.choice(len(names), size=n, p=w / w.sum())]


def _flat(lists: list[list[str]]) -> tuple[pa.Array, np.ndarray]:
    """Concatenate per-account lists into one array plus offsets."""
    sizes = np.array([len(x) for x in lists], dtype=np.int64)
    off = np.concatenate([[0], np.cumsum(sizes)])
    return pa.array([s for x in lists for s in x], STR), off


def hydra_sizes(members: int) -> list[int]:
    """Split ``members`` into clusters of varied sizes (6, 15, 40, ...), each at least 5."""
    sizes: list[int] = []
    left = members
    i = 0
    while left > 0:
        s = HYDRA_SIZES[i % len(HYDRA_SIZES)]
        if left - s < 5:
            s = left
        s = min(s, left)
        sizes.append(s)
        left -= s
        i += 1
    if len(sizes) > 1 and sizes[-1] < 5:
        sizes[-2] += sizes.pop()
    return sizes


def org_sizes(rng: np.random.Generator, members: int) -> list[int]:
    """Split ``members`` into organisations of 2..6 accounts."""
    sizes: list[int] = []
    left = members
    while left > 0:
        s = int(rng.integers(2, 7))
        if left - s < 2:
            s = left
        sizes.append(s)
        left -= s
    return sizes


class _Ids:
    """Unique ``acct_`` + 10 hex account ids that reveal nothing about the persona."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self.seen: set[str] = set()

    def new(self) -> str:
        while True:
            acct = "acct_" + token_hex(self.rng, 10)
            if acct not in self.seen:
                self.seen.add(acct)
                return acct


def build_population(n_accounts: int, world: World) -> Population:
    """Draw every account of the world."""
    counts = allocate(n_accounts)
    ids = _Ids(np.random.default_rng([world.seed, 11]))
    cloud_subnets = np.random.default_rng([world.seed, 12]).integers(0, 2**24, 20_000)
    groups = []
    for index, persona in enumerate(PERSONAS):
        n = counts[persona.name]
        if n == 0:
            continue
        rng = np.random.default_rng([world.seed, 100, index])
        groups.append(_build_group(rng, persona, n, world, ids, cloud_subnets))
    _share_family_cards(np.random.default_rng([world.seed, 13]), groups)
    return Population(world, groups)


def _created(rng: np.random.Generator, persona: Persona, world: World, n: int) -> np.ndarray:
    age_days = _loguniform(rng, persona.age_days[0], persona.age_days[1], n)
    created = world.start_us - (age_days * DAY_US).astype(np.int64)
    fresh = rng.random(n) < persona.fresh_in_window
    inside = world.start_us + (rng.random(n) * 0.6 * world.days * DAY_US).astype(np.int64)
    return np.where(fresh, inside, created)


def _build_group(
    rng: np.random.Generator,
    persona: Persona,
    n: int,
    world: World,
    ids: _Ids,
    cloud_subnets: np.ndarray,
) -> Group:
    acct_ids = [ids.new() for _ in range(n)]
    country = identity.pick_country(rng, persona.countries, n)
    tz = np.array([identity.tz_offset(rng, c) for c in country], dtype=np.int64)
    two = rng.integers(persona.regions[0], persona.regions[1] + 1, n) > 1
    tz2 = np.where(two, tz + rng.choice([-9, -6, 6, 8], n), tz)
    w2 = np.where(two, rng.uniform(0.25, 0.5, n), 0.0)
    plan = _choice(rng, persona.plans, n)
    created = _created(rng, persona, world, n)
    style = rng.integers(0, 2**63 - 1, n, dtype=np.int64).astype(np.uint64)
    extraction = persona.label != "benign"
    p_fast = rng.uniform(0.0, 0.25, n) if extraction else rng.uniform(0.1, 0.9, n)
    networks = _choice(rng, persona.network, n)
    pools = [identity.ip_pool(rng, kind, cloud_subnets) for kind in networks]
    ip_lists = [p[0] for p in pools]
    ip_gamma = np.array([p[1] for p in pools])
    ua_lists = [
        [identity.user_agent(rng, fam) for fam in _choice(rng, persona.ua, int(rng.integers(1, 3)))]
        for _ in range(n)
    ]
    k_sys = rng.integers(persona.system_prompts[0], persona.system_prompts[1] + 1, n)
    sys_lists = [[token_hex(rng, 16) for _ in range(int(k))] for k in k_sys]
    fingerprint = [
        None if (p == "free" and rng.random() < 0.75) else "pf_" + token_hex(rng, 12) for p in plan
    ]
    org = [
        "org_" + token_hex(rng, 8)
        if (p == "enterprise" or (p != "free" and rng.random() < (0.5 if not extraction else 0.1)))
        else None
        for p in plan
    ]
    group = Group(
        persona=persona,
        ids=acct_ids,
        created_us=created,
        country=country,
        plan=plan,
        fingerprint=fingerprint,
        org=org,
        tz=tz,
        tz2=tz2,
        w2=w2,
        shift=rng.integers(-1, 2, n),
        amp=rng.uniform(0.8, 1.25, n),
        global_mix=rng.dirichlet((4.0, 3.0, 3.0), n),
        style=style,
        p_fast=p_fast,
        rpm_cap=np.zeros(n),
        ip=pa.array([], STR),
        ip_off=np.zeros(n + 1, dtype=np.int64),
        ip_gamma=ip_gamma,
        ua=pa.array([], STR),
        ua_off=np.zeros(n + 1, dtype=np.int64),
        sys=pa.array([], STR),
        sys_off=np.zeros(n + 1, dtype=np.int64),
    )
    rate = _loguniform(rng, persona.rate[0], persona.rate[1], n)
    chosen = _exclusive(rng, persona, n) if persona.exclusive_streams else None
    if persona.group == "hydra":
        chosen = _make_hydra(rng, group, world, ip_lists, ua_lists, cloud_subnets)
    elif persona.group == "org":
        rate, chosen = _make_orgs(rng, group, world, rate, ip_lists, cloud_subnets)
    group.rpm_cap = np.array([RPM_CAP.get(p, 60) for p in group.plan], dtype=np.int64)
    group.ip, group.ip_off = _flat(ip_lists)
    group.sys, group.sys_off = _flat(sys_lists)
    active_p = rng.uniform(persona.active[0], persona.active[1], n)
    alt_uas: list[str] = []
    for s_index, spec in enumerate(persona.streams):
        group.streams.append(
            _stream_state(
                rng, spec, s_index, group, world, rate, active_p, chosen, ua_lists, alt_uas
            )
        )
    group.ua, group.ua_off = _flat(ua_lists)
    base = len(group.ua)
    if alt_uas:
        group.ua = pa.concat_arrays([group.ua, pa.array(alt_uas, STR)])
        for st in group.streams:
            st.ua_alt = np.where(st.ua_alt >= 0, st.ua_alt + base, -1)
    return group


def _exclusive(rng: np.random.Generator, persona: Persona, n: int) -> np.ndarray:
    w = np.array([np.mean(s.share) for s in persona.streams])
    return rng.choice(len(w), size=n, p=w / w.sum())


def _make_hydra(
    rng: np.random.Generator,
    g: Group,
    world: World,
    ip_lists: list[list[str]],
    ua_lists: list[list[str]],
    cloud_subnets: np.ndarray,
) -> np.ndarray:
    """Cut the group into clusters that share creation window, wrappers and some identity."""
    persona = g.persona
    sizes = hydra_sizes(g.n)
    cluster_of = np.repeat(np.arange(len(sizes)), sizes)
    w = np.array([np.mean(s.share) for s in persona.streams])
    stream_of_cluster = rng.choice(len(w), size=len(sizes), p=w / w.sum())
    g.campaign_rate = np.zeros(len(sizes))
    g.campaign_start_us = np.zeros(len(sizes), dtype=np.int64)
    start = 0
    for c, size in enumerate(sizes):
        members = np.arange(start, start + size)
        start += size
        evidence = HYDRA_EVIDENCE[c % len(HYDRA_EVIDENCE)]
        base = _created(rng, persona, world, 1)[0]
        spread_us = _loguniform(rng, 10 * 60, 6 * 3600, 1)[0] * 1e6
        created = base + np.sort((rng.random(size) * spread_us).astype(np.int64))
        g.created_us[members] = created
        g.style[members] = g.style[members[0]]
        cluster_uas = [identity.user_agent(rng, "generic") for _ in range(int(rng.integers(1, 4)))]
        prefix = identity.subnet24(rng, cloud_subnets)
        card = "pf_" + token_hex(rng, 12)
        for m in members:
            if evidence != "none":  # a 'none' cluster shares nothing but template and timing
                k = min(len(cluster_uas), int(rng.integers(1, 3)))
                ua_lists[m] = [str(x) for x in rng.choice(cluster_uas, size=k, replace=False)]
            g.org[m] = None
            if evidence == "payment":
                g.fingerprint[m] = card
                g.plan[m] = "build"
            if evidence == "network":
                ip_lists[m] = identity.hosts(rng, prefix, int(rng.integers(1, 3)))
        rate = _loguniform(rng, persona.rate[0], persona.rate[1], 1)[0]
        g.campaign_rate[c] = size * rate * world.volume_scale
        g.campaign_start_us[c] = created.max() + int(rng.uniform(0.2, 3.0) * HOUR_US)
        g.clusters.append(members)
        g.cluster_evidence.append(evidence)
    g.cluster_of = cluster_of
    g.campaign_stream = stream_of_cluster
    return stream_of_cluster[cluster_of]


def _make_orgs(
    rng: np.random.Generator,
    g: Group,
    world: World,
    rate: np.ndarray,
    ip_lists: list[list[str]],
    cloud_subnets: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Organisations of 2..6 accounts sharing one card, org id and server pool."""
    persona = g.persona
    sizes = org_sizes(rng, g.n)
    chosen = np.zeros(g.n, dtype=np.int64)
    w = np.array([np.mean(s.share) for s in persona.streams])
    start = 0
    for size in sizes:
        members = np.arange(start, start + size)
        start += size
        org_id = "org_" + token_hex(rng, 8)
        card = "pf_" + token_hex(rng, 12)
        plan = _choice(rng, persona.plans, 1)[0]
        pool, gamma = identity.ip_pool(rng, "server", cloud_subnets)
        kind = int(rng.choice(len(w), p=w / w.sum()))
        first = world.start_us - int(_loguniform(rng, 200, 1200, 1)[0] * DAY_US)
        later = np.cumsum(rng.uniform(10, 150, size - 1)) * DAY_US if size > 1 else np.zeros(0)
        created = np.minimum(
            first + np.concatenate([[0], later]).astype(np.int64), world.start_us - DAY_US
        )
        prod_rate = rate[members[0]]
        for j, m in enumerate(members):
            g.org[m] = org_id
            g.fingerprint[m] = card
            g.plan[m] = plan
            ip_lists[m] = pool
            g.ip_gamma[m] = gamma
            g.created_us[m] = created[j]
            rate[m] = prod_rate * ORG_ROLES[min(j, len(ORG_ROLES) - 1)]
            chosen[m] = kind
    return rate, chosen


def _stream_state(
    rng: np.random.Generator,
    spec: Stream,
    s_index: int,
    g: Group,
    world: World,
    account_rate: np.ndarray,
    active_p: np.ndarray,
    chosen: np.ndarray | None,
    ua_lists: list[list[str]],
    alt_uas: list[str],
) -> StreamState:
    n = g.n
    if chosen is not None:
        weight = (chosen == s_index).astype(float)
    else:
        weight = rng.uniform(spec.share[0], spec.share[1], n)
    if spec.rate is not None:
        rate = _loguniform(rng, spec.rate[0], spec.rate[1], n)
    else:
        rate = account_rate * weight
    rate = rate * world.volume_scale
    days = world.days
    if spec.days == "always":
        active = np.ones((n, days), dtype=bool)
    elif spec.days == "account":
        active = rng.random((n, days)) < active_p[:, None]
    else:
        lo, hi = spec.days
        active = np.zeros((n, days), dtype=bool)
        first_day = np.clip((g.created_us - world.start_us) // DAY_US + 1, 0, days - 1)
        for a in range(n):
            avail = np.arange(first_day[a], days)
            k = min(len(avail), int(rng.integers(lo, hi + 1)))
            active[a, rng.choice(avail, size=k, replace=False)] = True
    b0, b1, l0, l1 = spec.block
    start_h = rng.uniform(b0, b1, n)
    if spec.block_local:
        start_h = np.mod(start_h - g.tz, 24.0)
    temp_grid, temp_k = _temperatures(rng, spec.temperature, n)
    max_tokens = np.asarray(spec.max_tokens)[rng.integers(0, len(spec.max_tokens), n)]
    if spec.output_frac is not None:
        out_median = max_tokens * rng.uniform(spec.output_frac[0], spec.output_frac[1], n)
    else:
        out_median = spec.output[0] * np.exp(rng.normal(0.0, 0.25, n))
    adopt, ramp, q_new = _adoption(rng, spec.adoption or g.persona.adoption, g.created_us, world)
    ua_alt = np.full(n, -1, dtype=np.int64)
    if spec.ua is not None:
        family, p = spec.ua
        for a in np.flatnonzero(rng.random(n) < p):
            ua_alt[a] = len(alt_uas)
            alt_uas.append(identity.user_agent(rng, family))

    def propensity(p: float) -> np.ndarray:
        return np.clip(p * rng.uniform(0.0, 2.0, n), 0.0, 1.0) if p > 0 else np.zeros(n)

    return StreamState(
        spec=spec,
        rate=rate,
        active=active,
        block_start_h=start_h,
        block_len_h=rng.uniform(l0, l1, n),
        temp_grid=temp_grid,
        temp_k=temp_k,
        max_tokens=max_tokens.astype(np.int64),
        out_median=out_median,
        refusal=rng.uniform(spec.refusal[0], spec.refusal[1], n),
        logprobs=propensity(spec.logprobs),
        thinking=propensity(spec.thinking),
        base_ctx=rng.uniform(spec.base_context[0], spec.base_context[1] + 1, n),
        ctx_turn=rng.uniform(spec.context_per_turn[0], spec.context_per_turn[1] + 1, n),
        sys_tokens=rng.uniform(spec.sys_tokens[0], spec.sys_tokens[1] + 1, n),
        adopt_us=adopt,
        ramp_us=ramp,
        q_new=q_new,
        ua_alt=ua_alt,
    )


def _temperatures(rng: np.random.Generator, spec: tuple, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-account temperature set: one fixed value, zero, or a sweep grid."""
    kind = spec[0]
    if kind == "zero":
        return np.zeros((n, 1)), np.ones(n, dtype=np.int64)
    if kind == "fixed":
        values = np.asarray(spec[1], dtype=float)
        return values[rng.integers(0, len(values), n)][:, None], np.ones(n, dtype=np.int64)
    if kind == "grid":
        grids = spec[1]
        width = max(len(x) for x in grids)
        table = np.array([list(x) + [x[-1]] * (width - len(x)) for x in grids], dtype=float)
        sizes = np.array([len(x) for x in grids], dtype=np.int64)
        pick = rng.integers(0, len(grids), n)
        return table[pick], sizes[pick]
    raise ValueError(f"unknown temperature spec {spec!r}")


def _adoption(
    rng: np.random.Generator, kind: str, created_us: np.ndarray, world: World
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """When an account starts using the new model, how fast it ramps, and how far.

    Extraction switches within hours of the release (or of its own creation);
    benign accounts adopt over days, partially, or never.
    """
    n = len(created_us)
    if kind == "fast":
        begin = np.maximum(world.release_us, created_us)
        adopt = begin + (rng.uniform(0.5, 20.0, n) * HOUR_US).astype(np.int64)
        ramp = (rng.uniform(0.05, 0.3, n) * DAY_US).astype(np.int64)
        q = rng.uniform(0.9, 1.0, n)
    else:
        delay = rng.exponential(2.5, n) + rng.uniform(0.0, 0.5, n)
        ramp_days = rng.uniform(0.5, 4.0, n)
        q = rng.uniform(0.3, 0.9, n)
        # early adopters: people and products that try a new model the day it ships
        eager = rng.random(n) < 0.12
        delay = np.where(eager, rng.uniform(1.0, 24.0, n) / 24.0, delay)
        ramp_days = np.where(eager, rng.uniform(0.1, 1.0, n), ramp_days)
        q = np.where(eager, rng.uniform(0.6, 1.0, n), q)
        adopt = world.release_us + (delay * DAY_US).astype(np.int64)
        adopt = np.where((rng.random(n) < 0.35) & ~eager, NEVER, adopt)
        ramp = (ramp_days * DAY_US).astype(np.int64)
    return adopt, ramp, q


def _share_family_cards(rng: np.random.Generator, groups: list[Group]) -> None:
    """A few unrelated benign hobby accounts pay with the same card (a household)."""
    slots = [
        (g, a)
        for g in groups
        if g.persona.name in ("hobbyist", "developer_testing")
        for a in range(g.n)
        if g.fingerprint[a] is not None
    ]
    if len(slots) < 4:
        return
    k = max(1, len(slots) // 60)
    picks = rng.choice(len(slots), size=2 * k, replace=False)
    for i in range(k):
        (g1, a1), (g2, a2) = slots[picks[2 * i]], slots[picks[2 * i + 1]]
        g2.fingerprint[a2] = g1.fingerprint[a1]
