"""Turn a population into request rows, one UTC day at a time, fully vectorised.

For each persona group and stream, a day is: pick active accounts, draw request
times (sessions, scripts or campaigns), then fill every column with array
operations. Day assembly adds per-minute rate limiting, carries rows that spill
past midnight into the next day, injects at-least-once duplicates and sorts.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from detector import schema as sc
from detector.simulate import timing
from detector.simulate.ids import mix64, prefixed_ids
from detector.simulate.prompts import PromptLibrary
from detector.simulate.state import DAY_US, MODELS, Group, Population, StreamState
from detector.simulate.textgen import STR, assemble, strings

DUPLICATE_RATE = 0.002
# internal columns, dropped before writing
ACCT = "_acct"
CAP = "_cap"
SORT_KEY = "_key"

_KIND_TYPES: dict[str, pa.DataType] = {
    "string": STR,
    "timestamp": pa.timestamp("us", tz="UTC"),
    "int": pa.int64(),
    "float": pa.float64(),
    "bool": pa.bool_(),
}
REQUEST_SCHEMA = pa.schema([(c.name, _KIND_TYPES[c.kind]) for c in sc.REQUEST_COLUMNS])
INTERNAL_SCHEMA = pa.schema(
    [*REQUEST_SCHEMA, (ACCT, pa.int64()), (CAP, pa.int64()), (SORT_KEY, pa.uint64())]
)

_STATUS = strings(sc.STATUSES)
_OK, _REFUSED, _ERROR = (
    sc.STATUSES.index(s) for s in (sc.STATUS_OK, sc.STATUS_REFUSED, sc.STATUS_ERROR)
)
_MODELS = strings(MODELS)


@dataclass
class Counters:
    """Running counters that make request and conversation ids unique across the run."""

    request: int = 0
    conversation: int = 0


@dataclass
class DayBatch:
    """One day of rows: ``table.take(order)`` is the day's file content, in order."""

    table: pa.Table
    order: np.ndarray
    duplicates: int

    @property
    def num_rows(self) -> int:
        return len(self.order)

    def rows(self, start: int, length: int) -> pa.Table:
        """Rows ``start..start+length`` of the day in file order, contract columns only."""
        idx = pa.array(self.order[start : start + length])
        return self.table.select(list(sc.ALL_COLUMNS)).take(idx)


@dataclass
class Rows:
    """Raw per-request arrays before columns are filled."""

    acct: np.ndarray  # account index within the group
    ts_us: np.ndarray
    turn: np.ndarray
    conv_key: np.ndarray


