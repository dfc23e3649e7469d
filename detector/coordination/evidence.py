"""Per-bucket evidence for linking: each account's top keys, hourly activity, first request.

This is the pure per-bucket half of coordination: it runs beside the features on
each account-hash bucket (locally or on Spark executors) and its outputs, one dict per
bucket, are all that :func:`~detector.coordination.linking.link_accounts` needs.
An account's *keys* are the prompt templates, wrappers and client networks that
carry a real share of its requests (at least :data:`MIN_KEY_SHARE` and
:data:`MIN_KEY_ROWS`, its top :data:`TOP_KEYS` of each kind).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from detector import annotate as A
from detector import schema as S
from detector.features import agg
from detector.features.base import Bucket, Context
from detector.features.synchrony import HourlyActivity

__all__ = [
    "CLIENT_COLUMNS",
    "MIN_KEY_ROWS",
    "MIN_KEY_SHARE",
    "TOP_KEYS",
    "bucket_evidence",
    "client_config_keys",
]

TOP_KEYS = 3
MIN_KEY_SHARE = 0.1
"""A key is evidence when it carries this share of the account's requests. A campaign
spreading its requests over four or five generation templates gives each about 20%:
at 0.2, ten members of a 24-account template-and-timing hydra had no template over the
bar and it went unlinked (unseen realistic seed 7171; 0.1 linked 79% of it, PR-AUC
0.939 -> 0.978, elsewhere -0.001 to +0.004; docs/realistic-baseline.md, session 20).
A template alone still links nobody (:mod:`detector.coordination.tokens`)."""
MIN_KEY_ROWS = 3
CLIENT_COLUMNS = (S.USER_AGENT, S.MAX_TOKENS, S.TEMPERATURE)
"""What a *client configuration* is made of (:func:`client_config_keys`)."""


def bucket_evidence(frame: pd.DataFrame, context: Context) -> dict[str, Any]:
    """What one bucket contributes to linking: top keys, hourly activity, first request.

    This is the pure per-bucket half of coordination (runs beside the features).
    """
    b = Bucket.from_frame(frame, context)
    n, c = b.n, b.codes
    rows = []
    kinds = [("network", b.col(A.NETWORK_KEY))]
    if context.has(S.PROMPT):
        kinds += [("template", b.col(col)) for col in (A.TEMPLATE_KEY, A.PREFIX_KEY, A.SUFFIX_KEY)]
    client = client_config_keys(b, context)
    if client is not None:
        kinds.append(("client", client))
    reqs = agg.count(c, n)
    # templates of short prompts ("hello", "test") are shared by chance: only prompts
    # long enough to carry a wrapper (those with a prefix key) count as evidence
    wrapped = b.col(A.PREFIX_KEY) != 0 if context.has(S.PROMPT) else None
    for kind, values in kinds:
        if kind == "template":
            values = np.where(wrapped, values, 0).astype(values.dtype)
        pc, keys, cnt = agg.pair_counts(c, values)
        if not len(pc):
            continue
        top = pd.DataFrame({"code": pc, "key": keys, "rows": cnt})
        top["share"] = top["rows"] / reqs[top["code"].to_numpy()]
        top = top[(top["share"] >= MIN_KEY_SHARE) & (top["rows"] >= MIN_KEY_ROWS)]
        top = top.sort_values(["code", "rows", "key"], ascending=[True, False, True])
        top = top.groupby("code", sort=False).head(TOP_KEYS)
        top["kind"] = kind
        rows.append(top)
    evidence = (
        pd.concat(rows, ignore_index=True)
        if rows
        else pd.DataFrame({"code": [], "key": [], "rows": [], "share": [], "kind": []})
    )
    evidence[S.ACCOUNT_ID] = b.account_ids[evidence["code"].to_numpy(dtype=np.int64)]
    hourly = HourlyActivity.of(c, b.col(A.TS), context.window_start)
    first = np.full(n, np.iinfo(np.int64).max)
    np.minimum.at(first, c, b.col(A.TS))
    return {
        "accounts": b.account_ids,
        "evidence": evidence.drop(columns=["code"]),
        "hourly": hourly,
        "first_ts": first,
        "requests": reqs,
    }


def client_config_keys(b: Bucket, context: Context) -> np.ndarray | None:
    """Per request, the key of its client configuration (user agent, ``max_tokens``,
    ``temperature``: the user agent's key combined with :func:`detector.annotate.shape_keys`),
    or ``None`` when the log has
    none of those columns. A column the log lacks counts as one value for everyone.

    A campaign behind proxies shares no network, and may rotate its templates, but its
    accounts run one code base: the same user agent and the same request parameters. An
    odd configuration (``max_tokens`` 3000 at temperature 0.85 from one pinned client)
    is rare in a population; a common one (an SDK's defaults) is shared by thousands and
    links nobody (:func:`detector.coordination.tokens.evidence_tokens` pairs it with
    creation time and keeps only pairs far beyond chance).
    """
    if not any(context.has(col) for col in CLIENT_COLUMNS):
        return None
    missing = np.full(len(b.codes), np.nan)
    ua = b.col(A.UA_KEY) if context.has(S.USER_AGENT) else np.zeros(len(b.codes), np.uint64)
    cap = b.col(S.MAX_TOKENS).astype(np.float64) if context.has(S.MAX_TOKENS) else missing
    temp = b.col(S.TEMPERATURE).astype(np.float64) if context.has(S.TEMPERATURE) else missing
    return A.combine_keys(ua, A.shape_keys(cap, temp))
