"""One stream's per-account parameters: rate, active days, working block, sampling
settings, token lengths, adoption of the new model, alternative user agents and IPs.

A persona's traffic is a mix of streams (:class:`~.persona_spec.Stream`: a chat, a
script, a sweep); :mod:`.population` draws each account, then each of its streams here,
once, into a :class:`~.state.StreamState` the per-day traffic engine samples from.
"""

from __future__ import annotations

import numpy as np

from detector.simulate import identity, networks
from detector.simulate.draws import loguniform
from detector.simulate.networks import SharedPools
from detector.simulate.persona_spec import Stream
from detector.simulate.state import DAY_US, HOUR_US, NEVER, Draft, StreamState, World

__all__ = ["stream_state"]


def stream_state(
    rng: np.random.Generator,
    spec: Stream,
    s_index: int,
    d: Draft,
    world: World,
    active_p: np.ndarray,
    alt_uas: list[str],
    alt_ips: list[str],
    pools: SharedPools,
) -> StreamState:
    """Per-account parameters of one stream; alternative UAs and IPs are appended to lists."""
    g, account_rate, chosen = d.group, d.rate, d.chosen
    n = g.n
    if chosen is not None:
        weight = (chosen == s_index).astype(float)
    else:
        weight = rng.uniform(spec.share[0], spec.share[1], n)
    if spec.rate is not None:
        rate = loguniform(rng, spec.rate[0], spec.rate[1], n)
    else:
        rate = account_rate * weight
    rate = rate * world.volume_scale
    days = world.days
    if spec.days == "always":
        active = np.ones((n, days), dtype=bool)
    elif spec.days == "account":
        active = rng.random((n, days)) < active_p[:, None]
        if g.persona.min_active_days:
            _ensure_active(rng, active, g.created_us, world)
    elif spec.days == "release":
        active = np.zeros((n, days), dtype=bool)
        if world.release:  # the day a new model ships and the day after; no model, no run
            active[:, world.days // 2 : world.days // 2 + 2] = True
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
    ip_alt = ip_alt_k = None
    if spec.network is not None:
        kind, p = spec.network
        ip_alt = np.full(n, -1, dtype=np.int64)
        ip_alt_k = np.zeros(n, dtype=np.int64)
        for a in np.flatnonzero(rng.random(n) < p):
            pool = networks.ip_pool(rng, kind, pools)[0]
            ip_alt[a], ip_alt_k[a] = len(alt_ips), len(pool)
            alt_ips.extend(pool)

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
        ip_alt=ip_alt,
        ip_alt_k=ip_alt_k,
    )


def _ensure_active(
    rng: np.random.Generator, active: np.ndarray, created_us: np.ndarray, world: World
) -> None:
    """Give every account left idle by its coin flips one active day after its creation."""
    idle = np.flatnonzero(~active.any(axis=1))
    if not len(idle):
        return
    first = np.clip((created_us[idle] - world.start_us) // DAY_US, 0, world.days - 1)
    day = first + (rng.random(len(idle)) * (world.days - first)).astype(np.int64)
    active[idle, day] = True


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
    if kind == "evaluator":  # runs its suites on every model, the new one within hours
        begin = np.maximum(world.release_us, created_us)
        adopt = begin + (rng.uniform(0.5, 6.0, n) * HOUR_US).astype(np.int64)
        ramp = (rng.uniform(0.01, 0.1, n) * DAY_US).astype(np.int64)
        return adopt, ramp, rng.uniform(0.33, 0.6, n)
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
