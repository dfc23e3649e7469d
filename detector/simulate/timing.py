"""When requests happen: hour-of-day curves, sessions, scripted schedules.

All functions work on whole persona groups for one day at once and return arrays of
(account index, seconds since the day's UTC midnight); nothing loops per request.
"""

from __future__ import annotations

import numpy as np

DAY_S = 86_400.0

# Relative intensity per *local* hour (0..23); normalised to mean 1 below.
_CURVES: dict[str, tuple[float, ...]] = {
    # a person at home: quiet nights, evening peak
    "human": (
        0.25, 0.15, 0.08, 0.05, 0.05, 0.08, 0.2, 0.4, 0.6, 0.75, 0.85, 0.9,
        0.95, 0.95, 0.9, 0.9, 0.95, 1.0, 1.1, 1.25, 1.35, 1.3, 1.0, 0.55,
    ),
    # office hours with a lunch dip
    "work": (
        0.02, 0.01, 0.01, 0.01, 0.01, 0.02, 0.05, 0.2, 0.6, 1.0, 1.2, 1.2,
        0.9, 1.1, 1.2, 1.2, 1.1, 0.8, 0.4, 0.2, 0.15, 0.1, 0.06, 0.04,
    ),
    # school day plus homework evenings
    "school": (
        0.05, 0.02, 0.01, 0.01, 0.01, 0.02, 0.1, 0.5, 0.9, 1.0, 1.0, 0.9,
        0.8, 1.0, 1.1, 1.0, 1.1, 1.3, 1.5, 1.6, 1.5, 1.1, 0.5, 0.15,
    ),
    # a consumer product in one region: strongly diurnal
    "product": (
        0.12, 0.07, 0.04, 0.03, 0.03, 0.05, 0.15, 0.4, 0.7, 0.9, 1.0, 1.05,
        1.1, 1.1, 1.05, 1.05, 1.1, 1.2, 1.35, 1.5, 1.55, 1.4, 0.9, 0.4,
    ),
    # a platform with customers everywhere: mild daily swing
    "flat": (
        0.75, 0.7, 0.65, 0.65, 0.65, 0.7, 0.8, 0.9, 1.0, 1.1, 1.15, 1.2,
        1.2, 1.2, 1.2, 1.15, 1.1, 1.05, 1.0, 1.0, 0.95, 0.9, 0.85, 0.8,
    ),
    # late-evening heavy (hobby probing sessions)
    "evening": (
        0.6, 0.5, 0.4, 0.3, 0.2, 0.2, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7,
        0.8, 0.8, 0.9, 1.0, 1.1, 1.2, 1.4, 1.6, 1.8, 1.8, 1.5, 1.0,
    ),
    "uniform": (1.0,) * 24,
}  # fmt: skip
CURVES: dict[str, np.ndarray] = {
    k: np.asarray(v, dtype=float) / np.mean(v) for k, v in _CURVES.items()
}
CURVES["global"] = CURVES["product"]  # summed over regions in :func:`utc_weights`
GLOBAL_REGIONS = (-6, 1, 8)  # Americas, Europe/Africa, Asia-Pacific

# Weekday factors, Monday first.
WEEKLY: dict[str, tuple[float, ...]] = {
    "work": (1.0, 1.0, 1.0, 1.0, 0.95, 0.25, 0.2),
    "school": (1.0, 1.0, 1.0, 1.0, 0.9, 0.6, 0.8),
    "human": (0.95, 0.95, 0.95, 1.0, 1.05, 1.15, 1.15),
    "product": (1.0, 1.0, 1.0, 1.0, 1.0, 1.05, 1.05),
}


def weekly_factor(curve: str, weekday: int) -> float:
    """Multiplier for ``weekday`` (0 = Monday) under ``curve``."""
    return WEEKLY.get(curve, (1.0,) * 7)[weekday]


