"""Sub-streams: score the traffic a mixed account cannot hide, not only its sum.

A genuine product that also runs capability extraction through the same key (*mixed
cover*), or a reseller that relays end users and also pulls in bulk, dilutes the pull in
its whole-account features: 20% extraction inside 80% ordinary chat looks ordinary. What
such an account cannot hide is *where* the pull comes from: it is sent by another client
(user agent, network) or without the product's system prompt. A **sub-stream** is the
requests of one account that share such a key:

* ``system`` -- the same system prompt (or none);
* ``shape`` -- the same request shape (``max_tokens`` and ``temperature``): a bulk pull
  is configured once, a product's users are not;
* ``client`` -- the same user agent on the same network (/24 or /48); opt-in (see
  ``Config.substream_kinds``).

A sub-stream **qualifies** when it has at least ``Config.substream_min_requests``
requests (``substream_min_unshaped_requests`` for the one without a value, the first
suspect, when it is at least ``substream_min_unshaped_share`` of the account) and holds
between ``substream_min_share`` and ``substream_max_share`` of its account's traffic:
a minority (the majority stream already dominates the account's own features) that is
not negligible. Per account, qualifying sub-streams are taken while
their rows stay within ``substream_max_rows_share`` of the account's, which bounds the
extra work at that share of the log whatever the population looks like: first the one
without a value (requests with no system prompt, in an account whose product sets them:
the traffic the product did not shape), then smallest first -- the most diluted first.
Smallest first alone let a product's own small system-prompt streams use the budget
before the pull (mixed cover: 70-90% → 90-100% within the top k on four realistic
populations, docs/realistic-baseline.md, session 19).

Every qualifying sub-stream is re-keyed under a synthetic id and run through the *same*
:func:`detector.features.compute_bucket` as the accounts, so there is one definition of
every feature; account-table features read the parent account's row
(:func:`compute_substreams`), and the cross-account (coordination) features are the
parent's (:meth:`SubStreams.with_parent_columns`). The model is trained on accounts only;
:func:`detector.substream_scores.lift_scores` scores the sub-streams with the same
fitted model and gives an account the higher of its own score and its worst
sub-stream's, with reasons that name the sub-stream.

The synthetic ids live in their own table, never in the account table, and the parent
is carried in a column (never parsed back from the id): a crafted account id equal to
some sub-stream's id cannot be mistaken for it. The id is still injective
(``kind SEP key SEP account``, the kind and the decimal key never contain ``SEP``) so
two sub-streams never share one.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np
import pandas as pd

from detector import annotate as A
from detector import schema as S
from detector.features import Context, compute_bucket
from detector.features.registry import FAMILIES

__all__ = [
    "KINDS",
    "SEP",
    "SHAPE_COLUMNS",
    "SUBSTREAM",
    "SUBSTREAM_SHARE",
    "SubStreams",
    "compute_substreams",
    "parent_columns",
    "substream_ids",
]

SEP: Final = "\x1f"
"""Separator of a sub-stream id's parts (``kind SEP key SEP account_id``)."""
SUBSTREAM: Final = S.SUBSTREAM
SUBSTREAM_SHARE: Final = S.SUBSTREAM_SHARE

PARENT_FAMILIES: Final = ("account",)
"""Per-bucket families that describe the account, not its traffic: a sub-stream takes
its parent's values (the account's age is the account's, whichever client asks)."""

SHAPE_COLUMNS: Final = (S.MAX_TOKENS, S.TEMPERATURE)
"""Request parameters a ``shape`` sub-stream shares (kept in its meta to name it)."""
META_COLUMNS: Final = (
    S.ACCOUNT_ID,
    "kind",
    "requests",
    "share",
    *A.LABEL_TEXTS,
    *SHAPE_COLUMNS,
)
"""Columns of :attr:`SubStreams.meta` (``account_id`` is the parent account)."""


def _client_key(frame: pd.DataFrame) -> np.ndarray:
    return A.combine_keys(frame[A.UA_KEY].to_numpy(), frame[A.NETWORK_KEY].to_numpy())


def _system_key(frame: pd.DataFrame) -> np.ndarray:
    return frame[A.SYSTEM_KEY].to_numpy(dtype=np.uint64)


