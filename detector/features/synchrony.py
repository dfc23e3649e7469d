"""Synchronised activity: how much accounts' hourly activity moves together.

A campaign that load-balances one job over many accounts pauses, surges and resumes
across them at once (SynchroTrap). This module keeps each bucket's activity as sparse
(account, hour, count) triples and measures, for groups of accounts, the mean pairwise
correlation of their hourly activity beyond each one's own daily rhythm -- without ever
building an accounts × hours matrix.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from detector.features.base import Context

__all__ = [
    "GroupProfiles",
    "HourlyActivity",
    "Memberships",
    "member_activity",
    "membership_synchrony",
    "synchrony",
]


@dataclass(frozen=True)
class HourlyActivity:
    """Requests per (account, hour) of one bucket, as sparse triples sorted by (row, hour).

    ``row`` indexes the bucket's ``accounts``; ``hour`` counts whole hours from the
    window start. Sparse, so memory grows with the (account, hour) pairs that hold a
    request -- never with the time span the log covers (a dense accounts × hours matrix
    of a log with one stray row from 1970 would take gigabytes).
    """

    row: np.ndarray
    hour: np.ndarray
    count: np.ndarray

    @classmethod
    def of(cls, codes: np.ndarray, ts: np.ndarray, window_start: int) -> HourlyActivity:
        """The activity of rows with account ``codes`` at epoch seconds ``ts`` (none of
        them before ``window_start``)."""
        hour = ((ts - window_start) // 3600).astype(np.int64)
        # one sort of (account, hour) keys; nanosecond instants span < 2**23 hours, so
        # the key stays far below 2**63 for any number of accounts a bucket holds
        span = int(hour.max()) + 1 if len(hour) else 1
        cells, count = np.unique(codes.astype(np.int64) * span + hour, return_counts=True)
        return cls(cells // span, cells % span, count.astype(np.float64))

    @classmethod
    def from_dense(cls, matrix: np.ndarray) -> HourlyActivity:
        """From an accounts × hours count matrix (tests and benchmarks)."""
        row, hour = np.nonzero(matrix)
        return cls(row.astype(np.int64), hour.astype(np.int64), matrix[row, hour].astype(float))


def member_activity(
    parts: list[dict[str, Any]], index: pd.Index, members: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The sparse hourly activity of the accounts ``index[members]``, from every part.

    Returns ``(i, hour, count)``: each active (member, hour) as the member's position in
    ``members``, the window hour and the request count (float64), in part order.
    Gathered part by part, so memory follows the members' activity, not the whole
    population's (at 1M accounts the population's triples were gigabytes).
    """
    position = pd.Series(np.arange(len(members), dtype=np.float64), index=index[members])
    i_parts: list[np.ndarray] = []
    hour_parts: list[np.ndarray] = []
    count_parts: list[np.ndarray] = []
    for part in parts:
        hourly = part["hourly"]
        of_row = position.reindex(part["accounts"]).to_numpy()[hourly.row]
        keep = ~np.isnan(of_row)
        i_parts.append(of_row[keep].astype(np.int64))
        hour_parts.append(hourly.hour[keep])
        count_parts.append(hourly.count[keep].astype(np.float64))
    if not i_parts:
        return np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.float64)
    return np.concatenate(i_parts), np.concatenate(hour_parts), np.concatenate(count_parts)


@dataclass(frozen=True)
class Memberships:
    """Accounts in groups -- an account may be in several (every template it uses), never
    twice in one -- with the distinct accounts' activity gathered from the parts once, for
    every measure over the groups (:class:`GroupProfiles`, :func:`membership_synchrony`)."""

    members: np.ndarray
    """Each membership's account, as its position in the index."""
    lab: np.ndarray
    """Each membership's group."""
    n_groups: int
    held_as: np.ndarray
    """Each membership's account, as its position among the distinct accounts."""
    n_accounts: int
    """Distinct accounts (in index order)."""
    i: np.ndarray
    """The distinct accounts' sparse activity: account position, window hour and request
    count (float64), sorted by (account, hour) so every sum over it adds in one order."""
    hour: np.ndarray
    x: np.ndarray

    @classmethod
    def gather(
        cls,
        parts: list[dict[str, Any]],
        index: pd.Index,
        members: np.ndarray,
        lab: np.ndarray,
        n_groups: int,
    ) -> Memberships:
        """Membership ``j``: account ``index[members[j]]`` in group ``lab[j]``."""
        accounts, held_as = np.unique(members, return_inverse=True)
        i, hour, x = member_activity(parts, index, accounts)
        order = np.lexsort((hour, i))  # whatever the buckets
        return cls(members, lab, n_groups, held_as, len(accounts), i[order], hour[order], x[order])


