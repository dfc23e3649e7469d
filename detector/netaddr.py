"""Callers' networks from their addresses, vectorised: /24 for IPv4, /48 for IPv6.

The network of an address is named as :mod:`ipaddress` names it
(``str(ip_network(f"{ip}/48", strict=False))``, e.g. ``2001:db8:1::/48``), since the
name is hashed into ``NETWORK_KEY`` and shown in reasons. IPv4 and the plain IPv6
spellings (hex groups, at most one ``::``) are cut with Arrow kernels; any other
spelling (an embedded IPv4, a zone id, brackets, an invalid address) is parsed by
:mod:`ipaddress`, once per distinct address, so every name is exactly what it gives.
"""

from __future__ import annotations

import ipaddress

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from detector.arrowtext import distinct_texts, hash_strings

_V4 = r"^[0-9]{1,3}(\.[0-9]{1,3}){3}$"
_GROUP = "[0-9a-f]{1,4}"
# eight groups, or up to seven around one "::" (lower-cased first)
_V6_FULL = rf"^{_GROUP}(:{_GROUP}){{7}}$"
_V6_GAP = rf"^({_GROUP}(:{_GROUP}){{0,6}})?::({_GROUP}(:{_GROUP}){{0,6}})?$"
_V6_GROUPS = 8


def network_of(ips: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """64-bit key of each caller's network (0 when unknown), computed per distinct address."""
    distinct, rows = distinct_texts(ips)
    return hash_strings(network_names(distinct))[rows]


def network_names(ips: pa.Array) -> pa.Array:
    """The network of each address as text ("203.0.113.0/24"; "" when unknown)."""
    ips = pc.utf8_trim_whitespace(ips)
    v4 = pc.match_substring_regex(ips, _V4)
    nets = pc.if_else(v4, pc.replace_substring_regex(ips, r"\.[0-9]+$", ".0/24"), "")
    v6 = pc.and_(pc.invert(v4), pc.match_substring(ips, ":"))
    if pc.any(v6).as_py():
        nets = pc.replace_with_mask(nets, v6, _ipv6_networks(ips.filter(v6)))
    return nets


def _ipv6_networks(ips: pa.Array) -> pa.Array:
    """:func:`network_names` of addresses that contain a colon and are not IPv4."""
    lower = pc.ascii_lower(ips)
    plain = pc.or_(pc.match_substring_regex(lower, _V6_FULL), _short_gap(lower))
    out = pa.repeat(pa.scalar("", pa.string()), len(ips))
    if pc.any(plain).as_py():
        out = pc.replace_with_mask(out, plain, _plain_networks(lower.filter(plain)))
    other = pc.invert(plain)
    if pc.any(other).as_py():
        out = pc.replace_with_mask(out, other, _parsed_networks(ips.filter(other)))
    return out


def _short_gap(lower: pa.Array) -> pa.Array:
    """Whether each address is groups around one "::" that stands for a group at least."""
    gap = pc.match_substring_regex(lower, _V6_GAP)
    # the groups written, from the colons: "a::b" has 2 colons and 2 groups, "::a" and
    # "a::" 2 colons and 1 group, "::" 2 colons and none
    colons = pc.count_substring(lower, ":").to_numpy(zero_copy_only=False)
    edges = pc.starts_with(lower, "::").to_numpy(zero_copy_only=False).astype(
        np.int64
    ) + pc.ends_with(lower, "::").to_numpy(zero_copy_only=False).astype(np.int64)
    written = colons - edges
    return pc.and_(gap, pa.array(written <= _V6_GROUPS - 1))


def _plain_networks(lower: pa.Array) -> pa.Array:
    """/48 names of plain spellings (``lower`` holds nothing else).

    The "::" is expanded to the zero groups it stands for, the first three groups are
    kept without leading zeros, and trailing zero groups fold into "::" (the longest
    run of zeros, as :mod:`ipaddress` compresses it: groups four to eight are zero).
    """
    full = lower
    has_gap = pc.match_substring(lower, "::").to_numpy(zero_copy_only=False)
    if has_gap.any():
        colons = pc.count_substring(lower, ":").to_numpy(zero_copy_only=False)
        edges = pc.starts_with(lower, "::").to_numpy(zero_copy_only=False).astype(
            np.int64
        ) + pc.ends_with(lower, "::").to_numpy(zero_copy_only=False).astype(np.int64)
        missing = _V6_GROUPS - (colons - edges)  # zero groups "::" stands for
        for k in np.unique(missing[has_gap]):  # at most eight lengths, not a row loop
            rows = pa.array(has_gap & (missing == k))
            zeros = ":" + ":".join(["0"] * int(k)) + ":"
            expanded = pc.utf8_trim(pc.replace_substring(lower, "::", zeros), ":")
            full = pc.if_else(rows, expanded, full)
    parts = pc.split_pattern(full, ":", max_splits=3)
    # the first three groups without leading zeros ("" for a zero group)
    groups = [pc.utf8_ltrim(pc.list_element(parts, i), "0") for i in range(3)]
    nonzero = [pc.not_equal(g, "") for g in groups]
    shown = [pc.if_else(nz, g, "0") for g, nz in zip(groups, nonzero, strict=True)]
    three = pc.binary_join_element_wise(*shown, ":")
    two = pc.binary_join_element_wise(shown[0], shown[1], ":")
    kept = pc.if_else(nonzero[2], three, pc.if_else(nonzero[1], two, shown[0]))
    named = pc.binary_join_element_wise(kept, "::/48", "")
    return pc.if_else(pc.or_(nonzero[0], pc.or_(nonzero[1], nonzero[2])), named, "::/48")


def _parsed_networks(ips: pa.Array) -> pa.Array:
    """/48 names by :mod:`ipaddress` ("" when it rejects the address), per distinct address."""
    distinct, rows = distinct_texts(ips)
    names = []
    for ip in distinct.to_pylist():
        try:
            names.append(str(ipaddress.ip_network(f"{ip}/48", strict=False)))
        except ValueError:
            names.append("")
    return pa.array(names, pa.string()).take(pa.array(rows))