def utc_weights(
    curve: str,
    tz: np.ndarray,
    tz2: np.ndarray,
    w2: np.ndarray,
    shift: np.ndarray,
    amp: np.ndarray,
    global_mix: np.ndarray | None = None,
) -> np.ndarray:
    """Per-account hourly weights in UTC, shape ``(n, 24)``, each row with mean 1.

    ``tz`` is the local UTC offset (hours); ``tz2``/``w2`` blend in a second region;
    ``shift`` moves an account's habits by whole hours and ``amp`` sharpens or
    flattens its curve, so no two accounts have identical rhythms.
    """
    base = CURVES[curve]
    hours = np.arange(24)
    n = len(tz)
    if curve == "global":
        mix = global_mix if global_mix is not None else np.full((n, 3), 1 / 3)
        w = np.zeros((n, 24))
        for j, off in enumerate(GLOBAL_REGIONS):
            local = (hours[None, :] + off + shift[:, None]) % 24
            w += mix[:, j : j + 1] * base[local]
    else:
        local1 = (hours[None, :] + tz[:, None] + shift[:, None]) % 24
        local2 = (hours[None, :] + tz2[:, None] + shift[:, None]) % 24
        w = (1 - w2[:, None]) * base[local1] + w2[:, None] * base[local2]
    w = np.power(w, amp[:, None])
    return w / w.mean(axis=1, keepdims=True)


def poisson_sessions(
    rng: np.random.Generator, sessions_per_day: np.ndarray, weights: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Session starts from an inhomogeneous Poisson process per account.

    Returns ``(account_index, start_seconds)`` for all sessions of the day.
    """
    lam = sessions_per_day[:, None] * weights / 24.0
    counts = rng.poisson(lam)
    flat = counts.ravel()
    cells = np.repeat(np.arange(flat.size), flat)
    acct = cells // 24
    hour = cells % 24
    start = hour * 3600.0 + rng.random(len(cells)) * 3600.0
    return acct, start


def session_lengths(rng: np.random.Generator, spec: tuple, n: int) -> np.ndarray:
    """Requests per session: ``("single",)``, ``("geom", mean, cap)`` or ``("burst", lo, hi)``."""
    kind = spec[0]
    if kind == "single":
        return np.ones(n, dtype=np.int64)
    if kind == "geom":
        mean, cap = spec[1], spec[2]
        return np.minimum(rng.geometric(1.0 / mean, n), cap).astype(np.int64)
    if kind == "burst":
        return rng.integers(spec[1], spec[2] + 1, n).astype(np.int64)
    raise ValueError(f"unknown session model {spec!r}")


def mean_session_length(spec: tuple) -> float:
    """Expected requests per session (used to turn request rates into session rates)."""
    kind = spec[0]
    if kind == "single":
        return 1.0
    if kind == "geom":
        p = 1.0 / spec[1]
        cap = spec[2]
        k = np.arange(1, cap + 1)
        pmf = p * (1 - p) ** (k - 1)
        return float((k * pmf).sum() + cap * (1 - pmf.sum()))
    return (spec[1] + spec[2]) / 2.0


def expand_sessions(
    rng: np.random.Generator,
    start: np.ndarray,
    lengths: np.ndarray,
    gap_median_s: float,
    gap_sigma: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows of all sessions: ``(session_index, position_in_session, seconds)``.

    Gaps between consecutive requests are lognormal (think time, or a script's
    pause), so a session's requests spread out after its start.
    """
    total = int(lengths.sum())
    sess = np.repeat(np.arange(len(lengths)), lengths)
    first = np.cumsum(lengths) - lengths
    pos = np.arange(total) - np.repeat(first, lengths)
    gaps = rng.lognormal(np.log(gap_median_s), gap_sigma, total)
    gaps[pos == 0] = 0.0
    csum = np.cumsum(gaps)
    offset = csum - np.repeat(csum[first], lengths) if total else csum
    return sess, pos, start[sess] + offset


def scripted(
    rng: np.random.Generator,
    counts: np.ndarray,
    block_start_h: np.ndarray,
    block_len_h: np.ndarray,
    jitter: float = 0.2,
) -> tuple[np.ndarray, np.ndarray]:
    """Evenly spaced requests over each account's block (a script's steady loop).

    ``jitter`` is the standard deviation of each request's offset as a fraction of
    the spacing, so inter-arrival times are regular but not identical. A 24-hour
    block with a random phase makes a loop that runs on across midnight.
    """
    counts = np.asarray(counts, dtype=np.int64)
    total = int(counts.sum())
    acct = np.repeat(np.arange(len(counts)), counts)
    first = np.cumsum(counts) - counts
    k = np.arange(total) - np.repeat(first, counts)
    period = block_len_h[acct] * 3600.0 / np.maximum(counts[acct], 1)
    phase = rng.random(len(counts))[acct]
    offs = (k + phase + rng.normal(0.0, jitter, total)) * period
    # no clipping: a jittered request may land a moment before the block (dropped
    # by the caller if before midnight) or after it (carried into the next day)
    return acct, block_start_h[acct] * 3600.0 + offs
