"""Deterministic, collision-free random-looking identifiers, built vectorised."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from detector.simulate.textgen import STR, join

_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


def mix64(x: np.ndarray) -> np.ndarray:
    """SplitMix64 finaliser: a bijection on uint64, so distinct inputs stay distinct."""
    z = np.asarray(x, dtype=np.uint64).copy()
    with np.errstate(over="ignore"):
        z ^= z >> np.uint64(30)
        z *= _M1
        z ^= z >> np.uint64(27)
        z *= _M2
        z ^= z >> np.uint64(31)
    return z


def hex_strings(values: np.ndarray, digits: int = 16) -> pa.Array:
    """Lower-case zero-padded hex of uint64 ``values``, keeping the last ``digits``."""
    v = np.asarray(values, dtype=np.uint64)
    by = v.astype(">u8").view(np.uint8).reshape(-1, 8)
    out = np.empty((len(v), 16), dtype=np.uint8)
    out[:, 0::2] = _HEX[by >> 4]
    out[:, 1::2] = _HEX[by & 15]
    raw = np.ascontiguousarray(out[:, 16 - digits :]).view(f"S{digits}").ravel()
    return pa.array(raw).cast(STR)


def prefixed_ids(prefix: str, counters: np.ndarray, salt: int, digits: int = 16) -> pa.Array:
    """``prefix`` + hex(mix64(counter ^ salt)): unique per counter, order-hiding."""
    salted = np.asarray(counters, dtype=np.uint64) ^ np.uint64(salt & 0xFFFFFFFFFFFFFFFF)
    return join(prefix, hex_strings(mix64(salted), digits))


def token_hex(rng: np.random.Generator, digits: int) -> str:
    """One random hex token (for per-account ids and hashes built in Python)."""
    return "".join("0123456789abcdef"[i] for i in rng.integers(0, 16, digits))