class Engine:
    """Generates the request log of a population, day by day."""

    def __init__(self, population: Population, library: PromptLibrary) -> None:
        self.pop = population
        self.world = population.world
        self.lib = library
        self.counters = Counters()
        self.salt = int(mix64(np.array([self.world.seed, 0x5EED], dtype=np.uint64))[1])
        self.pending: list[pa.Table] = []
        self.offsets = np.cumsum([0] + [g.n for g in population.groups])
        self.id_arrays = [pa.array(g.ids, STR) for g in population.groups]
        for g in population.groups:
            for st in g.streams:
                if st.spec.prompt not in library or st.spec.followup not in library:
                    raise KeyError(f"persona {g.persona.name}: unknown prompt maker")

    # ------------------------------------------------------------------ day level
    def day(self, day: int) -> DayBatch:
        """All rows stamped on ``day``: a table plus the written row order.

        The order lists row indices sorted by (timestamp, request id); rows re-shipped
        by the at-least-once log pipeline appear twice in it. Rows whose timestamp
        falls after midnight (a conversation running late) are kept for the next day.
        """
        w = self.world
        day_start = w.start_us + day * DAY_US
        tables = list(self.pending)
        for gi, g in enumerate(self.pop.groups):
            for si, st in enumerate(g.streams):
                rng = np.random.default_rng([w.seed, 1000 + day, gi, si])
                rows = self._times(rng, g, st, si, day)
                if rows is not None and len(rows.acct):
                    tables.append(self._columns(rng, gi, g, st, rows))
        table = (
            pa.concat_tables(tables).combine_chunks() if tables else INTERNAL_SCHEMA.empty_table()
        )
        del tables
        ts = table.column(sc.TIMESTAMP).cast(pa.int64()).to_numpy()
        later = ts >= day_start + DAY_US
        keep_later = later & (ts < w.end_us)
        self.pending = [table.filter(pa.array(keep_later))] if keep_later.any() else []
        today = np.flatnonzero(~later)
        table = _rate_limit(table, today)
        rng = np.random.default_rng([w.seed, 2000 + day])
        dups = int(rng.binomial(len(today), DUPLICATE_RATE)) if len(today) else 0
        rows = (
            np.concatenate([today, np.sort(rng.choice(today, size=dups, replace=False))])
            if dups
            else today
        )
        key = table.column(SORT_KEY).to_numpy()
        order = rows[np.lexsort((key[rows], ts[rows]))]
        return DayBatch(table, order, dups)

    # ------------------------------------------------------------------ timing
    def _times(
        self, rng: np.random.Generator, g: Group, st: StreamState, si: int, day: int
    ) -> Rows | None:
        spec = st.spec
        w = self.world
        day_start = w.start_us + day * DAY_US
        day_end = day_start + DAY_US
        if spec.timing == "campaign":
            return self._campaign(rng, g, si, day_start)
        acc = np.flatnonzero((st.rate > 0) & st.active[:, day] & (g.created_us < day_end))
        if not len(acc):
            return None
        if spec.timing == "poisson":
            weekday = (dt.date(1970, 1, 1) + dt.timedelta(microseconds=day_start)).weekday()
            weights = timing.utc_weights(
                spec.curve,
                g.tz[acc],
                g.tz2[acc],
                g.w2[acc],
                g.shift[acc],
                g.amp[acc],
                g.global_mix[acc],
            )
            per_day = st.rate[acc] * timing.weekly_factor(spec.curve, weekday)
            sa, start = timing.poisson_sessions(
                rng, per_day / timing.mean_session_length(spec.session), weights
            )
            lengths = timing.session_lengths(rng, spec.session, len(sa))
            is_conv = rng.random(len(sa)) < spec.conversation
            sess, pos, sec = timing.expand_sessions(rng, start, lengths, *spec.gap_s)
            acct = acc[sa[sess]]
            turn = np.where(is_conv[sess], pos, 0)
            base = self.counters.conversation
            n_sess = len(sa)
            conv_key = np.where(is_conv[sess], base + sess, base + n_sess + np.arange(len(sess)))
            self.counters.conversation += n_sess + len(sess)
        else:  # block: a script's steady loop over a daily window
            counts = np.round(st.rate[acc] * rng.uniform(0.93, 1.07, len(acc))).astype(np.int64)
            day_jitter = np.where(st.block_len_h[acc] < 24.0, rng.uniform(-0.1, 0.1, len(acc)), 0.0)
            start_h = st.block_start_h[acc] + day_jitter
            local, sec = timing.scripted(rng, counts, start_h, st.block_len_h[acc])
            acct = acc[local]
            turn = np.zeros(len(acct), dtype=np.int64)
            conv_key = self.counters.conversation + np.arange(len(acct))
            self.counters.conversation += len(acct)
        ts = day_start + np.round(sec * 1e6).astype(np.int64)
        ok = (ts >= g.created_us[acct] + 60_000_000) & (ts >= day_start)
        return Rows(acct[ok], ts[ok], turn[ok], conv_key[ok])

    def _campaign(self, rng: np.random.Generator, g: Group, si: int, day_start: int) -> Rows | None:
        """Hydra: one scripted campaign per cluster, each request sent by a random member.

        The campaign runs over the stream's block, which must be fixed (the same hours
        for every cluster): round the clock by default, an operator's office hours if set.
        """
        assert g.campaign_rate is not None and g.campaign_start_us is not None
        assert g.campaign_stream is not None
        chosen = [c for c in range(len(g.clusters)) if g.campaign_stream[c] == si]
        if not chosen:
            return None
        b0, b1, l0, l1 = g.persona.streams[si].block
        if b0 != b1 or l0 != l1:
            raise ValueError(f"persona {g.persona.name}: campaign timing needs a fixed block")
        rates = g.campaign_rate[chosen]
        counts = np.round(rates * rng.uniform(0.95, 1.05, len(chosen))).astype(np.int64)
        k = len(chosen)
        ci, sec = timing.scripted(
            rng, counts, np.full(k, float(b0)), np.full(k, float(l0)), jitter=0.35
        )
        sizes = np.array([len(g.clusters[c]) for c in chosen])
        flat = np.concatenate([g.clusters[c] for c in chosen])
        off = np.cumsum(sizes) - sizes
        member = flat[off[ci] + (rng.random(len(ci)) * sizes[ci]).astype(np.int64)]
        ts = day_start + np.round(sec * 1e6).astype(np.int64)
        ok = ts >= g.campaign_start_us[np.asarray(chosen)[ci]]
        n = int(ok.sum())
        conv_key = self.counters.conversation + np.arange(n)
        self.counters.conversation += n
        return Rows(member[ok], ts[ok], np.zeros(n, dtype=np.int64), conv_key)

    # ------------------------------------------------------------------ columns
    def _columns(
        self, rng: np.random.Generator, gi: int, g: Group, st: StreamState, r: Rows
    ) -> pa.Table:
        spec = st.spec
        a = r.acct
        n = len(a)
        u = lambda: rng.random(n)  # noqa: E731 - a fresh uniform draw per use

        def per_conversation(salt: int) -> np.ndarray:
            # one uniform per conversation, so all its turns agree (model, endpoint, ...)
            return conversation_uniform(r.conv_key, self.salt ^ salt)

        # prompt: first turns from the stream's maker, later turns often follow-ups
        style = g.style[a]
        later = (r.turn > 0) & (u() < spec.followup_p)
        first_rows = np.flatnonzero(~later)
        next_rows = np.flatnonzero(later)
        prompt = assemble(
            n,
            [
                (first_rows, self.lib.make(spec.prompt, rng, style[first_rows])),
                (next_rows, self.lib.make(spec.followup, rng, style[next_rows])),
            ],
        )
        chars = pc.utf8_length(prompt).to_numpy(zero_copy_only=False).astype(np.float64)

        # system prompt
        k_sys = (g.sys_off[a + 1] - g.sys_off[a]).astype(np.int64)
        has_sys = (k_sys > 0) & (per_conversation(1) < spec.system_prompt)
        sys_idx = g.sys_off[a] + np.minimum(
            (per_conversation(2) ** 2 * k_sys).astype(np.int64), np.maximum(k_sys - 1, 0)
        )
        if len(g.sys):
            hashes = g.sys.take(pa.array(np.where(has_sys, sys_idx, 0)))
            sys_hash = pc.if_else(pa.array(has_sys), hashes, pa.scalar("", STR))
        else:
            sys_hash = pa.array(np.full(n, "", dtype=object), STR)

        # tokens
        context = np.minimum(r.turn * st.ctx_turn[a] * rng.uniform(0.6, 1.4, n), spec.context_cap)
        input_tokens = (
            np.ceil(chars / 4.0 * rng.uniform(0.85, 1.15, n))
            + has_sys * st.sys_tokens[a]
            + st.base_ctx[a]
            + context
        ).astype(np.int64)
        max_tokens = st.max_tokens[a]
        sigma = spec.output[1]
        output = np.exp(np.log(st.out_median[a]) + sigma * rng.standard_normal(n))
        status = np.full(n, _OK, dtype=np.int64)
        refused = u() < st.refusal[a]
        errored = (~refused) & (u() < spec.error)
        status[refused] = _REFUSED
        status[errored] = _ERROR
        output = np.where(refused, rng.lognormal(np.log(45.0), 0.5, n), output)
        output = np.clip(np.round(output), 1, max_tokens).astype(np.int64)
        output[errored] = 0

        # sampling parameters
        pick = np.minimum((u() * st.temp_k[a]).astype(np.int64), st.temp_k[a] - 1)
        temperature = st.temp_grid[a, pick]
        endpoints = [e[0] for e in spec.endpoints]
        ep_w = np.array([e[1] for e in spec.endpoints], dtype=float)
        ep_cdf = np.cumsum(ep_w / ep_w.sum())
        ep_idx = np.searchsorted(ep_cdf, per_conversation(6), side="right")
        endpoint = strings(endpoints).take(pa.array(np.minimum(ep_idx, len(endpoints) - 1)))

        # model: established ones by preference, the new one after (gradual) adoption
        progress = np.clip((r.ts_us - st.adopt_us[a]) / np.maximum(st.ramp_us[a], 1), 0.0, 1.0)
        new = per_conversation(3) < st.q_new[a] * progress
        fast = per_conversation(4) < g.p_fast[a]
        model = _MODELS.take(pa.array(np.where(new, 2, np.where(fast, 0, 1))))

        # network identity
        k_ip = g.ip_off[a + 1] - g.ip_off[a]
        ip_idx = g.ip_off[a] + np.minimum((u() ** g.ip_gamma[a] * k_ip).astype(np.int64), k_ip - 1)
        if st.ip_alt is not None and st.ip_alt_k is not None:  # a separate host for this stream
            k_alt = np.maximum(st.ip_alt_k[a], 1)
            alt_idx = st.ip_alt[a] + np.minimum((u() * k_alt).astype(np.int64), k_alt - 1)
            ip_idx = np.where(st.ip_alt[a] >= 0, alt_idx, ip_idx)
        k_ua = g.ua_off[a + 1] - g.ua_off[a]
        ua_pick = (per_conversation(5) ** 3 * k_ua).astype(np.int64)
        ua_idx = g.ua_off[a] + np.minimum(ua_pick, k_ua - 1)
        ua_idx = np.where(st.ua_alt[a] >= 0, st.ua_alt[a], ua_idx)

        # ids
        req_counter = self.counters.request + np.arange(n, dtype=np.uint64)
        self.counters.request += n
        key = mix64(req_counter ^ np.uint64(self.salt))
        request_id = prefixed_ids("req_", req_counter, self.salt)
        conversation_id = prefixed_ids("conv_", r.conv_key, self.salt ^ 0xC0FFEE, digits=12)
        gidx = self.offsets[gi] + a

        columns = {
            sc.REQUEST_ID: request_id,
            sc.ACCOUNT_ID: self.id_arrays[gi].take(pa.array(a)),
            sc.TIMESTAMP: pa.array(r.ts_us, pa.int64()).cast(pa.timestamp("us", tz="UTC")),
            sc.MODEL: model,
            sc.ENDPOINT: endpoint,
            sc.INPUT_TOKENS: pa.array(input_tokens),
            sc.OUTPUT_TOKENS: pa.array(output),
            sc.MAX_TOKENS: pa.array(max_tokens.astype(np.int64)),
            sc.TEMPERATURE: pa.array(temperature.astype(np.float64)),
            sc.STATUS: _STATUS.take(pa.array(status)),
            sc.PROMPT: prompt,
            sc.SYSTEM_PROMPT_HASH: sys_hash,
            sc.CONVERSATION_ID: conversation_id,
            sc.TURN_INDEX: pa.array(r.turn.astype(np.int64)),
            sc.CLIENT_IP: g.ip.take(pa.array(ip_idx)),
            sc.USER_AGENT: g.ua.take(pa.array(ua_idx)),
            sc.LOGPROBS: pa.array(u() < st.logprobs[a]),
            sc.THINKING: pa.array(u() < st.thinking[a]),
            ACCT: pa.array(gidx.astype(np.int64)),
            CAP: pa.array(g.rpm_cap[a].astype(np.int64)),
            SORT_KEY: pa.array(key),
        }
        return pa.table(columns, schema=INTERNAL_SCHEMA)


