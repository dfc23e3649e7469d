"""Per-request derived columns, computed once per request in one vectorised pass.

Text heuristics run on Arrow string arrays with RE2 regular expressions
(``pyarrow.compute``), over the prompt's head and tail only: extraction wrappers,
instructions and answer formats sit at the start or the end of a prompt, while the
middle of a long prompt is usually an inserted document. That bounds the cost of a
request to ``Config.text_head_chars + Config.text_tail_chars`` characters.

The output is a slim frame (no prompt text; strings turned into 64-bit hashes) that
the account-hash buckets are spilled in and the feature families read. Its column
names are defined here and nowhere else.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from typing import Final

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from detector import schema as S
from detector import textflags as TF
from detector.arrowtext import (
    as_arrow,
    distinct_texts,
    hash_each,
    hash_strings,
    head_and_tail,
    head_chars,
    tail_chars,
)
from detector.config import DEFAULT, Config
from detector.ingest import epoch_seconds
from detector.netaddr import network_names
from detector.promptmemo import Columns, PromptMemo

# --- annotated column names (one home) -------------------------------------------------
TS: Final = "ts"  # int64 seconds since epoch (UTC)
HOUR: Final = "hour"
WEEKDAY: Final = "weekday"
DAY: Final = "day"  # int days since epoch
IS_CODE: Final = "is_code"
ASKS_REASONING: Final = "asks_reasoning"
IS_RUBRIC: Final = "is_rubric"
BENCH_STYLE: Final = "bench_style"
JAILBREAK: Final = "jailbreak"
HARMFUL: Final = "harmful"
PROMPT_CHARS: Final = "prompt_chars"
PROMPT_KEY: Final = "prompt_key"
TEMPLATE_KEY: Final = "template_key"
PREFIX_KEY: Final = "prefix_key"
SUFFIX_KEY: Final = "suffix_key"
TOPIC: Final = "topic"
NETWORK_KEY: Final = "network_key"
IP_KEY: Final = "ip_key"
UA_KEY: Final = "ua_key"
UA_GENERIC: Final = "ua_generic"
SYSTEM_KEY: Final = "system_key"
MODEL_KEY: Final = "model_key"
STATUS_CODE: Final = "status_code"  # index into schema.STATUSES
ENDPOINT_KEY: Final = "endpoint_key"
CONVERSATION_KEY: Final = "conversation_key"
LABEL_ROW: Final = "label_row"
"""True on the first request of each (account, user agent, network, system prompt) in a
chunk: only those rows carry the texts below, so a sub-stream (detector.substreams) can
be named in reasons while the other rows cost a few bytes (an empty string)."""
UA_TEXT: Final = "ua_text"
NETWORK_TEXT: Final = "network_text"
SYSTEM_TEXT: Final = "system_text"
LABEL_TEXTS: Final = (UA_TEXT, NETWORK_TEXT, SYSTEM_TEXT)
LABEL_CHARS: Final = 120
"""Longest user agent or system prompt hash kept for naming a sub-stream."""
TEMPLATE_HEAD: Final = 140
TEMPLATE_TAIL: Final = 80
TOPIC_CHARS: Final = 240
TEXT_FLAGS: Final = (IS_CODE, ASKS_REASONING, IS_RUBRIC, BENCH_STYLE, JAILBREAK, HARMFUL)

# Every annotated frame has every column, so buckets spilled from files with different
# optional columns share one schema; a value from a missing source column is "unknown".
_F = np.float64
DEFAULTS: Final[dict[str, tuple[type | str, object]]] = {
    S.MAX_TOKENS: (_F, np.nan),
    S.TEMPERATURE: (_F, np.nan),
    S.TURN_INDEX: (_F, np.nan),
    S.LOGPROBS: (_F, np.nan),
    S.THINKING: (_F, np.nan),
    ENDPOINT_KEY: (np.uint64, 0),
    SYSTEM_KEY: (np.uint64, 0),
    CONVERSATION_KEY: (np.uint64, 0),
    IP_KEY: (np.uint64, 0),
    NETWORK_KEY: (np.uint64, 0),
    UA_KEY: (np.uint64, 0),
    UA_GENERIC: (bool, False),
    LABEL_ROW: (bool, False),
    **{flag: (bool, False) for flag in TEXT_FLAGS},
    PROMPT_CHARS: (_F, np.nan),
    PROMPT_KEY: (np.uint64, 0),
    TEMPLATE_KEY: (np.uint64, 0),
    PREFIX_KEY: (np.uint64, 0),
    SUFFIX_KEY: (np.uint64, 0),
    TOPIC: (np.int16, -1),
}

PATTERNS: Final[dict[str, str]] = {
    # holds code, or asks for code (a code verb with a code artefact or language)
    IS_CODE: TF.CODE,
    # asks for the model's reasoning: step-by-step thinking, shown work, reconstructed traces
    ASKS_REASONING: TF.REASONING,
    # asks to grade, rate, score or compare responses (LLM-as-judge, reward modelling)
    IS_RUBRIC: TF.RUBRIC,
    # benchmark format: lettered options, question/answer pairs, "final answer"
    BENCH_STYLE: TF.BENCH,
    # override and role-play techniques aimed at the model's safety behaviour
    JAILBREAK: TF.JAILBREAK,
    # clearly harmful topics and requests (weapons, malware, fraud ...)
    HARMFUL: TF.HARMFUL,
}

_POOL = ThreadPoolExecutor(max_workers=max(1, min(4, os.cpu_count() or 1)))

_GENERIC_UA = r"python-requests|httpx|aiohttp|curl/|wget|go-http-client|okhttp|java/|node-fetch|axios|libwww|urllib|postman|insomnia|^$"
_SDK_UA = (
    r"anthropic|openai|langchain|llamaindex|llama_index|vercel|sdk|ai/|litellm|semantic-kernel"
)


def prompt_window(prompt: pa.Array | pa.ChunkedArray, config: Config = DEFAULT) -> pa.Array:
    """The lower-cased text the heuristics and the topic model look at."""
    return head_and_tail(prompt, config.text_head_chars, config.text_tail_chars)


def topic_text(window: pa.Array) -> pa.Array:
    """What the topic model reads: the opening of the prompt window."""
    return head_chars(window, TOPIC_CHARS)


def _normalise_template(window: pa.Array) -> pa.Array:
    """Mask what varies inside a template: code blocks, quoted spans, numbers, spacing."""
    t = pc.replace_substring_regex(window, r"(?s)```.*?```", "⟨code⟩")
    t = pc.replace_substring_regex(t, r"\"[^\"\n]{1,300}\"|'[^'\n]{8,300}'", "⟨q⟩")
    t = pc.replace_substring_regex(t, r"[0-9]+([.,][0-9]+)*", "0")
    for ch in ("\n", "\t", "\r"):
        t = pc.replace_substring(t, ch, " ")
    t = pc.replace_substring_regex(t, r"  +", " ")  # runs only: replacing every space is slow
    return pc.utf8_trim_whitespace(t)


def status_codes(status: pd.Series) -> np.ndarray:
    """Each request's status as its index in ``schema.STATUSES`` (int8; -1 if unknown)."""
    codes = pc.index_in(as_arrow(status), value_set=pa.array(S.STATUSES, pa.string()))
    return pc.fill_null(codes, -1).to_numpy(zero_copy_only=False).astype(np.int8)


