"""Who an account looks like from the outside: country, timezone, IPs, user agents.

These are drawn once per account (a Python loop over accounts, never over requests).
"""

from __future__ import annotations

import numpy as np

from detector.simulate import vocab as V

# country -> (weight for benign signups, weight for extraction signups, UTC offsets)
COUNTRIES: dict[str, tuple[float, float, tuple[int, ...]]] = {
    "US": (0.30, 0.12, (-5, -6, -7, -8)),
    "CA": (0.04, 0.03, (-5, -8)),
    "BR": (0.04, 0.04, (-3,)),
    "MX": (0.02, 0.02, (-6,)),
    "GB": (0.07, 0.04, (0,)),
    "DE": (0.06, 0.04, (1,)),
    "FR": (0.04, 0.03, (1,)),
    "NL": (0.02, 0.03, (1,)),
    "ES": (0.02, 0.02, (1,)),
    "SE": (0.01, 0.02, (1,)),
    "PL": (0.02, 0.03, (1,)),
    "UA": (0.01, 0.03, (2,)),
    "IL": (0.01, 0.02, (2,)),
    "ZA": (0.01, 0.02, (2,)),
    "NG": (0.01, 0.03, (1,)),
    "TR": (0.01, 0.03, (3,)),
    "AE": (0.01, 0.03, (4,)),
    "IN": (0.08, 0.07, (5,)),
    "VN": (0.01, 0.04, (7,)),
    "ID": (0.01, 0.03, (7,)),
    "SG": (0.02, 0.06, (8,)),
    "HK": (0.01, 0.06, (8,)),
    "KR": (0.03, 0.04, (9,)),
    "JP": (0.04, 0.03, (9,)),
    "AU": (0.03, 0.02, (10,)),
    "RU": (0.00, 0.04, (3,)),
}
_CODES = tuple(COUNTRIES)

# first octets of consumer ISP ranges and of cloud providers (plausible, not exact)
_RESIDENTIAL_V4 = (
    24,
    67,
    68,
    71,
    73,
    76,
    81,
    82,
    86,
    90,
    92,
    98,
    99,
    108,
    174,
    177,
    181,
    186,
    187,
    189,
    191,
    2,
    5,
    31,
    37,
    46,
    49,
    58,
    59,
    60,
    61,
    62,
    78,
    79,
    80,
    83,
    84,
    85,
    87,
    88,
    89,
    93,
    94,
    95,
    101,
    106,
    110,
    112,
    114,
    115,
    116,
    117,
    118,
    121,
    122,
    123,
    124,
    125,
    175,
    180,
    182,
    183,
    203,
    210,
    211,
    218,
    219,
    220,
    221,
    222,
)
_CLOUD_V4 = (
    3,
    13,
    18,
    20,
    34,
    35,
    40,
    44,
    52,
    54,
    104,
    138,
    139,
    143,
    146,
    157,
    159,
    164,
    165,
    167,
    178,
    188,
)
_RESIDENTIAL_V6 = ("2a02", "2600:1700", "2a01:cb", "2001:56a", "2405:201", "2804:14c", "240e")
_CLOUD_V6 = ("2600:1f18", "2a05:d014", "2600:1900", "2604:a880", "2a03:b0c0")


def pick_country(rng: np.random.Generator, kind: str, n: int) -> list[str]:
    """``n`` country codes from the benign or extraction signup mix."""
    col = 0 if kind == "benign" else 1
    w = np.array([COUNTRIES[c][col] for c in _CODES])
    return [_CODES[i] for i in rng.choice(len(_CODES), size=n, p=w / w.sum())]


def tz_offset(rng: np.random.Generator, country: str) -> int:
    """A UTC offset (hours) for an account in ``country``."""
    offsets = COUNTRIES.get(country, (0.0, 0.0, (0,)))[2]
    return int(offsets[int(rng.integers(0, len(offsets)))])


def _v4(rng: np.random.Generator, first: tuple[int, ...]) -> str:
    a = first[int(rng.integers(0, len(first)))]
    b, c, d = rng.integers(0, 256, 3)
    return f"{a}.{b}.{c}.{max(1, int(d))}"


def _v6(rng: np.random.Generator, prefixes: tuple[str, ...]) -> str:
    p = prefixes[int(rng.integers(0, len(prefixes)))]
    groups = [f"{int(x):x}" for x in rng.integers(0, 65536, 8 - p.count(":") - 1)]
    return ":".join([p, *groups])


def residential_v4(rng: np.random.Generator) -> str:
    """One address in a consumer ISP range."""
    return _v4(rng, _RESIDENTIAL_V4)


