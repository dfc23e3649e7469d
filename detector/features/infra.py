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
        name="distinct_ips",
        family="infra",
        unit="count",
        description="Distinct client IP addresses.",
        why="Rotating addresses hide volume; a product uses a stable pool.",
        needs=(S.CLIENT_IP,),
        neutral=1.0,
        scale="log",
        direction="both",
        reason="{value} distinct client IPs",
    ),
    FeatureSpec(
        name="distinct_networks",
        family="infra",
        unit="count",
        description="Distinct client networks (/24 IPv4, /48 IPv6).",
        why="Many networks for one account suggests proxies or a relay.",
        needs=(S.CLIENT_IP,),
        neutral=1.0,
        scale="log",
        direction="both",
        reason="{value} distinct client networks",
        echo_of="distinct_ips",
    ),
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
    FeatureSpec(
        name="distinct_user_agents",
        family="infra",
        unit="count",
        description="Distinct user-agent strings.",
        why="A relay forwards many end users' clients; a script has one.",
        needs=(S.USER_AGENT,),
        neutral=1.0,
        scale="log",
        direction="both",
        reason="{value} distinct user agents",
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