def _shape_key(frame: pd.DataFrame) -> np.ndarray:
    return A.shape_keys(
        frame[S.MAX_TOKENS].to_numpy(dtype=np.float64),
        frame[S.TEMPERATURE].to_numpy(dtype=np.float64),
    )


KINDS: Final[dict[str, Callable[[pd.DataFrame], np.ndarray]]] = {
    "client": _client_key,
    "system": _system_key,
    "shape": _shape_key,
}
"""Each kind of sub-stream and the per-request key that splits an account by it."""


@dataclass
class SubStreams:
    """Sub-stream feature rows and what each row is.

    ``features`` has the accounts' feature columns, indexed by sub-stream id (sorted);
    ``meta`` is aligned with it: the parent ``account_id``, ``kind``, ``requests``,
    ``share`` of the parent's requests, and the label texts (user agent, network,
    system prompt hash) of one of its requests.
    """

    features: pd.DataFrame
    meta: pd.DataFrame

    @classmethod
    def empty(cls, columns: Sequence[str] = ()) -> SubStreams:
        """No sub-streams (with the given feature columns)."""
        index = pd.Index([], dtype=object, name=S.ACCOUNT_ID)
        feats = pd.DataFrame({c: np.empty(0) for c in columns}, index=index)
        meta = pd.DataFrame({c: np.empty(0, dtype=object) for c in META_COLUMNS}, index=index)
        meta["requests"] = meta["requests"].astype(np.int64)
        for c in ("share", *SHAPE_COLUMNS):
            meta[c] = meta[c].astype(np.float64)
        return cls(feats, meta)

    @classmethod
    def concat(cls, parts: Sequence[SubStreams]) -> SubStreams:
        """The sub-streams of several buckets, sorted by id (each id is in one bucket)."""
        parts = [p for p in parts if len(p.features)]
        if not parts:
            return cls.empty()
        feats = pd.concat([p.features for p in parts]).sort_index()
        meta = pd.concat([p.meta for p in parts]).reindex(feats.index)
        return cls(feats, meta)

    def __len__(self) -> int:
        return len(self.features)

    def with_parent_columns(self, accounts: pd.DataFrame, columns: Sequence[str]) -> SubStreams:
        """Give every sub-stream its parent account's value of ``columns`` (see
        :func:`parent_columns`: a sub-stream is in its account's cluster, and has its
        account's age)."""
        if not len(self) or not columns:
            return self
        parent = accounts.reindex(self.meta[S.ACCOUNT_ID].to_numpy())[list(columns)]
        feats = self.features.copy()
        for c in columns:
            feats[c] = parent[c].to_numpy()
        return SubStreams(feats, self.meta)

    def ordered(self, columns: Sequence[str]) -> SubStreams:
        """The feature columns in ``columns``' order (those present)."""
        return SubStreams(self.features[[c for c in columns if c in self.features]], self.meta)


def parent_columns(columns: Sequence[str]) -> list[str]:
    """Of ``columns``, the features a sub-stream takes from its parent account: the
    account-level families and every cross-account family (coordination)."""
    names = {
        spec.name
        for fam in FAMILIES.values()
        if fam.name in PARENT_FAMILIES or not fam.per_bucket
        for spec in fam.specs
    }
    return [c for c in columns if c in names]


def substream_ids(kind: str, keys: np.ndarray, accounts: np.ndarray) -> np.ndarray:
    """Ids ``kind SEP key SEP account_id`` (injective: kind and key never hold SEP)."""
    head = pd.Series(np.asarray(keys, dtype=np.uint64).astype(str), dtype=object)
    ids = (kind + SEP) + head + SEP + pd.Series(np.asarray(accounts, dtype=object), dtype=object)
    return ids.to_numpy(dtype=object)