def residential_v6(rng: np.random.Generator) -> str:
    """One IPv6 address in a consumer ISP or mobile carrier prefix."""
    return _v6(rng, _RESIDENTIAL_V6)


def residential_subnet24(rng: np.random.Generator) -> str:
    """A consumer-ISP /24 prefix ``a.b.c`` (a campus, a carrier's NAT block)."""
    a = _RESIDENTIAL_V4[int(rng.integers(0, len(_RESIDENTIAL_V4)))]
    b, c = rng.integers(0, 256, 2)
    return f"{a}.{int(b)}.{int(c)}"


def subnet24(rng: np.random.Generator, cloud_subnets: np.ndarray) -> str:
    """A cloud /24 prefix ``a.b.c`` from a finite shared pool (so collisions can happen)."""
    s = int(cloud_subnets[int(rng.integers(0, len(cloud_subnets)))])
    return f"{_CLOUD_V4[s % len(_CLOUD_V4)]}.{(s >> 8) & 255}.{(s >> 16) & 255}"


def hosts(rng: np.random.Generator, prefix: str, k: int) -> list[str]:
    """``k`` distinct host addresses inside the /24 ``prefix``."""
    return [f"{prefix}.{int(h)}" for h in rng.choice(np.arange(2, 255), size=k, replace=False)]


def ip_pool(
    rng: np.random.Generator, kind: str, cloud_subnets: np.ndarray
) -> tuple[list[str], float]:
    """The addresses one account sends from, and a skew exponent for picking them.

    A skew > 1 makes the first address dominate (a home connection with the odd
    mobile request); 1 means uniform (a load-balanced server pool).
    """
    if kind == "residential":
        ips = [_v6(rng, _RESIDENTIAL_V6) if rng.random() < 0.15 else _v4(rng, _RESIDENTIAL_V4)]
        if rng.random() < 0.4:
            ips.append(_v4(rng, _RESIDENTIAL_V4))
        return ips, 4.0
    if kind == "datacenter":
        k = int(rng.integers(1, 4))
        ips = [_v6(rng, _CLOUD_V6) if rng.random() < 0.1 else _v4(rng, _CLOUD_V4) for _ in range(k)]
        return ips, 1.5
    if kind in ("server", "global", "corporate"):
        n_sub = {"server": (1, 3), "global": (3, 6), "corporate": (1, 2)}[kind]
        n_host = {"server": (2, 8), "global": (3, 10), "corporate": (1, 4)}[kind]
        ips = []
        for _ in range(int(rng.integers(n_sub[0], n_sub[1] + 1))):
            ips += hosts(
                rng, subnet24(rng, cloud_subnets), int(rng.integers(n_host[0], n_host[1] + 1))
            )
        if rng.random() < 0.15:
            ips += [_v6(rng, _CLOUD_V6) for _ in range(int(rng.integers(1, 4)))]
        return ips, 1.0
    if kind == "rotating":
        k = int(rng.integers(80, 300))
        ips = [
            _v6(rng, _RESIDENTIAL_V6) if rng.random() < 0.2 else _v4(rng, _RESIDENTIAL_V4)
            for _ in range(k)
        ]
        return ips, 1.0
    if kind == "relay":
        k = int(rng.integers(150, 500))
        ips = [
            _v6(rng, _RESIDENTIAL_V6) if rng.random() < 0.12 else _v4(rng, _RESIDENTIAL_V4)
            for _ in range(k)
        ]
        return ips, 1.2
    raise ValueError(f"unknown network kind {kind!r}")


def _fill(rng: np.random.Generator, template: str) -> str:
    vals = {
        "v1": rng.integers(34, 43),
        "v2": rng.integers(0, 6),
        "v3": rng.integers(40, 59),
        "v4": rng.integers(27, 33),
        "v5": rng.integers(60, 78),
        "v6": rng.integers(0, 12),
        "v7": rng.integers(18, 31),
        "v8": rng.integers(28, 33),
        "v9": rng.integers(5, 8),
    }
    return template.format(**{k: int(v) for k, v in vals.items()})


UA_FAMILIES = {"sdk": V.SDK_UAS, "browser": V.BROWSER_UAS, "generic": V.GENERIC_UAS}


def user_agent(rng: np.random.Generator, family: str) -> str:
    """One realistic user-agent string of ``family`` (sdk, browser, generic)."""
    options = UA_FAMILIES[family]
    return _fill(rng, options[int(rng.integers(0, len(options)))])
