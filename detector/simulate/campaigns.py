"""Extraction campaigns spread over many accounts ("hydra").

Two shapes. :func:`make_hydra` cuts a persona's accounts into clusters that run one
scripted, load-balanced job: members are created in one sitting, use the same
wrappers, and each cluster may also share a card or a cloud /24 (its *evidence*).
:func:`make_swarm` builds the harder kind providers report: hundreds of light
accounts that share no card, org or network (each behind its own residential proxy,
carrier-NAT or IPv6 exit, in many countries), created in a few bursts, each sending
its own modest mix of relayed user chats and synthetic-data generation, and
switching to a new model together within hours of its release.
"""

from __future__ import annotations

import numpy as np

from detector.simulate import identity
from detector.simulate.draws import creation_times, loguniform
from detector.simulate.ids import token_hex
from detector.simulate.networks import SharedPools, own_networks
from detector.simulate.persona_spec import HYDRA_SIZES
from detector.simulate.state import DAY_US, HOUR_US, Draft, Group, World

SWARM_BURSTS = 3
"""Sign-up bursts of a swarm: two before the window, the last inside it."""
SWARM_SYSTEM_PROMPTS = 3
"""Variants of the campaign front-end's system prompt."""


def hydra_sizes(members: int, sizes: tuple[int, ...] = HYDRA_SIZES) -> list[int]:
    """Split ``members`` into clusters of the given sizes in turn, each at least 5."""
    out: list[int] = []
    left = members
    i = 0
    while left > 0:
        s = sizes[i % len(sizes)]
        if left - s < 5:
            s = left
        s = min(s, left)
        out.append(s)
        left -= s
        i += 1
    if len(out) > 1 and out[-1] < 5:
        out[-2] += out.pop()
    return out


def make_hydra(rng: np.random.Generator, d: Draft, world: World, pools: SharedPools) -> np.ndarray:
    """Cut the group into clusters that share creation window, wrappers and some identity.

    Returns each account's stream (one per cluster). Each cluster is one campaign
    whose requests are load-balanced over its members (``campaign`` timing).
    """
    g = d.group
    persona = g.persona
    sizes = hydra_sizes(g.n, persona.cluster_sizes)
    cluster_of = np.repeat(np.arange(len(sizes)), sizes)
    w = np.array([np.mean(s.share) for s in persona.streams])
    stream_of_cluster = rng.choice(len(w), size=len(sizes), p=w / w.sum())
    g.campaign_rate = np.zeros(len(sizes))
    g.campaign_start_us = np.zeros(len(sizes), dtype=np.int64)
    start = 0
    for c, size in enumerate(sizes):
        members = np.arange(start, start + size)
        start += size
        evidence = persona.evidence[c % len(persona.evidence)]
        base = creation_times(rng, persona, world, 1)[0]
        lo_h, hi_h = persona.creation_spread_h
        spread_us = loguniform(rng, lo_h * 3600, hi_h * 3600, 1)[0] * 1e6
        created = base + np.sort((rng.random(size) * spread_us).astype(np.int64))
        g.created_us[members] = created
        g.style[members] = g.style[members[0]]
        cluster_uas = [identity.user_agent(rng, "generic") for _ in range(int(rng.integers(1, 4)))]
        prefix = identity.subnet24(rng, pools.cloud_subnets)
        card = "pf_" + token_hex(rng, 12)
        for m in members:
            if evidence != "none":  # a 'none' cluster shares nothing but template and timing
                k = min(len(cluster_uas), int(rng.integers(1, 3)))
                d.ua_lists[m] = [str(x) for x in rng.choice(cluster_uas, size=k, replace=False)]
            g.org[m] = None
            if evidence == "payment":
                g.fingerprint[m] = card
                g.plan[m] = "build"
            if evidence == "network":
                d.ip_lists[m] = identity.hosts(rng, prefix, int(rng.integers(1, 3)))
        rate = loguniform(rng, persona.rate[0], persona.rate[1], 1)[0]
        g.campaign_rate[c] = size * rate * world.volume_scale
        g.campaign_start_us[c] = created.max() + int(rng.uniform(0.2, 3.0) * HOUR_US)
        g.clusters.append(members)
        g.cluster_evidence.append(evidence)
    g.cluster_of = cluster_of
    g.campaign_stream = stream_of_cluster
    return stream_of_cluster[cluster_of]


def make_swarm(rng: np.random.Generator, d: Draft, world: World, pools: SharedPools) -> None:
    """One campaign over all of the group's accounts, sharing no card, org or network.

    What members do share is what a proxy cannot hide: sign-up bursts, the content
    pipeline's wording (one *style*), the front-end's system prompts, an official SDK
    (two versions), and the market their relayed users live in (one timezone for the
    relayed chats). Addresses, countries and cards stay each account's own.
    """
    g = d.group
    n = g.n
    burst_at = np.array(
        [
            world.start_us - int(rng.uniform(25, 45) * DAY_US),
            world.start_us - int(rng.uniform(5, 15) * DAY_US),
            world.start_us + int(rng.uniform(0.05, 0.4) * world.days * DAY_US),
        ][:SWARM_BURSTS],
        dtype=np.int64,
    )
    burst = np.sort(rng.integers(0, SWARM_BURSTS, n))
    spread = rng.uniform(1.0, 8.0, SWARM_BURSTS) * HOUR_US
    g.created_us[:] = burst_at[burst] + (rng.random(n) * spread[burst]).astype(np.int64)
    market_tz = identity.tz_offset(rng, identity.pick_country(rng, "benign", 1)[0])
    g.tz[:] = market_tz
    g.tz2[:] = market_tz
    g.w2[:] = 0.0
    g.style[:] = g.style[0]
    uas = [identity.user_agent(rng, "sdk") for _ in range(2)]
    prompts = [token_hex(rng, 16) for _ in range(SWARM_SYSTEM_PROMPTS)]
    for m in range(n):
        d.ua_lists[m] = [uas[int(rng.integers(0, len(uas)))]]
        k = int(rng.integers(1, 3))
        d.sys_lists[m] = [str(x) for x in rng.choice(prompts, size=k, replace=False)]
        g.org[m] = None
    own_networks(rng, d.ip_lists)
    g.clusters.append(np.arange(n))
    g.cluster_evidence.append("none")


def finish_swarm(rng: np.random.Generator, g: Group, world: World) -> None:
    """One code base: the same client parameters, and one switch to the new model."""
    switch = world.release_us + int(rng.uniform(1.0, 6.0) * HOUR_US)
    for st in g.streams:
        st.max_tokens[:] = st.max_tokens[0]
        st.temp_grid[:] = st.temp_grid[0]
        st.temp_k[:] = st.temp_k[0]
        st.out_median[:] = st.out_median[0] * np.exp(rng.normal(0.0, 0.1, g.n))
        jitter = (rng.uniform(0.0, 1.5, g.n) * HOUR_US).astype(np.int64)
        st.adopt_us[:] = np.maximum(switch, g.created_us) + jitter
        st.ramp_us[:] = int(0.1 * DAY_US)
        st.q_new[:] = rng.uniform(0.9, 1.0)
