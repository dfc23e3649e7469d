"""Infrastructure: with what client requests come.

The counts of an account's distinct client addresses, networks and user agents were
features here until session 23 and are retired: they grow with a product's user base (a
24/7 chat product's users call from tens of addresses and networks), so on realistic
populations they flagged big honest products, not extraction. Removing the three raised
PR-AUC on all eight realistic populations measured (0.9598 -> 0.9704, 0.9673 -> 0.9763 on
the two furthest behind) and halved the benign accounts flagged (142 -> 69 over the
eight; global chat products 38 -> 5), at -0.0016 and -0.0002 on the default population
(docs/realistic-baseline.md, session 23). Addresses stay evidence where they mean
something: shared networks link accounts (:mod:`detector.coordination`) and a client
fingerprint (user agent × network) names a sub-stream (:mod:`detector.substreams`).
"""

from __future__ import annotations

import numpy as np

from detector import annotate as A
from detector import schema as S
from detector.features import agg
from detector.features.base import Bucket
from detector.features.registry import FeatureSpec, family

SPECS = [
    FeatureSpec(
        name="generic_client_share",
        family="infra",
        unit="share",
        description="Share of requests from a generic HTTP client (python-requests, curl, httpx …) "
        "or with no user agent.",
        why="Extraction scripts are written against the raw API; products use SDKs or frameworks.",
        needs=(S.USER_AGENT,),
        neutral=0.0,
        scale="share",
        direction="high",
        reason="{value} of requests come from a generic HTTP client",
    ),
]


@family("infra", SPECS)
def infra(b: Bucket) -> dict[str, np.ndarray]:
    """The share of requests from a generic HTTP client."""
    out: dict[str, np.ndarray] = {}
    if b.context.has(S.USER_AGENT):
        out["generic_client_share"] = agg.share(b.codes, b.col(A.UA_GENERIC), b.n)
    return out
