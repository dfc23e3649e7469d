"""The account population: how many of each persona, and every per-account parameter.

Everything random about an account (rate, rhythm, wrappers, IP pool, model adoption,
creation time, billing identity) is drawn once, here and, for each of its streams, in
:mod:`.streams`, so the per-day traffic engine only has to sample requests.
Coordinated groups (hydra campaigns, organisations, labs, classroom cohorts) are
shaped by :mod:`.campaigns` and :mod:`.groups` so that their members share identity
evidence.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from detector.simulate import identity, networks
from detector.simulate.campaigns import finish_swarm, hydra_sizes, make_hydra, make_swarm
from detector.simulate.draws import AccountIds, choice, creation_times, flat, loguniform
from detector.simulate.groups import finish_cohorts, make_cohorts, make_labs, make_orgs
from detector.simulate.ids import token_hex
from detector.simulate.networks import SharedPools, default_pools
from detector.simulate.persona_spec import Persona
from detector.simulate.personas import PERSONAS
from detector.simulate.state import (
    DAY_US,
    HOUR_US,
    MODELS,
    NEW_MODEL,
    RPM_CAP,
    Draft,
    Group,
    Population,
    StreamState,
    World,
)
from detector.simulate.streams import stream_state
from detector.simulate.textgen import STR

__all__ = [
    "DAY_US",
    "HOUR_US",
    "MODELS",
    "NEW_MODEL",
    "Group",
    "Population",
    "StreamState",
    "World",
    "allocate",
    "build_population",
    "hydra_sizes",
]


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


def build_population(
    n_accounts: int,
    world: World,
    personas: tuple[Persona, ...] = PERSONAS,
    counts: dict[str, int] | None = None,
    pools: SharedPools | None = None,
) -> Population:
    """Draw every account of the world.

    ``counts`` (accounts per persona name) defaults to :func:`allocate`'s split of
    the default personas; ``pools`` to the default world's shared address pools.
    """
    counts = counts if counts is not None else allocate(n_accounts)
    pools = pools if pools is not None else default_pools(world.seed)
    ids = AccountIds(np.random.default_rng([world.seed, 11]))
    groups = []
    for index, persona in enumerate(personas):
        n = counts.get(persona.name, 0)
        if n == 0:
            continue
        rng = np.random.default_rng([world.seed, 100, index])
        groups.append(_build_group(rng, persona, n, world, ids, pools))
    _share_family_cards(np.random.default_rng([world.seed, 13]), groups)
    return Population(world, groups)


def _build_group(
    rng: np.random.Generator,
    persona: Persona,
    n: int,
    world: World,
    ids: AccountIds,
    pools: SharedPools,
) -> Group:
    acct_ids = [ids.new() for _ in range(n)]
    country = identity.pick_country(rng, persona.countries, n)
    tz = np.array([identity.tz_offset(rng, c) for c in country], dtype=np.int64)
    two = rng.integers(persona.regions[0], persona.regions[1] + 1, n) > 1
    tz2 = np.where(two, tz + rng.choice([-9, -6, 6, 8], n), tz)
    w2 = np.where(two, rng.uniform(0.25, 0.5, n), 0.0)
    plan = choice(rng, persona.plans, n)
    created = creation_times(rng, persona, world, n)
    style = rng.integers(0, 2**63 - 1, n, dtype=np.int64).astype(np.uint64)
    extraction = persona.label != "benign"
    p_fast = rng.uniform(0.0, 0.25, n) if extraction else rng.uniform(0.1, 0.9, n)
    kinds = choice(rng, persona.network, n)
    pools_drawn = [networks.ip_pool(rng, kind, pools) for kind in kinds]
    ip_lists = [p[0] for p in pools_drawn]
    ip_gamma = np.array([p[1] for p in pools_drawn])
    lo, hi = persona.ua_count
    ua_lists = [
        [identity.user_agent(rng, f) for f in choice(rng, persona.ua, _count(rng, lo, hi))]
        for _ in range(n)
    ]
    k_sys = rng.integers(persona.system_prompts[0], persona.system_prompts[1] + 1, n)
    sys_lists = [[token_hex(rng, 16) for _ in range(int(k))] for k in k_sys]
    if persona.boilerplate_sys > 0:
        for a in np.flatnonzero((rng.random(n) < persona.boilerplate_sys) & (k_sys > 0)):
            sys_lists[a][0] = networks.boilerplate_system_prompt(rng, pools)
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
    rate = loguniform(rng, persona.rate[0], persona.rate[1], n)
    chosen = _exclusive(rng, persona, n) if persona.exclusive_streams else None
    d = Draft(group, rate, chosen, ip_lists, ua_lists, sys_lists)
    if persona.group == "hydra":
        d.chosen = make_hydra(rng, d, world, pools)
    elif persona.group == "org":
        d.rate, d.chosen = make_orgs(rng, d, world, pools)
    elif persona.group == "lab":
        make_labs(rng, d, world, pools)
    elif persona.group == "cohort":
        make_cohorts(rng, d, world, pools)
    elif persona.group == "swarm":
        make_swarm(rng, d, world, pools)
    group.rpm_cap = np.array([RPM_CAP.get(p, 60) for p in group.plan], dtype=np.int64)
    group.ip, group.ip_off = flat(ip_lists)
    group.sys, group.sys_off = flat(sys_lists)
    active_p = rng.uniform(persona.active[0], persona.active[1], n)
    alt_uas: list[str] = []
    alt_ips: list[str] = []
    for s_index, spec in enumerate(persona.streams):
        group.streams.append(
            stream_state(rng, spec, s_index, d, world, active_p, alt_uas, alt_ips, pools)
        )
    group.ua, group.ua_off = flat(ua_lists)
    base = len(group.ua)
    if alt_uas:
        group.ua = pa.concat_arrays([group.ua, pa.array(alt_uas, STR)])
        for st in group.streams:
            st.ua_alt = np.where(st.ua_alt >= 0, st.ua_alt + base, -1)
    if alt_ips:
        base = len(group.ip)
        group.ip = pa.concat_arrays([group.ip, pa.array(alt_ips, STR)])
        for st in group.streams:
            if st.ip_alt is not None:
                st.ip_alt = np.where(st.ip_alt >= 0, st.ip_alt + base, -1)
    if persona.group == "cohort":
        finish_cohorts(rng, group, world)
    elif persona.group == "swarm":
        finish_swarm(rng, group, world)
    return group


def _count(rng: np.random.Generator, lo: int, hi: int) -> int:
    """An integer drawn uniformly from ``lo..hi``."""
    return int(rng.integers(lo, hi + 1))


def _exclusive(rng: np.random.Generator, persona: Persona, n: int) -> np.ndarray:
    w = np.array([np.mean(s.share) for s in persona.streams])
    return rng.choice(len(w), size=n, p=w / w.sum())


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
