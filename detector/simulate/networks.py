"""Addresses and boilerplate that unrelated accounts share in a realistic world.

On a real provider, an IP address or a system prompt shared by two accounts is weak
evidence: mobile carriers put thousands of subscribers behind one carrier-grade NAT
(CGNAT) address, residential proxies exit through those same consumer addresses, and
countless products ship the same boilerplate system prompt ("You are a helpful
assistant."). :class:`SharedPools` holds those world-level resources, drawn once per
seed; :func:`ip_pool` hands an account its addresses for every network kind.

The default world only has the cloud subnet pool (so its bytes stay what they were);
the realistic world adds the carrier-NAT pool and the boilerplate system prompts.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from detector.simulate import identity
from detector.simulate.ids import token_hex

CLOUD_SUBNETS = 20_000
"""Cloud /24 prefixes shared by every server-side account of a world."""
ACCOUNTS_PER_NAT_ADDRESS = 8
"""The carrier-NAT pool has one egress address per this many accounts of the world."""
NAT_ADDRESSES_PER_BLOCK = 40
BOILERPLATE_SYSTEM_PROMPTS = 8
SHARED_KINDS = ("carrier_nat", "mobile_v6", "proxy")


@dataclass(frozen=True)
class SharedPools:
    """World-level address pools and boilerplate system prompts."""

    cloud_subnets: np.ndarray
    nat: tuple[str, ...] = ()
    """Carrier-NAT egress addresses (many unrelated subscribers behind each)."""
    nat_p: np.ndarray = field(default_factory=lambda: np.zeros(0))
    """How popular each NAT address is (a few big carriers carry most subscribers)."""
    boilerplate: tuple[str, ...] = ()
    """System prompt hashes of boilerplate prompts used by unrelated products."""
    boilerplate_p: np.ndarray = field(default_factory=lambda: np.zeros(0))


def _zipf(rng: np.random.Generator, n: int, offset: float) -> np.ndarray:
    """Shuffled popularity weights ~ 1 / (rank + offset), summing to 1."""
    w = 1.0 / (np.arange(n) + offset)
    w = w[rng.permutation(n)]
    return w / w.sum()


def default_pools(seed: int) -> SharedPools:
    """The default world's pools: cloud subnets only."""
    return SharedPools(np.random.default_rng([seed, 12]).integers(0, 2**24, CLOUD_SUBNETS))


def realistic_pools(seed: int, n_accounts: int) -> SharedPools:
    """Cloud subnets plus a carrier-NAT pool sized to the world and boilerplate prompts."""
    base = default_pools(seed)
    rng = np.random.default_rng([seed, 14])
    n_nat = max(50, n_accounts // ACCOUNTS_PER_NAT_ADDRESS)
    n_blocks = -(-n_nat // NAT_ADDRESSES_PER_BLOCK)
    blocks = [identity.residential_subnet24(rng) for _ in range(n_blocks)]
    nat = tuple(
        f"{blocks[i // NAT_ADDRESSES_PER_BLOCK]}.{int(h)}"
        for i, h in enumerate(rng.integers(1, 255, n_nat))
    )
    boilerplate = tuple(token_hex(rng, 16) for _ in range(BOILERPLATE_SYSTEM_PROMPTS))
    return SharedPools(
        cloud_subnets=base.cloud_subnets,
        nat=nat,
        nat_p=_zipf(rng, n_nat, 20.0),
        boilerplate=boilerplate,
        boilerplate_p=_zipf(rng, BOILERPLATE_SYSTEM_PROMPTS, 0.5),
    )


def nat_addresses(rng: np.random.Generator, pools: SharedPools, k: int) -> list[str]:
    """``k`` carrier-NAT egress addresses (popular ones more often)."""
    if not pools.nat:
        raise ValueError("carrier-NAT addresses need the realistic world's shared pools")
    picks = rng.choice(len(pools.nat), size=k, p=pools.nat_p)
    return [pools.nat[int(i)] for i in picks]


def ip_pool(rng: np.random.Generator, kind: str, pools: SharedPools) -> tuple[list[str], float]:
    """The addresses one account sends from, and the skew exponent for picking them.

    Kinds beyond :func:`identity.ip_pool`'s: ``carrier_nat`` (a phone or home router
    behind CGNAT: 1-3 egress addresses other subscribers use too), ``mobile_v6``
    (rotating privacy addresses inside one IPv6 /64) and ``proxy`` (residential proxy
    exits: a mix of carrier-NAT, consumer IPv4 and IPv6 addresses).
    """
    if kind == "carrier_nat":
        return list(dict.fromkeys(nat_addresses(rng, pools, int(rng.integers(1, 4))))), 2.0
    if kind == "mobile_v6":
        prefix = identity.residential_v6(rng).rsplit(":", 4)[0]
        hosts = rng.integers(0, 65536, (int(rng.integers(1, 5)), 4))
        return [prefix + "".join(f":{int(x):x}" for x in h) for h in hosts], 1.5
    if kind == "proxy":
        ips: list[str] = []
        for _ in range(int(rng.integers(1, 4))):
            u = rng.random()
            if u < 0.4 and pools.nat:
                ips += nat_addresses(rng, pools, 1)
            elif u < 0.75:
                ips.append(identity.residential_v4(rng))
            else:
                ips.append(identity.residential_v6(rng))
        return list(dict.fromkeys(ips)), 1.2
    return identity.ip_pool(rng, kind, pools.cloud_subnets)


def network_of(ip: str) -> str:
    """The network an address belongs to: its /24 (IPv4) or /48 (IPv6) prefix."""
    if ":" in ip:
        return ":".join(ip.split(":")[:3])
    return ip.rsplit(".", 1)[0]


def own_networks(rng: np.random.Generator, ip_lists: list[list[str]]) -> None:
    """Redraw addresses so that no two accounts of ``ip_lists`` share a network.

    A proxy operator's exits are scattered over millions of consumer networks; in a
    simulated world's small address pools two of them would collide by chance.
    """
    taken: set[str] = set()
    for m, ips in enumerate(ip_lists):
        own: list[str] = []
        nets: set[str] = set()
        for ip in ips:
            while network_of(ip) in taken:
                ip = identity.residential_v4(rng)
            own.append(ip)
            nets.add(network_of(ip))
        ip_lists[m] = own
        taken |= nets


def boilerplate_system_prompt(rng: np.random.Generator, pools: SharedPools) -> str:
    """One boilerplate system prompt hash (the most common ones most often)."""
    if not pools.boilerplate:
        raise ValueError("boilerplate system prompts need the realistic world's shared pools")
    return pools.boilerplate[int(rng.choice(len(pools.boilerplate), p=pools.boilerplate_p))]
