"""Vectorised string helpers on Arrow arrays: hashing, distinct values, heads and tails.

Every per-request text column goes through these, so each is written to touch the
text in Arrow's C++ kernels and to make Python objects only where it cannot avoid
them (one ``bytes`` object per *distinct* value when hashing).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc


def as_arrow(s: pd.Series) -> pa.Array:
    """A pandas string column as an Arrow array without copying when it is Arrow-backed."""
    if isinstance(s.dtype, pd.ArrowDtype):
        return pa.array(s.array)
    return pa.array(s.astype(object).where(s.notna(), None), type=pa.string())


def _one_array(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """``values`` as one contiguous array (chunks combined)."""
    if isinstance(values, pa.ChunkedArray):
        return values.combine_chunks()
    return values


def _as_bytes(text: pa.Array) -> pa.Array:
    """The same buffers seen as binary (zero-copy): byte kernels, ``bytes`` objects."""
    return text.view(pa.large_binary() if pa.types.is_large_string(text.type) else pa.binary())


def distinct_texts(values: pa.Array | pa.ChunkedArray) -> tuple[pa.Array, np.ndarray]:
    """The distinct values of a string column (null read as '') and each row's index
    into them.

    Every per-request text column is a pure function of the text, so it is computed
    once per distinct text and spread back to the rows with a numpy take: repeated
    prompts (suites re-run, retries, fixed probes) and addresses cost nothing twice, and
    the derived text forms exist for the distinct texts only.
    """
    enc = pc.dictionary_encode(_one_array(pc.fill_null(values, "")))
    return enc.dictionary, enc.indices.to_numpy(zero_copy_only=False)


def hash_each(values: pa.Array) -> np.ndarray:
    """Stable 64-bit hash of each value of a string array ('' and null hash to 0).

    The hash is pandas' ``hash_array`` of the text (SipHash of its UTF-8 bytes). The
    values go to it as ``bytes`` viewed straight from the Arrow buffer: pandas hashes
    ``bytes`` as they are and ``str`` as their UTF-8 encoding, so the hash is the same
    while Python never decodes the text to ``str`` and encodes it back.
    """
    arr = _one_array(values)
    if len(arr) == 0:
        return np.empty(0, dtype=np.uint64)
    raw = _as_bytes(arr).to_numpy(zero_copy_only=False)
    blank = pc.fill_null(pc.equal(pc.binary_length(arr), 0), True)
    raw[blank.to_numpy(zero_copy_only=False)] = b""  # nulls: hashed, then zeroed below
    h = pd.util.hash_array(raw, categorize=False).astype(np.uint64)
    h[blank.to_numpy(zero_copy_only=False)] = 0
    return h


def hash_strings(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Stable 64-bit hashes of strings (nulls and '' hash to 0), hashing each distinct
    value once (:func:`hash_each` of the distinct values, spread back to the rows)."""
    distinct, rows = distinct_texts(values)
    return hash_each(distinct)[rows]


def _slice_chars(text: pa.Array | pa.ChunkedArray, start: int, stop: int | None) -> pa.Array:
    """``utf8_slice_codeunits(text, start, stop)`` for a head (``start`` 0, ``stop`` n) or
    a tail (``start`` -n, no ``stop``), cut as bytes wherever that is the same.

    Arrow's character slice decodes every string from its start (for a tail, to its
    end). When the bytes cut are all ASCII they are exactly the characters wanted: n
    ASCII bytes are n characters, and a cut through a multi-byte character would leave
    a non-ASCII byte in the piece. Only the other strings are sliced by characters.
    """
    text = _one_array(text)
    raw = _as_bytes(text)
    piece = pc.binary_slice(raw, start) if stop is None else pc.binary_slice(raw, start, stop)
    piece = piece.view(text.type)
    exact = pc.fill_null(pc.string_is_ascii(piece), True)
    if pc.all(exact).as_py():
        return piece
    other = pc.invert(exact)
    chars = pc.utf8_slice_codeunits(text.filter(other), start, stop)
    return pc.replace_with_mask(piece, other, chars)


def head_chars(text: pa.Array | pa.ChunkedArray, n: int) -> pa.Array:
    """The first ``n`` characters of each string (the whole string when shorter)."""
    return _slice_chars(text, 0, n)


def tail_chars(text: pa.Array | pa.ChunkedArray, n: int) -> pa.Array:
    """The last ``n`` characters of each string (the whole string when shorter)."""
    return _slice_chars(text, -n, None)


def head_and_tail(text: pa.Array | pa.ChunkedArray, head: int, tail: int) -> pa.Array:
    """Lower-cased head + tail of each string (the whole string when short), nulls as ''.

    ASCII lower-casing is enough for the (ASCII) patterns and is ~30x faster than the
    Unicode one; only the strings longer than head + tail are sliced.
    """
    text = _one_array(pc.fill_null(text, ""))
    long = pc.greater(pc.utf8_length(text), head + tail)
    if pc.any(long).as_py():
        longs = text.filter(long)
        joined = pc.binary_join_element_wise(
            head_chars(longs, head), tail_chars(longs, tail), "\n…\n"
        )
        text = pc.replace_with_mask(text, long, joined)
    return pc.ascii_lower(text)
