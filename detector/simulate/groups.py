"""Benign coordinated accounts: company key sets, research labs and classroom cohorts.

Real customers share infrastructure for innocent reasons. A company's prod, staging
and dev keys pay with one card from one server pool; a research lab's 5-15
researchers share a card, an org id and the campus network; a class of students
signs up for free accounts in one lab session, from one NAT address, with the SDK
version the course pinned and the system prompt the course template ships. These
builders rewrite a :class:`~.state.Draft` so that members share what such groups
share; :func:`finish_cohorts` then aligns the students' class days.
"""

from __future__ import annotations

import numpy as np

from detector.simulate import identity, networks
from detector.simulate.draws import choice, loguniform
from detector.simulate.ids import token_hex
from detector.simulate.networks import SharedPools
from detector.simulate.state import DAY_US, HOUR_US, Draft, Group, World

ORG_ROLES = (1.0, 0.08, 0.04, 0.3, 0.3, 0.1)  # prod, staging, dev, team, team, sandbox
COHORT_CLASS_DAYS = (2, 3)
"""Class days per week on which a cohort's students are all likely to be active."""
COHORT_CLASS_DAY_P = 0.9


def org_sizes(rng: np.random.Generator, members: int, lo: int = 2, hi: int = 6) -> list[int]:
    """Split ``members`` into groups of ``lo..hi`` accounts (the last one takes the rest)."""
    sizes: list[int] = []
    left = members
    while left > 0:
        s = int(rng.integers(lo, hi + 1))
        if left - s < lo:
            s = left
        sizes.append(s)
        left -= s
    return sizes


def _weights(g: Group) -> np.ndarray:
    w = np.array([np.mean(s.share) for s in g.persona.streams])
    return w / w.sum()


def make_orgs(
    rng: np.random.Generator, d: Draft, world: World, pools: SharedPools
) -> tuple[np.ndarray, np.ndarray]:
    """Company key sets of 2..6 accounts sharing one card, org id and server pool.

    The first key is production; the others carry a fraction of its traffic
    (:data:`ORG_ROLES`). Every key of one company sends the same kind of traffic.
    """
    g, rate = d.group, d.rate
    persona = g.persona
    sizes = org_sizes(rng, g.n, *persona.group_size)
    chosen = np.zeros(g.n, dtype=np.int64)
    w = _weights(g)
    start = 0
    for size in sizes:
        members = np.arange(start, start + size)
        start += size
        org_id = "org_" + token_hex(rng, 8)
        card = "pf_" + token_hex(rng, 12)
        plan = choice(rng, persona.plans, 1)[0]
        pool, gamma = networks.ip_pool(rng, "server", pools)
        kind = int(rng.choice(len(w), p=w))
        first = world.start_us - int(loguniform(rng, 200, 1200, 1)[0] * DAY_US)
        later = np.cumsum(rng.uniform(10, 150, size - 1)) * DAY_US if size > 1 else np.zeros(0)
        created = np.minimum(
            first + np.concatenate([[0], later]).astype(np.int64), world.start_us - DAY_US
        )
        prod_rate = rate[members[0]]
        for j, m in enumerate(members):
            g.org[m] = org_id
            g.fingerprint[m] = card
            g.plan[m] = plan
            d.ip_lists[m] = pool
            g.ip_gamma[m] = gamma
            g.created_us[m] = created[j]
            rate[m] = prod_rate * ORG_ROLES[min(j, len(ORG_ROLES) - 1)]
            chosen[m] = kind
    return rate, chosen