def status_code(status: str) -> int:
    """The code :func:`status_codes` gives ``status``."""
    return S.STATUSES.index(status)


KEY_MIX: Final = np.uint64(0x9E3779B97F4A7C15)
"""The golden-ratio multiplier that mixes one 64-bit key before it is combined with
another (:func:`combine_keys`, the linking tokens' pairs)."""


def combine_keys(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """Per request, one 64-bit key for a pair of 64-bit keys (``first`` mixed, then xor
    ``second``): a sub-stream's client (user agent × network), a request's shape, a
    client configuration (user agent × shape)."""
    with np.errstate(over="ignore"):
        return (np.asarray(first, dtype=np.uint64) * KEY_MIX) ^ np.asarray(second, dtype=np.uint64)


def shape_keys(max_tokens: np.ndarray, temperature: np.ndarray) -> np.ndarray:
    """Per request, one 64-bit key for its ``max_tokens`` and ``temperature`` (missing
    values as -1): what a caller configures once in code, not per user."""
    cap = np.nan_to_num(np.asarray(max_tokens, dtype=np.float64), nan=-1.0)
    temp = np.nan_to_num(np.asarray(temperature, dtype=np.float64), nan=-1.0)
    return combine_keys(cap.view(np.uint64), temp.view(np.uint64))


def model_key(name: str) -> np.uint64:
    """The ``MODEL_KEY`` of a model name (for comparing with the annotated column)."""
    return hash_strings(pa.array([name], pa.string()))[0]


def annotate(
    frame: pd.DataFrame,
    *,
    config: Config = DEFAULT,
    topic_model: object | None = None,
    memo: PromptMemo | None = None,
) -> pd.DataFrame:
    """Derive the per-request columns the features need and drop the raw text.

    Parameters
    ----------
    frame : clean chunk from :func:`detector.ingest.iter_clean`.
    topic_model : fitted :class:`detector.topics.TopicModel` (or anything with its
        ``assign``, such as the pipeline's model still being fitted); when given, every
        request gets a topic id (``-1`` without one).
    memo : the text columns of prompts annotated in earlier chunks of the same run
        (same config and topic model), to look up instead of recomputing; the
        chunk's new prompts are added to it.
    """
    out = pd.DataFrame(index=frame.index)
    # one string column only (Arrow-backed, no Python objects): the rest are numbers,
    # so a spilled bucket costs ~200 bytes per request
    out[S.ACCOUNT_ID] = frame[S.ACCOUNT_ID].astype(pd.ArrowDtype(pa.string())).array
    secs = epoch_seconds(frame[S.TIMESTAMP])
    out[TS] = secs
    out[DAY] = (secs // 86_400).astype(np.int32)
    out[HOUR] = ((secs // 3600) % 24).astype(np.int8)
    out[WEEKDAY] = ((out[DAY].to_numpy() + 3) % 7).astype(np.int8)  # 1970-01-01 was a Thursday
    out[MODEL_KEY] = hash_strings(as_arrow(frame[S.MODEL]))
    out[STATUS_CODE] = status_codes(frame[S.STATUS])
    out[S.INPUT_TOKENS] = frame[S.INPUT_TOKENS].to_numpy(dtype=np.float64)
    out[S.OUTPUT_TOKENS] = frame[S.OUTPUT_TOKENS].to_numpy(dtype=np.float64)
    for col in (S.MAX_TOKENS, S.TEMPERATURE, S.TURN_INDEX, S.LOGPROBS, S.THINKING):
        if col in frame.columns:
            out[col] = frame[col].astype("float64").to_numpy()
    if S.ENDPOINT in frame.columns:
        out[ENDPOINT_KEY] = hash_strings(as_arrow(frame[S.ENDPOINT]))
    if S.SYSTEM_PROMPT_HASH in frame.columns:
        out[SYSTEM_KEY] = hash_strings(as_arrow(frame[S.SYSTEM_PROMPT_HASH]))
    if S.CONVERSATION_ID in frame.columns:
        out[CONVERSATION_KEY] = hash_strings(as_arrow(frame[S.CONVERSATION_ID]))
    networks: tuple[pa.Array, np.ndarray] | None = None
    if S.CLIENT_IP in frame.columns:
        # the chunk's distinct addresses once: their keys, networks and (for the
        # labels) network texts are all functions of the address
        ips, ip_rows = distinct_texts(as_arrow(frame[S.CLIENT_IP]))
        names = network_names(ips)
        out[IP_KEY] = hash_each(ips)[ip_rows]
        out[NETWORK_KEY] = hash_strings(names)[ip_rows]
        networks = (names, ip_rows)
    if S.USER_AGENT in frame.columns:
        ua = pc.utf8_lower(pc.fill_null(as_arrow(frame[S.USER_AGENT]), ""))
        out[UA_KEY] = hash_strings(ua)
        out[UA_GENERIC] = pc.match_substring_regex(ua, _GENERIC_UA).to_numpy(zero_copy_only=False)
    if S.PROMPT in frame.columns:
        _annotate_text(out, as_arrow(frame[S.PROMPT]), config, topic_model, memo)
    for col, (dtype, default) in DEFAULTS.items():
        if col not in out.columns:
            out[col] = np.full(len(out), default, dtype=dtype)
    _annotate_labels(out, frame, networks)
    out[PROMPT_CHARS] = out[PROMPT_CHARS].astype(np.float64)
    return out


def _annotate_labels(
    out: pd.DataFrame, frame: pd.DataFrame, networks: tuple[pa.Array, np.ndarray] | None
) -> None:
    """:data:`LABEL_ROW` and the label texts (user agent, network, system prompt hash).

    Texts are kept on the first request of each (account, user agent, network, system
    prompt) of the chunk only: every sub-stream is a union of such combinations, so it
    has a labelled row, and the spilled bucket grows by a few bytes per request instead
    of the texts' length. These are the only annotated columns that depend on the chunk
    (which row is first), not on the row alone; each text is a function of its key (the
    user agent lower-cased as ``UA_KEY`` hashes it), so whichever labelled row names a
    sub-stream, and however an engine cuts the log into chunks, the name is the same.
    ``networks`` is the network text of each distinct address and each row's index
    into them (``None`` without addresses).
    """
    n = len(out)
    keys = pd.DataFrame(
        {
            "a": hash_strings(as_arrow(frame[S.ACCOUNT_ID])),
            "u": out[UA_KEY].to_numpy(),
            "n": out[NETWORK_KEY].to_numpy(),
            "s": out[SYSTEM_KEY].to_numpy(),
        }
    )
    first = ~keys.duplicated().to_numpy()
    out[LABEL_ROW] = first
    rows = np.flatnonzero(first)
    mask = pa.array(first)
    texts: dict[str, pa.Array] = {}
    for name, source in ((UA_TEXT, S.USER_AGENT), (SYSTEM_TEXT, S.SYSTEM_PROMPT_HASH)):
        if source in frame.columns:
            picked = pc.fill_null(as_arrow(frame[source].iloc[rows]), "")
            if name == UA_TEXT:  # as UA_KEY keys it: the text is a function of the key
                picked = pc.utf8_lower(picked)
            texts[name] = head_chars(picked, LABEL_CHARS)
    if networks is not None:
        names, ip_rows = networks
        texts[NETWORK_TEXT] = names.take(pa.array(ip_rows[rows]))
    empty = pa.array([""] * 0, pa.string())
    for name in LABEL_TEXTS:
        values = texts.get(name)
        full = pa.nulls(n, pa.string()) if n else empty
        if values is not None and len(rows):
            full = pc.replace_with_mask(full, mask, values.cast(pa.string()))
        out[name] = pd.array(pc.fill_null(full, ""), dtype=pd.ArrowDtype(pa.string()))


def _template_parts(window: pa.Array) -> tuple[np.ndarray, pa.Array, pa.Array]:
    """Template keys of prompt windows, and the normalised text and its length."""
    # templates are keyed on the first 100 and last 60 normalised characters: normalise
    # only a slightly larger head and tail instead of the whole window
    norm = _normalise_template(head_and_tail(window, TEMPLATE_HEAD, TEMPLATE_TAIL))
    n = pc.utf8_length(norm)
    long = pc.greater(n, 160)
    key_text = pc.if_else(
        long,
        pc.binary_join_element_wise(head_chars(norm, 100), tail_chars(norm, 60), "…"),
        norm,
    )
    return hash_strings(key_text), norm, n


def template_keys(prompt: pa.Array | pa.ChunkedArray, config: Config = DEFAULT) -> np.ndarray:
    """The template key of each prompt, as the features and coordination key them.

    ``detector pivot --template`` keys the analyst's example prompt and the log's
    prompts the same way, vectorised.
    """
    return _template_parts(prompt_window(prompt, config))[0]


def window_columns(window: pa.Array, topic_model: object | None) -> Columns:
    """The text columns of distinct prompts that are functions of their prompt window
    (:func:`prompt_window`): the flags, the template, prefix and suffix keys and the
    topic. With the run's config and topic model fixed, each is a function of the
    prompt alone, which is what lets :func:`annotate` compute them once per distinct
    prompt and :class:`detector.promptmemo.PromptMemo` keep them across chunks.
    """
    # pyarrow compute releases the GIL: the regex scans share the machine's cores
    flags = _POOL.map(lambda p: pc.match_substring_regex(window, p), PATTERNS.values())
    cols = {
        name: flag.to_numpy(zero_copy_only=False)
        for name, flag in zip(PATTERNS, flags, strict=True)
    }
    keys, norm, n = _template_parts(window)
    cols[TEMPLATE_KEY] = keys
    wrapped = pc.greater_equal(n, 48)
    empty = pa.scalar("", pa.string())
    cols[PREFIX_KEY] = hash_strings(pc.if_else(wrapped, head_chars(norm, 32), empty))
    cols[SUFFIX_KEY] = hash_strings(pc.if_else(wrapped, tail_chars(norm, 32), empty))
    if topic_model is not None:
        topics = topic_model.assign(topic_text(window))  # type: ignore[attr-defined]
        cols[TOPIC] = np.asarray(topics)
    else:
        cols[TOPIC] = np.full(len(window), -1, dtype=np.int16)
    return cols


def _remembered_window_columns(
    window: pa.Array, keys: np.ndarray, topic_model: object | None, memo: PromptMemo
) -> Columns:
    """:func:`window_columns` of distinct prompts' ``window`` (the prompts keyed
    ``keys``), computed only for the prompts ``memo`` does not know yet, which it then
    remembers for later chunks."""
    found, known = memo.lookup(keys)
    if not found.any():
        fresh = window_columns(window, topic_model)
        memo.add(keys, fresh)
        return fresh
    todo = np.flatnonzero(~found)
    # the windows are filtered, not the prompts: a window is at most 480 characters
    fresh = window_columns(window.filter(pa.array(~found)), topic_model)
    memo.add(keys[todo], fresh)
    cols = {}
    for name, col in fresh.items():
        full = np.empty(len(window), dtype=col.dtype)
        full[todo] = col
        full[found] = known[name]
        cols[name] = full
    return cols


def _annotate_text(
    out: pd.DataFrame,
    prompt: pa.Array,
    config: Config,
    topic_model: object | None,
    memo: PromptMemo | None,
) -> None:
    """The text columns, computed on the chunk's distinct prompts (see distinct_texts)
    that ``memo`` (if any) does not know from earlier chunks."""
    texts, rows = distinct_texts(prompt)
    keys = hash_each(texts)
    window = prompt_window(texts, config)
    if memo is None:
        cols = window_columns(window, topic_model)
    else:
        cols = _remembered_window_columns(window, keys, topic_model, memo)
    for name in TEXT_FLAGS:
        out[name] = cols[name][rows]
    out[PROMPT_CHARS] = pc.utf8_length(texts).to_numpy(zero_copy_only=False)[rows]
    out[PROMPT_KEY] = keys[rows]
    for name in (TEMPLATE_KEY, PREFIX_KEY, SUFFIX_KEY, TOPIC):
        out[name] = cols[name][rows]
