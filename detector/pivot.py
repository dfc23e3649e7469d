"""Pivot: every scored account sharing one value with others -- an IP address, a
network, a payment card, a prompt template or a user agent.

The request log is streamed chunk by chunk (:func:`detector.ingest.iter_clean`, the
scored window from the scores' meta sidecar) and each chunk is matched with one
vectorised comparison; only the per-account request counts are kept. Cards come from
the account table. Networks and templates are keyed exactly as the features and the
coordination layer key them (:func:`detector.netaddr.network_of`,
:func:`detector.annotate.template_keys`), so a pivot shows what linking saw.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from pathlib import Path
from typing import Final

import numpy as np
import pandas as pd
import pyarrow as pa

from detector import schema as S
from detector.annotate import as_arrow, hash_strings, template_keys
from detector.errors import UserError
from detector.ingest import iter_clean
from detector.ingest.tables import read_accounts
from detector.netaddr import network_of
from detector.outputs import read_scoring
from detector.report import scored_window

__all__ = ["PIVOT_KINDS", "pivot"]

PIVOT_KINDS: Final[tuple[str, ...]] = ("ip", "network", "card", "template", "user_agent")
"""What ``detector pivot`` can pivot on (its options, in order)."""
_LOG_COLUMN: Final = {
    "ip": S.CLIENT_IP,
    "network": S.CLIENT_IP,
    "template": S.PROMPT,
    "user_agent": S.USER_AGENT,
}
REQUESTS: Final = "requests"
SHOWN: Final[tuple[str, ...]] = (
    S.ACCOUNT_ID,
    REQUESTS,
    S.SCORE,
    S.RANK,
    S.FLAGGED,
    S.BAND,
    S.CASE_ID,
    S.CLUSTER_ID,
)


def _network_key(value: str) -> int:
    """The network key of an address (its /24 or /48) or of a network written as such."""
    text = value.strip()
    try:
        net = ipaddress.ip_network(text, strict=False) if "/" in text else None
        if net is None:
            ipaddress.ip_address(text)
    except ValueError:
        raise UserError(f"--network {value!r} is neither an IP address nor a network") from None
    if net is None:
        return int(network_of(pa.array([text], pa.string()))[0])
    wanted = 24 if net.version == 4 else 48
    if net.prefixlen != wanted:
        raise UserError(
            f"--network {value!r}: networks are /{wanted} for IPv{net.version} (or give an address)"
        )
    return int(hash_strings(pa.array([str(net)], pa.string()))[0])


def _matcher(kind: str, value: str) -> Callable[[pd.DataFrame], np.ndarray]:
    """A function giving, for a chunk, which rows carry ``value``."""
    column = _LOG_COLUMN[kind]
    if kind == "network":
        key = _network_key(value)
        return lambda chunk: network_of(as_arrow(chunk[column])) == key
    if kind == "template":
        key = template_keys(pa.array([value], pa.string()))[0]
        return lambda chunk: template_keys(as_arrow(chunk[column])) == key
    wanted = value.strip() if kind == "ip" else value
    return lambda chunk: (chunk[column].astype(object) == wanted).to_numpy()


def _accounts_in_log(kind: str, value: str, log: Path, scores_meta: dict) -> pd.Series:
    """Requests per account carrying ``value`` in the scored window of ``log``."""
    start, end = scored_window(scores_meta)
    matches = _matcher(kind, value)
    column = _LOG_COLUMN[kind]
    counts: list[pd.Series] = []
    for chunk in iter_clean(log, start=start, end=end):  # bounded chunks of the log
        if column not in chunk.columns:
            raise UserError(
                f"{log}: the log has no {column} column, so --{kind.replace('_', '-')} "
                "cannot be matched"
            )
        hit = np.asarray(matches(chunk), dtype=bool)
        if hit.any():
            counts.append(chunk.loc[hit, S.ACCOUNT_ID].astype(str).value_counts())
    if not counts:
        return pd.Series(dtype="int64")
    return pd.concat(counts).groupby(level=0).sum()


def pivot(
    kind: str,
    value: str,
    *,
    scores: Path,
    log: Path | None = None,
    accounts: Path | None = None,
) -> pd.DataFrame:
    """Scored accounts sharing ``value`` (of ``kind``), by score descending.

    Columns :data:`SHOWN` (``requests`` is missing for a card pivot). Raises
    :class:`UserError` for a missing input (``--log``, ``--accounts``) or a bad value.
    """
    if kind not in PIVOT_KINDS:
        raise UserError(f"pivot on {kind!r}: expected one of {', '.join(PIVOT_KINDS)}")
    if not value.strip():
        raise UserError(f"--{kind.replace('_', '-')}: give a non-empty value")
    scoring = read_scoring(Path(scores), features=False)
    table = scoring.table
    if kind == "card":
        if accounts is None:
            raise UserError("--card needs --accounts FILE (the account table holds the cards)")
        people = read_accounts(accounts)
        if S.PAYMENT_FINGERPRINT not in people.columns:
            raise UserError(f"{accounts}: the account table has no {S.PAYMENT_FINGERPRINT} column")
        ids = people.index[people[S.PAYMENT_FINGERPRINT] == value]
        requests = pd.Series(np.nan, index=ids)
    else:
        if log is None:
            raise UserError(f"--{kind.replace('_', '-')} needs --log LOG (the requests to search)")
        requests = _accounts_in_log(kind, value, Path(log), scoring.meta)
    found = table[table[S.ACCOUNT_ID].isin(requests.index)].copy()
    found[REQUESTS] = found[S.ACCOUNT_ID].map(requests)
    for column in SHOWN:
        if column not in found.columns:
            found[column] = None
    found = found.sort_values([S.SCORE, S.ACCOUNT_ID], ascending=[False, True])
    out = found[list(SHOWN)].reset_index(drop=True)
    out[REQUESTS] = out[REQUESTS].astype(object).where(out[REQUESTS].notna(), None)
    return out
