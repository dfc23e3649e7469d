"""Infrastructure: where requests come from and with what client."""

from __future__ import annotations

import numpy as np

from detector import annotate as A
from detector import schema as S
from detector.features import agg
from detector.features.base import Bucket
from detector.features.registry import FeatureSpec, family

SPECS = [
    FeatureSpec(
        "distinct_ips",
        "infra",
        "count",
        "Distinct client IP addresses.",
        "Rotating addresses hide volume; a product uses a stable pool.",
        (S.CLIENT_IP,),
        1.0,
        "log",
        "both",
        "{value} distinct client IPs",
    ),
    FeatureSpec(
        "distinct_networks",
        "infra",
        "count",
        "Distinct client networks (/24 IPv4, /48 IPv6).",
        "Many networks for one account suggests proxies or a relay.",
        (S.CLIENT_IP,),
        1.0,
        "log",
        "both",
        "{value} distinct client networks",
        echo_of="distinct_ips",
    ),
    FeatureSpec(
        "generic_client_share",
        "infra",
        "share",
        "Share of requests from a generic HTTP client (python-requests, curl, httpx …) "
        "or with no user agent.",
        "Extraction scripts are written against the raw API; products use SDKs or frameworks.",
        (S.USER_AGENT,),
        0.0,
        "share",
        "high",
        "{value} of requests come from a generic HTTP client",
    ),
    FeatureSpec(
        "distinct_user_agents",
        "infra",
        "count",
        "Distinct user-agent strings.",
        "A relay forwards many end users' clients; a script has one.",
        (S.USER_AGENT,),
        1.0,
        "log",
        "both",
        "{value} distinct user agents",
    ),
]


@family("infra", SPECS)
def infra(b: Bucket) -> dict[str, np.ndarray]:
    """Client addresses, networks and user agents."""
    n, c, ctx = b.n, b.codes, b.context
    out: dict[str, np.ndarray] = {}
    if ctx.has(S.CLIENT_IP):
        out["distinct_ips"] = np.maximum(agg.nunique(c, b.col(A.IP_KEY), n), 1.0)
        out["distinct_networks"] = np.maximum(agg.nunique(c, b.col(A.NETWORK_KEY), n), 1.0)
    if ctx.has(S.USER_AGENT):
        out["generic_client_share"] = agg.share(c, b.col(A.UA_GENERIC), n)
        out["distinct_user_agents"] = np.maximum(agg.nunique(c, b.col(A.UA_KEY), n), 1.0)
    return out
