"""The vectorised string helpers give exactly what the slower, obvious forms give.

``detector.arrowtext`` cuts heads and tails as bytes and hashes Arrow bytes, and
``detector.netaddr`` names IPv6 networks without :mod:`ipaddress`: features key on
their output, so each is held here to the reference it replaced, value for value.
"""

from __future__ import annotations

import ipaddress
import random
import re

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from detector.arrowtext import hash_each, hash_strings, head_chars, tail_chars
from detector.netaddr import network_names

ALPHABET = ["a", "b", " ", "é", "日", "🚀", "\n", "ß", "\x00", "e\u0301"]


def random_texts(n: int, seed: int) -> list[str | None]:
    rng = random.Random(seed)
    texts: list[str | None] = [
        "".join(rng.choice(ALPHABET) for _ in range(rng.randrange(0, 40))) for _ in range(n)
    ]
    return [*texts, None, ""]


@pytest.mark.parametrize("n", [1, 2, 3, 7, 32, 60])
@pytest.mark.parametrize("large", [False, True])
def test_heads_and_tails_equal_character_slices(n, large):
    arr = pa.array(random_texts(5000, n), pa.large_string() if large else pa.string())
    assert head_chars(arr, n).equals(pc.utf8_slice_codeunits(arr, 0, n))
    assert tail_chars(arr, n).equals(pc.utf8_slice_codeunits(arr, -n))
    chunked = pa.chunked_array([arr.slice(0, 100), arr.slice(100)])
    assert head_chars(chunked, n).equals(pc.utf8_slice_codeunits(arr, 0, n))


def test_hash_of_arrow_bytes_equals_pandas_hash_of_str():
    values = random_texts(5000, 1)
    expected = pd.util.hash_array(
        np.array([v or "" for v in values], dtype=object), categorize=False
    )
    expected[np.array([not v for v in values])] = 0
    assert np.array_equal(hash_each(pa.array(values, pa.string())), expected)
    assert np.array_equal(hash_strings(pa.array(values, pa.string())), expected)


def ipaddress_network(ip: str) -> str:
    """The reference: what annotate named a network before (``ipaddress`` per address)."""
    ip = ip.strip()
    if re.fullmatch(r"[0-9]{1,3}(\.[0-9]{1,3}){3}", ip):
        return ip.rsplit(".", 1)[0] + ".0/24"
    if ":" not in ip:
        return ""
    try:
        return str(ipaddress.ip_network(f"{ip}/48", strict=False))
    except ValueError:
        return ""


def random_address(rng: random.Random) -> str:
    groups = [rng.choice([0, 0, 0, rng.randrange(1, 16), rng.randrange(65536)]) for _ in range(8)]
    addr = ipaddress.IPv6Address(":".join(f"{g:x}" for g in groups))
    parts = [rng.choice(["{:x}", "{:04x}", "{:X}"]).format(g) for g in groups]
    i, j = sorted(rng.sample(range(9), 2))
    spelled = rng.choice(
        [
            addr.compressed,
            addr.exploded.upper(),
            ":".join(parts),
            ":".join(parts[:i]) + "::" + ":".join(parts[j:]),
        ]
    )
    if rng.random() < 0.1:  # odd spellings go to ipaddress; they must still agree
        odd = [f"{spelled}%eth0", f"[{spelled}]", f"{spelled}:", f":{spelled}", f"{spelled}/64"]
        odd += [f" {spelled} ", f"{spelled}:1.2.3.4", f"g{spelled}", spelled.replace(":", ":::")]
        spelled = rng.choice(odd)
    return spelled


ODD = [
    "::", "::1", "1::", "0::0", "::ffff:1.2.3.4", "1:2:3:4:5:6:1.2.3.4", "fe80::1%eth0",
    "1:2:3:4:5:6:7::", "::2:3:4:5:6:7:8", "1:2:3:4:5:6:7::8", "1::2::3", "1:::2", ":", "",
    "12345::", "00000::1", "0:0:5::", "0000:0000:0001::", "1:2:3:4:5:6:7:8:9", "10.0.0.1",
    " 10.0.0.1 ", "300.1.1.1", "1.2.3",
]  # fmt: skip


def test_network_names_equal_ipaddress():
    rng = random.Random(5)
    values = [random_address(rng) for _ in range(20_000)] + ODD
    got = network_names(pa.array(values, pa.string())).to_pylist()
    assert got == [ipaddress_network(v) for v in values]