def conversation_uniform(conv_key: np.ndarray, salt: int) -> np.ndarray:
    """A uniform [0, 1) value per conversation key (deterministic hash)."""
    h = mix64(np.asarray(conv_key, dtype=np.uint64) ^ np.uint64(salt & 0xFFFFFFFFFFFFFFFF))
    return (h >> np.uint64(11)).astype(np.float64) / float(2**53)


def _rate_limit(table: pa.Table, rows: np.ndarray) -> pa.Table:
    """Requests beyond the plan's per-minute cap for an account get ``rate_limited``.

    Only ``rows`` (today's) are considered; the others are left untouched.
    """
    if len(rows) == 0:
        return table
    acct = table.column(ACCT).to_numpy()[rows]
    ts = table.column(sc.TIMESTAMP).cast(pa.int64()).to_numpy()[rows]
    cap = table.column(CAP).to_numpy()[rows]
    minute = acct * (10**7) + ts // 60_000_000 % (10**7)
    order = np.lexsort((ts, minute))
    sorted_min = minute[order]
    n = len(rows)
    boundary = np.concatenate([[True], sorted_min[1:] != sorted_min[:-1]])
    group_start = np.maximum.accumulate(np.where(boundary, np.arange(n), 0))
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n) - group_start
    hit = rows[rank >= cap]
    if not len(hit):
        return table
    limited = np.zeros(table.num_rows, dtype=bool)
    limited[hit] = True
    mask = pa.array(limited)
    i = table.schema.get_field_index(sc.STATUS)
    status = pc.if_else(mask, pa.scalar(sc.STATUS_RATE_LIMITED, STR), table.column(sc.STATUS))
    table = table.set_column(i, sc.STATUS, status)
    for col in (sc.INPUT_TOKENS, sc.OUTPUT_TOKENS):
        i = table.schema.get_field_index(col)
        table = table.set_column(
            i, col, pc.if_else(mask, pa.scalar(0, pa.int64()), table.column(col))
        )
    return table
