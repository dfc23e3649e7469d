"""Linking tokens: the evidence accounts share, as 64-bit tokens.

Each account emits *tokens*. A strong token links on its own (a shared payment
fingerprint or org id). Weak evidence (its top prompt templates/wrappers, its client
networks and client configurations, the 2-hour bin it was created in, the 1-hour bin of
its first request when that is inside the window) only links in pairs of two *different*
kinds (:data:`PAIRED_KINDS`), so a generic template or a busy cloud network alone links
nothing; and a pair must cover most users of both its ingredients, or be shared by
far more accounts than its ingredients' frequencies would put together by chance (a
lift, see ``_specific``), so chance coincidences do not chain and rare evidence weighs
more than common evidence. This is banding as in LSH: an AND of two kinds per token,
an OR over tokens. Two bins per time (offset by half a bin) keep accounts created a
minute apart across a bin edge together. Users of one template who keep one schedule
get a token of their own (:func:`detector.coordination.schedules.synchronised_templates`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from detector import annotate as A
from detector import schema as S
from detector.coordination.codes import AccountCodes
from detector.features.account import DORMANT_DAYS, NEW_ACCOUNT_DAYS
from detector.features.base import creation_seconds
from detector.features.coordination import ACTIVATION_MIN_OFFSET_S

__all__ = [
    "ACTIVATION_BIN_S",
    "ACTIVATION_MIN_OFFSET_S",
    "ADOPTION_BIN_S",
    "ADOPTION_MIN_ACCOUNTS",
    "CLIENT_MIN_ACCOUNTS",
    "CREATED_BIN_S",
    "PAIRED_KINDS",
    "PAIR_COVERAGE",
    "PAIR_MIN_ACCOUNTS",
    "PAIR_MIN_LIFT",
    "STRONG_KINDS",
    "activations",
    "evidence_tokens",
    "no_tokens",
    "pair_token",
]

CREATED_BIN_S = 2 * 3600
ACTIVATION_BIN_S = 3600
ADOPTION_BIN_S = 3600
"""Accounts that moved to a newly released model within the same hour (two overlapping
bins) share an ``adoption`` token: paired with a template, a campaign switching its
accounts together in the hours after a release (issue 16)."""
ADOPTION_MIN_ACCOUNTS = 10
"""A pair with an ``adoption`` token links only when at least this many accounts share
it: a few products on one platform template follow every release within the hour (three
labelling platforms, three translation jobs on realistic seed 1212), a campaign moves
tens to thousands of accounts."""
PAIR_COVERAGE = 0.5
"""A paired token links when it holds this share of the accounts of both ingredients..."""
PAIR_MIN_ACCOUNTS = 3
"""A paired token links only when at least this many accounts share it."""
PAIR_MIN_LIFT = 20.0
"""...or when at least PAIR_MIN_ACCOUNTS share it, this many times what independent
ingredients would put together by chance (a multi-burst campaign covers a third of its
template's users per burst, but far beyond chance)."""
STRONG_KINDS = ("payment", "org")
PAIRED_KINDS = (
    ("template", "created"),
    ("template", "network"),
    ("template", "activation"),
    ("template", "adoption"),
    ("network", "created"),
    ("network", "activation"),
    ("client", "created"),
)
"""Weak evidence links in pairs of two kinds. A *client* configuration (user agent,
``max_tokens``, temperature: :func:`detector.coordination.evidence.client_config_keys`)
pairs only with creation time, a fact of the account table: accounts created together
on one configuration are one code base run from many accounts (issue 16). Not with a
template (the users of one open-source tool share its template and its configuration
without being one operator), nor with a start or switch time: a configuration is far
less specific than a template (an SDK string with a few common parameter values), and
on realistic seed 6464 a hobbyist whose first request of the week fell in a campaign's
hour, on the campaign's second configuration, was linked into its 154 accounts."""
CLIENT_MIN_ACCOUNTS = 10
"""A ``client+created`` pair links only when at least this many accounts share it: two or
three small accounts created in one hour on one SDK's defaults are chance, a campaign
creates tens to thousands."""
_PAIR_LEAST = {"adoption": ADOPTION_MIN_ACCOUNTS, "client": CLIENT_MIN_ACCOUNTS}
"""The fewest accounts a pair with an ingredient of these kinds links."""


def _time_tokens(kind: str, seconds: pd.Series, bin_s: int, code: AccountCodes) -> pd.DataFrame:
    """Two overlapping bins per time, so neighbours across a bin edge still share one.

    Tokens are integers (bin × 2 + phase), never strings: at 100k accounts the token
    table has millions of rows. Accounts as their ``code``.
    """
    s = seconds.dropna()
    a = (s.to_numpy() // bin_s).astype(np.int64) * 2
    b = ((s.to_numpy() + bin_s // 2) // bin_s).astype(np.int64) * 2 + 1
    held = code.codes(s.index)
    ids = np.concatenate([held, held])
    return pd.DataFrame(
        {S.ACCOUNT_ID: ids, "kind": kind, "token": np.concatenate([a, b]).astype(np.uint64)}
    )


def pair_token(first: np.ndarray, second: np.ndarray, salt: int) -> np.ndarray:
    """A 64-bit token for an (ingredient, ingredient) pair of one paired kind."""
    with np.errstate(over="ignore"):
        a = first.astype(np.uint64) * A.KEY_MIX
        b = (second.astype(np.uint64) + np.uint64(salt)) * np.uint64(0xBF58476D1CE4E5B9)
        return a ^ (b >> np.uint64(7)) ^ (b << np.uint64(13))


def evidence_tokens(
    evidence: pd.DataFrame,
    accounts: pd.DataFrame | None,
    first_ts: pd.Series,
    window_start: int,
    switched: pd.Series | None = None,
) -> pd.DataFrame:
    """(account_id, kind, token) rows: strong single tokens and paired weak ones.

    Parameters
    ----------
    evidence : the buckets' evidence rows (``account_id, kind, key, share, rows``).
    accounts : the account table aligned with the population, or ``None``.
    first_ts : each account's first request (epoch seconds), index ``account_id``.
    window_start : the window's first second.
    switched : when each account that moved to the newest model first used it (epoch
        seconds; :func:`~detector.features.switch_times`), or ``None``.
    """
    parts: dict[str, pd.DataFrame] = {}
    population = len(first_ts)
    code = AccountCodes(first_ts.index)  # accounts as integers below: far faster to merge
    ev = evidence[[S.ACCOUNT_ID, "kind", "key"]].rename(columns={"key": "token"})
    ev[S.ACCOUNT_ID] = code.codes(ev[S.ACCOUNT_ID])
    ev["token"] = ev["token"].astype(np.uint64)
    for kind in ("template", "network", "client"):
        parts[kind] = ev.loc[ev["kind"] == kind, [S.ACCOUNT_ID, "kind", "token"]]
    created_s = idle = None
    if accounts is not None and S.CREATED_AT in accounts.columns:
        created = accounts[S.CREATED_AT]
        created_s = pd.Series(creation_seconds(created), index=created.index)
        parts["created"] = _time_tokens("created", created_s, CREATED_BIN_S, code)
    if accounts is not None and S.IDLE_DAYS in accounts.columns:
        idle = accounts[S.IDLE_DAYS].astype("float64")
    parts["activation"] = _time_tokens(
        "activation", activations(first_ts, window_start, created_s, idle), ACTIVATION_BIN_S, code
    )
    if switched is not None and len(switched):
        parts["adoption"] = _time_tokens(
            "adoption", switched.astype("float64"), ADOPTION_BIN_S, code
        )
    strong = []
    if accounts is not None:
        for kind, col in (("payment", S.PAYMENT_FINGERPRINT), ("org", S.ORG_ID)):
            if col in accounts.columns:
                v = accounts[col].astype(str)
                v = v[v.str.len() > 0]
                token = A.hash_strings(
                    pa.array((kind + ":" + v).to_numpy(dtype=object), pa.string())
                )
                strong.append(
                    pd.DataFrame({S.ACCOUNT_ID: code.codes(v.index), "kind": kind, "token": token})
                )
    paired = []
    for salt, (k1, k2) in enumerate(PAIRED_KINDS):
        if k1 not in parts or k2 not in parts:
            continue
        m = parts[k1].merge(parts[k2], on=S.ACCOUNT_ID, suffixes=("_1", "_2"))
        least = max(_PAIR_LEAST.get(k1, 0), _PAIR_LEAST.get(k2, 0)) or None
        m = m[_specific(m, parts[k1], parts[k2], population, least)]
        if len(m):
            paired.append(
                pd.DataFrame(
                    {
                        S.ACCOUNT_ID: m[S.ACCOUNT_ID].to_numpy(),
                        "kind": f"{k1}+{k2}",
                        "token": pair_token(m["token_1"].to_numpy(), m["token_2"].to_numpy(), salt),
                    }
                )
            )
    frames = strong + paired
    if not frames:
        return pd.DataFrame({S.ACCOUNT_ID: [], "kind": [], "token": np.empty(0, dtype=np.uint64)})
    tokens = pd.concat(frames, ignore_index=True).drop_duplicates()
    return tokens.assign(**{S.ACCOUNT_ID: code.ids(tokens[S.ACCOUNT_ID].to_numpy())})


def activations(
    first_ts: pd.Series,
    window_start: int,
    created_s: pd.Series | None,
    idle_days: pd.Series | None = None,
) -> pd.Series:
    """When each account that *started* inside the window sent its first request (epoch
    seconds, as float): the ``activation`` ingredient.

    A start time is evidence only for an account that started inside the window: every
    established account "starts" when the window does. Where the account table says
    when an account was created, it must also have been new then (under
    ``NEW_ACCOUNT_DAYS`` old, as ``first_day_ramp`` reads "new"): a months-old account
    whose first request of the week came on Wednesday resumed, it did not start. Without
    that, three research labs' accounts running one public benchmark's template, whose
    first requests of the week fell in one hour, linked their organisations into one
    30-account cluster (realistic seed 8484), and three unrelated small apps on one
    framework template formed trios.

    An old account *dormant* before the window (``idle_days``, known idle for at least
    ``DORMANT_DAYS``) that starts inside it switched on as a new one does: a campaign of
    bought, months-old accounts that all wake in one hour keeps the evidence a campaign
    of fresh accounts has. Where ``idle_days`` is unknown (a one-off ``score`` without the
    column, the nightly job's first nights) an old account's start is not evidence.
    """
    started = first_ts[first_ts > window_start + ACTIVATION_MIN_OFFSET_S].astype("float64")
    if created_s is None:
        return started
    age_days = (started - created_s.reindex(started.index)) / 86_400
    keep = age_days.isna().to_numpy() | (age_days < NEW_ACCOUNT_DAYS).to_numpy()
    if idle_days is not None:
        keep |= (idle_days.reindex(started.index) >= DORMANT_DAYS).to_numpy()
    return started[keep]


def _specific(
    pairs: pd.DataFrame,
    first: pd.DataFrame,
    second: pd.DataFrame,
    population: int,
    min_accounts: int | None = None,
) -> np.ndarray:
    """Keep a paired token only when it is specific: it covers most users of both its
    ingredients, or far more accounts share it than chance would give.

    Evidence is weighed by how rare it is. If ``n1`` accounts use a template and ``n2``
    were created in a 2-hour bin, independence predicts ``n1 * n2 / N`` accounts with
    both among the ``N`` of the population. A hydra's wrapper used by 80 fresh accounts
    created in three bursts puts ~27 in each burst's bin where chance predicts a fraction
    of one (lift in the hundreds), however many bursts it used. A boilerplate template
    used by a thousand unrelated products meets a busy creation bin a few times by
    chance (lift ≈ 1) and is dropped, so chance pairs never chain unrelated accounts
    into one giant component. Coverage keeps a campaign that is most of a small
    population (there, its own members make chance look likely). ``min_accounts``, when
    given, is the fewest accounts either rule links (``ADOPTION_MIN_ACCOUNTS``,
    ``CLIENT_MIN_ACCOUNTS``).
    """
    if pairs.empty:
        return np.zeros(0, dtype=bool)
    n1 = first.groupby("token")[S.ACCOUNT_ID].nunique()
    n2 = second.groupby("token")[S.ACCOUNT_ID].nunique()
    together = pairs.groupby(["token_1", "token_2"])[S.ACCOUNT_ID].transform("nunique").to_numpy()
    expected = (
        n1.reindex(pairs["token_1"]).to_numpy()
        * n2.reindex(pairs["token_2"]).to_numpy()
        / max(population, 1)
    )
    either = np.maximum(
        n1.reindex(pairs["token_1"]).to_numpy(), n2.reindex(pairs["token_2"]).to_numpy()
    )
    covers_both = (together >= (min_accounts or 2)) & (together >= PAIR_COVERAGE * either)
    rare = (together >= (min_accounts or PAIR_MIN_ACCOUNTS)) & (
        together >= PAIR_MIN_LIFT * expected
    )
    return covers_both | rare


def no_tokens() -> pd.DataFrame:
    """An empty token table (account, kind, token)."""
    return pd.DataFrame({S.ACCOUNT_ID: [], "kind": [], "token": np.empty(0, dtype=np.uint64)})