def _select(
    frame: pd.DataFrame, codes: np.ndarray, accounts: np.ndarray, kind: str, context: Context
) -> tuple[np.ndarray, np.ndarray, pd.DataFrame]:
    """Rows of ``frame`` in qualifying sub-streams of ``kind``, each row's sub-stream id,
    and one meta row per sub-stream (indexed by its id).

    ``codes`` index each row's account in ``accounts`` (sorted, from ``pd.factorize``).
    """
    cfg = context.config
    key = KINDS[kind](frame)
    grouped = pd.DataFrame({"a": codes, "k": key}).groupby(["a", "k"], sort=True)
    group = grouped.ngroup().to_numpy()
    size = grouped.size()
    parent = size.index.get_level_values(0).to_numpy()
    keys = size.index.get_level_values(1).to_numpy(dtype=np.uint64)
    count = size.to_numpy()
    share = count / np.bincount(codes, minlength=len(accounts))[parent]
    # the stream without a value is the first suspect: fewer requests do, if it is a
    # real part of the account's traffic
    unshaped = (
        (keys == 0)
        & (count >= cfg.substream_min_unshaped_requests)
        & (share >= cfg.substream_min_unshaped_share)
    )
    ok = (
        ((count >= cfg.substream_min_requests) | unshaped)
        & (share >= cfg.substream_min_share)
        & (share <= cfg.substream_max_share)
    )
    # within the account: the stream without a value first (no system prompt: what a
    # product did not shape), then smallest first, while the rows stay within budget
    cand = np.flatnonzero(ok)
    order = cand[np.lexsort((keys[cand], share[cand], keys[cand] != 0, parent[cand]))]
    used = pd.Series(share[order]).groupby(parent[order]).cumsum().to_numpy()
    keep = np.zeros(len(count), dtype=bool)
    keep[order[used <= cfg.substream_max_rows_share + 1e-12]] = True
    rows = np.flatnonzero(keep[group])
    chosen = np.flatnonzero(keep)
    ids = substream_ids(kind, keys[chosen], accounts[parent[chosen]])
    id_of_group = np.empty(len(count), dtype=object)
    id_of_group[chosen] = ids
    # the label texts of each sub-stream: from its first labelled request
    labelled = rows[frame[A.LABEL_ROW].to_numpy()[rows]]
    first = pd.Series(labelled).groupby(group[labelled]).first()
    # a kind that is not a union of labelled combinations may have none: no texts then
    at = first.reindex(chosen).to_numpy(dtype=np.float64)
    named = ~np.isnan(at)
    at = np.where(named, at, 0).astype(np.int64)
    any_row = pd.Series(rows).groupby(group[rows]).first().reindex(chosen).to_numpy()
    meta = pd.DataFrame(
        {
            S.ACCOUNT_ID: accounts[parent[chosen]],
            "kind": kind,
            "requests": count[chosen].astype(np.int64),
            "share": share[chosen],
            **{t: np.where(named, frame[t].to_numpy(dtype=object)[at], "") for t in A.LABEL_TEXTS},
            **{c: frame[c].to_numpy(dtype=np.float64)[any_row] for c in SHAPE_COLUMNS},
        },
        index=pd.Index(ids, name=S.ACCOUNT_ID),
    )
    return rows, id_of_group[group[rows]], meta


def compute_substreams(frame: pd.DataFrame, context: Context) -> SubStreams:
    """The qualifying sub-streams of a bucket's accounts and their per-bucket features.

    Pure and per account like :func:`compute_bucket` (every engine calls it on the same
    buckets it computes accounts on): the qualifying rows are re-keyed to their
    sub-stream's id and run through ``compute_bucket`` once, with the account table
    rows of the parents under the sub-stream ids.
    """
    cfg = context.config
    if not cfg.substreams or not len(frame):
        return SubStreams.empty()
    codes, uniques = pd.factorize(frame[S.ACCOUNT_ID], sort=True)
    accounts = np.asarray(uniques, dtype=object)
    pieces, metas = [], []
    for kind in cfg.substream_kinds:
        rows, row_ids, meta = _select(frame, codes, accounts, kind, context)
        if not len(rows):
            continue
        pieces.append(frame.iloc[rows].assign(**{S.ACCOUNT_ID: row_ids}))
        metas.append(meta)
    if not pieces:
        return SubStreams.empty()
    sub = pd.concat(pieces, ignore_index=True)
    meta = pd.concat(metas)
    sub_context = context
    if context.accounts is not None:
        table = context.accounts.reindex(meta[S.ACCOUNT_ID].to_numpy())
        table.index = pd.Index(meta.index.to_numpy(dtype=object), name=S.ACCOUNT_ID)
        sub_context = dataclasses.replace(context, accounts=table)
    feats = compute_bucket(sub, sub_context)
    return SubStreams(feats, meta.reindex(feats.index))