def make_labs(rng: np.random.Generator, d: Draft, world: World, pools: SharedPools) -> None:
    """Research organisations: one card, org id and campus network; each researcher's own work.

    Researchers joined over months, but a lab often onboards a batch of students in
    one sitting. Some labs run their evaluations through one shared harness, whose
    system prompt the members' accounts then share.
    """
    g = d.group
    persona = g.persona
    start = 0
    for size in org_sizes(rng, g.n, *persona.group_size):
        members = np.arange(start, start + size)
        start += size
        org_id = "org_" + token_hex(rng, 8)
        card = "pf_" + token_hex(rng, 12)
        plan = choice(rng, persona.plans, 1)[0]
        pool, _ = networks.ip_pool(rng, "corporate", pools)
        first = world.start_us - int(loguniform(rng, 90, 1500, 1)[0] * DAY_US)
        created = first + (np.sort(rng.uniform(0, 1, size)) * (world.start_us - first)).astype(
            np.int64
        )
        if size >= 4 and rng.random() < 0.4:  # a batch onboarded in one sitting
            batch = rng.choice(size, size=int(rng.integers(3, size + 1)), replace=False)
            at = created[batch].min()
            created[batch] = at + (rng.uniform(0, 2, len(batch)) * HOUR_US).astype(np.int64)
        harness = token_hex(rng, 16) if rng.random() < 0.5 else None
        for j, m in enumerate(members):
            g.org[m] = org_id
            g.fingerprint[m] = card
            g.plan[m] = plan
            home = [identity.residential_v4(rng)] if rng.random() < 0.3 else []
            d.ip_lists[m] = pool + home
            g.ip_gamma[m] = 1.5
            g.created_us[m] = min(int(created[j]), world.start_us - DAY_US)
            if harness is not None:
                d.sys_lists[m] = [harness, *d.sys_lists[m][1:]]
        g.clusters.append(members)
        g.cluster_evidence.append("organisation")


def make_cohorts(rng: np.random.Generator, d: Draft, world: World, pools: SharedPools) -> None:
    """Classroom cohorts of free accounts created together on one campus network.

    Members share the country and timezone of their school, one NAT pool of 1-4
    addresses (some students also work from home), the SDK version the course pinned,
    often the course template's system prompt, and a *style* (the same assignment, so
    the same prompt wording).
    """
    g = d.group
    start = 0
    for size in org_sizes(rng, g.n, *g.persona.group_size):
        members = np.arange(start, start + size)
        start += size
        country = identity.pick_country(rng, "benign", 1)[0]
        tz = identity.tz_offset(rng, country)
        if rng.random() < 0.3:  # a class signing up during the window, in a lab session
            day = int(rng.integers(0, max(1, int(0.6 * world.days))))
            at = world.start_us + day * DAY_US + int(((10 - tz) % 24) * HOUR_US)
        else:
            at = world.start_us - int(rng.uniform(10, 120) * DAY_US)
        spread = rng.uniform(0.3, 2.0) * HOUR_US
        created = at + np.sort((rng.random(size) * spread).astype(np.int64))
        campus = identity.hosts(rng, identity.residential_subnet24(rng), int(rng.integers(1, 5)))
        pinned = identity.user_agent(rng, "sdk")
        course = token_hex(rng, 16) if rng.random() < 0.6 else None
        style = g.style[members[0]]
        for j, m in enumerate(members):
            g.country[m] = country
            g.tz[m] = g.tz2[m] = tz
            g.created_us[m] = created[j]
            g.plan[m] = "free"
            g.fingerprint[m] = None
            g.org[m] = None
            g.style[m] = style
            home = networks.ip_pool(rng, "carrier_nat", pools)[0] if rng.random() < 0.5 else []
            d.ip_lists[m] = campus + home
            g.ip_gamma[m] = 2.5
            d.ua_lists[m] = [pinned]
            d.sys_lists[m] = [course] if course is not None else []
        g.clusters.append(members)
        g.cluster_evidence.append("cohort")


def finish_cohorts(rng: np.random.Generator, g: Group, world: World) -> None:
    """Align each cohort's class days: on them nearly every student is active."""
    weekday0 = (world.start_us // DAY_US + 3) % 7  # 1970-01-01 was a Thursday
    for members in g.clusters:
        k = int(rng.integers(*COHORT_CLASS_DAYS, endpoint=True))
        weekdays = rng.choice(5, size=k, replace=False)
        class_day = np.isin((weekday0 + np.arange(world.days)) % 7, weekdays)
        for st in g.streams:
            if st.spec.days != "account":
                continue
            on_class = rng.random((len(members), world.days)) < COHORT_CLASS_DAY_P
            st.active[members] = np.where(class_day[None, :], on_class, st.active[members])