def synchrony(
    parts: list[dict[str, Any]],
    index: pd.Index,
    label: np.ndarray,
    n_comp: int,
    clustered: np.ndarray,
    context: Context,
) -> np.ndarray:
    """Mean pairwise correlation of members' hourly activity *beyond their daily rhythm*,
    per account of ``index`` (0 outside a group): the accounts ``clustered`` selects, each
    in group ``label`` (see :func:`membership_synchrony`)."""
    out = np.zeros(len(index))
    members = np.flatnonzero(clustered)
    groups = Memberships.gather(parts, index, members, label[members], n_comp)
    out[members] = membership_synchrony(groups, context)
    return out


def membership_synchrony(groups: Memberships, context: Context) -> np.ndarray:
    """Mean pairwise correlation of group members' hourly activity *beyond their daily
    rhythm*, per membership of ``groups``.

    Each member's hourly counts over the window's T hours minus its own mean count at
    that hour of the day: accounts in one time zone share a diurnal curve, which is not
    coordination; a campaign that pauses, surges and resumes across its accounts is.
    With each member's residual vector scaled to unit norm (z_i), the mean off-diagonal
    correlation of a group of n is (‖Σ z_i‖² − n) / (n(n − 1)).

    Computed from the sparse activity, never as members × T: an hour in which a member
    is idle has the residual −profile(hour of day), so the idle hours' share of each
    sum is a count of idle hours per hour of the day times a per-day value. Every sum
    is of squares (no cancellation), so the result is the dense formula's.
    """
    if not len(groups.members):
        return np.zeros(0)
    lab, n_groups, held_as = groups.lab, groups.n_groups, groups.held_as
    m, i, hour, x = groups.n_accounts, groups.i, groups.hour, groups.x

    n_hours = int((context.window_end - context.window_start) // 3600) + 1
    first_hod = int(context.window_start // 3600) % 24
    days = np.arange(24)
    per_hod = n_hours // 24 + ((days - first_hod) % 24 < n_hours % 24)  # hours of each hod
    hod = (first_hod + hour) % 24

    # profile (mean count per hour of day), residual norms: per account
    cell = i * 24 + hod
    profile = np.bincount(cell, weights=x, minlength=m * 24).reshape(m, 24).astype(np.float64)
    profile /= np.maximum(per_hod, 1)
    active = np.bincount(cell, minlength=m * 24).reshape(m, 24)
    resid = x - profile[i, hod]
    norm2 = np.bincount(i, weights=resid**2, minlength=m).astype(np.float64)
    norm2 += ((per_hod - active) * profile**2).sum(axis=1)
    norm = np.sqrt(norm2)
    w = np.where(norm > 0, 1.0 / np.where(norm > 0, norm, 1.0), 0.0)

    # ‖Σ z_i‖² per group: hours where a member is active, then the idle rest
    idle_sum = np.zeros((n_groups, 24))  # Σ_i profile_i(d) / norm_i, per group and hod
    np.add.at(idle_sum, lab, (profile * w[:, None])[held_as])
    row, group = _activity_by_group(i, held_as, lab, m)
    busy_cells, where = np.unique(group * n_hours + hour[row], return_inverse=True)
    weight = (x * w[i])[row]
    a = np.bincount(where.ravel(), weights=weight, minlength=len(busy_cells)).astype(float)
    c_of, h_of = busy_cells // n_hours, busy_cells % n_hours
    d_of = (first_hod + h_of) % 24
    v = a - idle_sum[c_of, d_of]
    sq = np.bincount(c_of, weights=v**2, minlength=n_groups).astype(np.float64)
    busy = np.bincount(c_of * 24 + d_of, minlength=n_groups * 24).reshape(n_groups, 24)
    sq += ((per_hod - busy) * idle_sum**2).sum(axis=1)
    return _mean_offdiagonal(sq, lab, (norm > 0)[held_as], n_groups)[lab]


def _activity_by_group(
    i: np.ndarray, held_as: np.ndarray, lab: np.ndarray, m: int
) -> tuple[np.ndarray, np.ndarray]:
    """Each activity row (of account ``i``, one of ``m``) once per group its account is
    in: the row's position and the group. ``held_as[j]`` is membership ``j``'s account,
    ``lab[j]`` its group. With one group per account this is every row once, in order."""
    held = np.bincount(held_as, minlength=m)  # groups per account
    by_account = np.argsort(held_as, kind="stable")  # memberships, account by account
    first = np.cumsum(held) - held  # each account's first slot in by_account
    times = held[i]
    row = np.repeat(np.arange(len(i)), times)
    nth = np.arange(len(row)) - np.repeat(np.cumsum(times) - times, times)
    return row, lab[by_account[first[i][row] + nth]]


@dataclass(frozen=True)
class GroupProfiles:
    """The unit hour-of-day profiles of group members, gathered from the parts once.

    Each member's requests are counted per hour of the day (24 bins over the window),
    centred and scaled to unit norm (``z_i``; a member with no variation gets zeros and
    counts as uncorrelated). :meth:`alignment`, :meth:`fit` and :meth:`core` read them, so
    a caller that needs several gathers the members' activity once. All answer per
    *membership*: an account may be in several groups (every template it uses), never
    twice in one. Memory: memberships × 24.
    """

    members: np.ndarray
    """Each membership's account, as its position in the index."""
    lab: np.ndarray
    """Each membership's group."""
    n_groups: int
    z: np.ndarray
    """memberships × 24 unit profiles."""

    @classmethod
    def of(cls, groups: Memberships, context: Context) -> GroupProfiles:
        """The profiles of every membership of ``groups``."""
        z = _unit_profiles(groups, context)[groups.held_as]
        return cls(groups.members, groups.lab, groups.n_groups, z)

    def alignment(self) -> np.ndarray:
        """Mean pairwise correlation of group members' hour-of-day profiles, per membership.

        With each member's profile centred and scaled to unit norm (``z_i``), a group of
        ``k`` gets ``(‖Σ z_i‖² − k) / (k(k − 1))``, the mean off-diagonal correlation. A
        script that runs one campaign over the same block of hours every day through many
        accounts gives them near-identical profiles (correlation ≈ 1) even when, within
        the block, nothing surges together (:func:`synchrony` ≈ 0); unrelated customers
        spread over time zones and habits do not.
        """
        if not len(self.members):
            return np.zeros(0)
        return _mean_pairwise(self.z, self.lab, self.n_groups)[self.lab]

    def fit(self, among: np.ndarray | None = None) -> np.ndarray:
        """Each membership's fit to its group's common schedule: ``z_i · u``, with ``u``
        the direction of the sum of the unit profiles of the memberships ``among``
        selects (every membership when None). Near 1 for a member on the schedule most of
        the group keeps, near 0 or below for one on its own hours."""
        chosen = np.ones(len(self.members), dtype=bool) if among is None else among
        sums = _group_sums(self.z[chosen], self.lab[chosen], self.n_groups)
        length = np.linalg.norm(sums, axis=1)
        direction = sums / np.where(length > 0, length, 1.0)[:, None]
        return np.einsum("ij,ij->i", self.z, direction[self.lab])

    def core(
        self, *, min_fit: float, rounds: int = 2, peel_fit: float | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """The in-step core of each group: members whose hour-of-day profile follows the
        group's common direction, and the cores' mean pairwise correlation.

        A group's unit profiles ``z_i`` add up coherently where members keep one schedule
        (the sum grows like ``k``) and incoherently where they do not (like ``√k``), so
        the sum's direction ``u`` is the schedule of the largest in-step subset even when
        it is a minority: 24 accounts of a script's block among 80 that share its template
        but not its hours. A member whose correlation-like fit ``z_i · u`` is at least
        ``min_fit`` belongs to the core if it fits the direction of the core so chosen as
        well (a pruning step: it only drops members). The choosing direction stays the
        *whole* group's: recomputed from the core alone (tried), it sharpened onto any scripted minority,
        and customers' nightly batch jobs on one cron block among a boilerplate's users
        formed cores too (realistic seeds 303 and 707: 30-39 pipelines and 13-29 small
        apps linked, PR-AUC 0.003-0.004 lower). The core's members are peeled off and the
        rest searched again (``rounds`` times in all) for a second core on other hours.
        With ``peel_fit``, so is every member that leans on the round's schedule (fit at
        least ``peel_fit``), core or not, and a round without a core does not end the
        search: the next direction is set by the members on other hours, not again by a
        large, noisy majority whose members are each too far from its schedule to form a
        core (a round-the-clock hydra of light accounts on a campaign's wrapper hid the
        campaign's block otherwise). Vectorised over all groups at once.

        Returns ``(core, corr)`` per membership: the core number (0, 1, …; -1 outside any
        core) and the mean pairwise correlation of the core's profiles (0 outside).
        """
        core = np.full(len(self.members), -1, dtype=np.int64)
        corr = np.zeros(len(self.members))
        z, lab = self.z, self.lab
        left = np.ones(len(self.members), dtype=bool)
        for r in range(rounds):
            lean = self.fit(left)
            inside = left & (lean >= min_fit)
            # ...and that fits the core's own schedule: a benign user of a campaign's
            # wrapper whose smooth daily peak falls inside the campaign's block of hours
            # fits the group's direction (0.72) but not the core's (0.67)
            inside &= self.fit(inside) >= min_fit
            if inside.any():
                core_corr = _mean_pairwise(z[inside], lab[inside], self.n_groups)
                core[inside] = r
                corr[inside] = core_corr[lab[inside]]
            elif peel_fit is None:
                break
            left &= ~inside
            if peel_fit is not None:
                left &= ~(lean >= peel_fit)
        return core, corr


def _unit_profiles(groups: Memberships, context: Context) -> np.ndarray:
    """Each distinct account's requests per hour of the day, centred and scaled to unit
    norm (accounts × 24; an account with no variation gets zeros)."""
    hod = (int(context.window_start // 3600) % 24 + groups.hour) % 24
    m = groups.n_accounts
    profile = np.bincount(groups.i * 24 + hod, weights=groups.x, minlength=m * 24).reshape(m, 24)
    z = profile - profile.mean(axis=1, keepdims=True)
    norm = np.linalg.norm(z, axis=1)
    varies = norm > 0
    z[varies] /= norm[varies, None]
    z[~varies] = 0.0
    return z


def _mean_pairwise(z: np.ndarray, lab: np.ndarray, n_groups: int) -> np.ndarray:
    """Per group, the mean off-diagonal correlation ``(‖Σ z_i‖² − k) / (k(k − 1))`` of
    unit profiles ``z`` (rows of zeros count as uncorrelated)."""
    sums = _group_sums(z, lab, n_groups)
    return _mean_offdiagonal((sums**2).sum(axis=1), lab, (z != 0).any(axis=1), n_groups)


def _group_sums(z: np.ndarray, lab: np.ndarray, n_groups: int) -> np.ndarray:
    """Per group, the sum of its members' unit profiles ``z`` (groups × 24)."""
    sums = np.zeros((n_groups, 24))
    np.add.at(sums, lab, z)
    return sums


def _mean_offdiagonal(
    sq: np.ndarray, lab: np.ndarray, varies: np.ndarray, n_groups: int
) -> np.ndarray:
    """Per group of ``k`` unit vectors (``varies`` of them non-zero), the mean off-diagonal
    correlation ``(‖Σ z_i‖² − k_varies) / (k(k − 1))`` from ``sq`` = ``‖Σ z_i‖²`` per group
    (0 for a group of one), clipped to [-1, 1]."""
    k = np.bincount(lab, minlength=n_groups).astype(np.float64)
    k_var = np.bincount(lab, weights=varies.astype(np.float64), minlength=n_groups)
    corr = np.where(k > 1, (sq - k_var) / np.maximum(k * (k - 1), 1), 0.0)
    return np.clip(corr, -1.0, 1.0)
