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

import ipaddress
import os
from concurrent.futures import ThreadPoolExecutor
from typing import Final

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from detector import schema as S
from detector.config import DEFAULT, Config

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
    IP_KEY: (np.uint64, 0),
    NETWORK_KEY: (np.uint64, 0),
    UA_KEY: (np.uint64, 0),
    UA_GENERIC: (bool, False),
    **{flag: (bool, False) for flag in TEXT_FLAGS},
    PROMPT_CHARS: (_F, np.nan),
    PROMPT_KEY: (np.uint64, 0),
    TEMPLATE_KEY: (np.uint64, 0),
    PREFIX_KEY: (np.uint64, 0),
    SUFFIX_KEY: (np.uint64, 0),
    TOPIC: (np.int16, -1),
}

# --- text detectors (RE2 syntax, applied to lower-cased head+tail) ----------------------
_LANG = (
    r"python|javascript|typescript|java|c\+\+|c#|rust|golang|go|sql|bash|shell|html|css|"
    r"regex|ruby|php|kotlin|swift|scala|haskell|matlab|r"
)
_ARTEFACT = (
    r"function|program|script|code|algorithm|class|method|regex|query|api|endpoint|unit tests?"
)
PATTERNS: Final[dict[str, str]] = {
    IS_CODE: (
        r"```|\bdef [a-z_]\w*\s*\(|\bclass [a-z_]\w*\s*[:(]|#include\s*<|^\s*(from \w+ )?import \w+"
        r"|\bfunction\s*\w*\s*\(|\bconsole\.log\(|\bprint\(|\bselect\s.+\sfrom\s|\bpublic static\b"
        r"|\bfn \w+\s*\(|traceback \(most recent call last\)|\w+(error|exception):|=>|\{\s*\n"
        r"|;\s*\n|\breturn\s+\w|>>> \w"
        rf"|\b(write|implement|fix|debug|refactor|develop|optimi[sz]e|complete)\b[^.?!\n]{{0,60}}\b({_LANG}|{_ARTEFACT})\b"
        rf"|\b({_LANG})\s+({_ARTEFACT}|snippet|implementation)\b"
    ),
    ASKS_REASONING: (
        r"step[- ]by[- ]step|show (your|all|the|me your) ?(work|working|steps|reasoning|thinking)"
        r"|explain (your|the|each) (reasoning|thinking|thought|logic)|(reasoning|thought|thinking) process"
        r"|chain[- ]of[- ]thought|think (carefully|through|aloud|out loud|it through|step)"
        r"|(internal|hidden|underlying|full|complete|detailed|entire) (reasoning|thoughts|thinking|derivation)"
        r"|walk (me )?through (your|the) (reasoning|logic|steps|thinking|solution)"
        r"|reasoning (behind|that leads|leading|trace)|articulate (the|your)|reconstruct (the|your)"
        r"|justify (your|each|the)|through your reasoning|let'?s think|reason (carefully|through)"
        r"|explain how you (got|arrived|reached)|derive (the|this)"
    ),
    IS_RUBRIC: (
        r"rubric|\bgrade (the|this|these|each|following)|\brate (the|this|these|each|following|how)"
        r"|\bscore (the|this|these|each|following)|on a scale (of|from)"
        r"|\b[01]\s*(-|to)\s*(5|7|10|100)\b|(which|what) (response|answer|output|completion|summary) is (better|more)"
        r"|\b(response|answer|completion|output) [ab12]\b|evaluate (the|this|these) (response|answer|output|completion|essay|summary)"
        r"|assistant [ab]\b|\bjudge (the|this|which|whether)|pairwise|preference between"
    ),
    BENCH_STYLE: (
        r"final answer|\\boxed|(^|\n)\s*question\s*\d*\s*:|(^|\n)\s*answer\s*:|(^|\n)\s*q\d*\s*[:.]"
        r"|(^|\n|\s)\(?[a-d]\)\s+\S|(^|\n)\s*[a-d][.:]\s+\S|which of the following|choose the (correct|best|right)"
        r"|select the (correct|best|right)|multiple[- ]choice|true or false|answer with (only|just|the|a single)"
        r"|(only|just) (the|a) (letter|number|final)|respond with (only|just) (the )?(letter|number|answer)"
        r"|options?:\s*(\n|\(?a\))"
    ),
    JAILBREAK: (
        r"ignore (all |any |the |your )?(previous|prior|above|earlier|preceding) (instructions|prompts|rules|guidelines)"
        r"|\bdan\b|do anything now|jailbr(eak|oken)|developer mode|(no|without any|without) (restrictions|limits|filters|rules|guidelines|censorship|limitations|ethical)"
        r"|pretend (you are|to be|you're)|you are now (an?|my|in)|roleplay as|role-play as|stay in character"
        r"|hypothetical(ly)? (scenario|world|story)|for a (novel|story|screenplay|movie|fiction|thriller)"
        r"|in a fictional (world|story|setting)|opposite mode|evil (ai|assistant|bot|twin|confidant)|unfiltered|uncensored"
        r"|bypass (your|the|any) (safety|content|filter|guard)|\bbase64\b|\brot13\b|my (late )?grandma used to"
        r"|as an ai with no|you have been freed|anti-?gpt|\baim\b:"
    ),
    HARMFUL: (
        r"\b(bomb|explosives?|weapons?|firearms?|poison(ing)?|murder|assassinat\w*|suicide|self-harm|meth(amphetamine)?"
        r"|cocaine|heroin|illegal drugs?|narcotics?|hack(ing|ed)? into|exploit (a |the )?vulnerabilit\w*|malware|ransomware"
        r"|keylogger|phishing|botnet|ddos|steal(ing)?|theft|fraud\w*|counterfeit|launder\w*|scam\w*|terroris\w*"
        r"|extremis\w*|racis\w*|hate speech|harass\w*|stalk\w*|blackmail|extort\w*|smuggl\w*|traffick\w*"
        r"|illegal(ly)?|identity theft|credit card (numbers|details|information)|doxx?\w*|bioweapon|nerve agent"
        r"|anthrax|ricin|kill (someone|people|a person|myself|him|her)|cheat (on|the) (tax|exam|test)|evade (taxes|police|the law|detection)"
        r"|without (getting caught|being detected|leaving (a |any )?(trace|evidence))|undetectable|spyware|deepfake"
        r"|physical harm|harm (to )?(others|people|someone|themselves)|violen(ce|t)|assault\w*|incit\w*|hatred"
        r"|fake news|misinformation|disinformation|propaganda|insider trading|crack(ing)? (passwords?|software)"
        r"|cyberbull\w*|hijack\w*|pirated|pirating|pirate (software|content|movies|games)|without (their |his |her )?consent|manipulat\w* (people|someone|others|stock|elections?|the market)"
        r"|dangerous (behaviou?rs?|activities|substances?)|anorexi\w*|bulimi\w*|cause (panic|chaos)|(create|develop|release) a virus"
        r"|disables? (antivirus|security)|sensitive information|personal information|secure (network|system|database))\b"
    ),
}

_POOL = ThreadPoolExecutor(max_workers=max(1, min(4, os.cpu_count() or 1)))

_GENERIC_UA = r"python-requests|httpx|aiohttp|curl/|wget|go-http-client|okhttp|java/|node-fetch|axios|libwww|urllib|postman|insomnia|^$"
_SDK_UA = (
    r"anthropic|openai|langchain|llamaindex|llama_index|vercel|sdk|ai/|litellm|semantic-kernel"
)


def _lower_window(prompt: pa.ChunkedArray | pa.Array, head: int, tail: int) -> pa.Array:
    """Lower-cased head + tail of each prompt (whole prompt when short), nulls as ''.

    ASCII lower-casing is enough for the (ASCII) patterns and is ~30x faster than the
    Unicode one; only the prompts longer than head + tail are sliced.
    """
    text = pc.fill_null(prompt, "")
    if isinstance(text, pa.ChunkedArray):
        text = text.combine_chunks()
    long = pc.greater(pc.utf8_length(text), head + tail)
    if pc.any(long).as_py():
        longs = text.filter(long)
        joined = pc.binary_join_element_wise(
            pc.utf8_slice_codeunits(longs, 0, head), pc.utf8_slice_codeunits(longs, -tail), "\n…\n"
        )
        text = pc.replace_with_mask(text, long, joined)
    return pc.ascii_lower(text)


def prompt_window(prompt: pa.Array | pa.ChunkedArray, config: Config = DEFAULT) -> pa.Array:
    """The lower-cased text the heuristics and the topic model look at."""
    return _lower_window(prompt, config.text_head_chars, config.text_tail_chars)


def topic_text(window: pa.Array) -> pa.Array:
    """What the topic model reads: the opening of the prompt window."""
    return pc.utf8_slice_codeunits(window, 0, TOPIC_CHARS)


def _normalise_template(window: pa.Array) -> pa.Array:
    """Mask what varies inside a template: code blocks, quoted spans, numbers, spacing."""
    t = pc.replace_substring_regex(window, r"(?s)```.*?```", "⟨code⟩")
    t = pc.replace_substring_regex(t, r"\"[^\"\n]{1,300}\"|'[^'\n]{8,300}'", "⟨q⟩")
    t = pc.replace_substring_regex(t, r"[0-9]+([.,][0-9]+)*", "0")
    for ch in ("\n", "\t", "\r"):
        t = pc.replace_substring(t, ch, " ")
    t = pc.replace_substring_regex(t, r"  +", " ")  # runs only: replacing every space is slow
    return pc.utf8_trim_whitespace(t)


def hash_strings(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Stable 64-bit hashes of strings (nulls and '' hash to 0), hashing each distinct value once."""
    arr = pc.fill_null(values, "")
    enc = pc.dictionary_encode(arr)
    if isinstance(enc, pa.ChunkedArray):
        enc = enc.combine_chunks() if enc.num_chunks != 1 else enc.chunk(0)
        if isinstance(enc, pa.ChunkedArray):  # pragma: no cover
            enc = enc.chunk(0)
    dictionary = enc.dictionary.to_numpy(zero_copy_only=False).astype(object)
    h = pd.util.hash_array(dictionary, categorize=False).astype(np.uint64)
    h[dictionary == ""] = 0
    return h[enc.indices.to_numpy(zero_copy_only=False)]


def as_arrow(s: pd.Series) -> pa.Array:
    """A pandas string column as an Arrow array without copying when it is Arrow-backed."""
    if isinstance(s.dtype, pd.ArrowDtype):
        return pa.array(s.array)
    return pa.array(s.astype(object).where(s.notna(), None), type=pa.string())


def network_of(ips: pa.Array) -> np.ndarray:
    """64-bit key of each caller's network: /24 for IPv4, /48 for IPv6 (0 when unknown).

    IPv4 is cut with a vectorised regex; IPv6 (rarer, and "::" makes it positional) is
    parsed with :mod:`ipaddress`, once per distinct address.
    """
    ips = pc.utf8_trim_whitespace(pc.fill_null(ips, ""))
    v4 = pc.match_substring_regex(ips, r"^[0-9]{1,3}(\.[0-9]{1,3}){3}$")
    nets = pc.if_else(v4, pc.replace_substring_regex(ips, r"\.[0-9]+$", ".0/24"), "")
    v6 = pc.and_(pc.invert(v4), pc.match_substring(ips, ":"))
    if pc.any(v6).as_py():
        enc = pc.dictionary_encode(ips.filter(v6))
        parsed = []
        for ip in enc.dictionary.to_pylist():
            try:
                parsed.append(str(ipaddress.ip_network(f"{ip}/48", strict=False)))
            except ValueError:
                parsed.append("")
        nets6 = pa.array(parsed, pa.string()).take(enc.indices)
        nets = pc.replace_with_mask(nets, v6, nets6)
    return hash_strings(nets)


def status_codes(status: pd.Series) -> np.ndarray:
    """Each request's status as its index in ``schema.STATUSES`` (int8)."""
    codes = pd.Categorical(status.astype(object), categories=list(S.STATUSES)).codes
    return codes.astype(np.int8)


def status_code(status: str) -> int:
    """The code :func:`status_codes` gives ``status``."""
    return S.STATUSES.index(status)


def model_key(name: str) -> np.uint64:
    """The ``MODEL_KEY`` of a model name (for comparing with the annotated column)."""
    return hash_strings(pa.array([name], pa.string()))[0]


def annotate(
    frame: pd.DataFrame,
    *,
    config: Config = DEFAULT,
    topic_model: object | None = None,
) -> pd.DataFrame:
    """Derive the per-request columns the features need and drop the raw text.

    Parameters
    ----------
    frame : clean chunk from :func:`detector.ingest.iter_clean`.
    topic_model : fitted :class:`detector.topics.TopicModel`; when given, every
        request gets a topic id (``-1`` without one).
    """
    out = pd.DataFrame(index=frame.index)
    # one string column only (Arrow-backed, no Python objects): the rest are numbers,
    # so a spilled bucket costs ~200 bytes per request
    out[S.ACCOUNT_ID] = frame[S.ACCOUNT_ID].astype(pd.ArrowDtype(pa.string())).to_numpy()
    ts = frame[S.TIMESTAMP]
    secs = ts.astype("int64").to_numpy() // 1_000_000_000
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
    if S.CLIENT_IP in frame.columns:
        out[IP_KEY] = hash_strings(as_arrow(frame[S.CLIENT_IP]))
        out[NETWORK_KEY] = network_of(as_arrow(frame[S.CLIENT_IP]))
    if S.USER_AGENT in frame.columns:
        ua = pc.utf8_lower(pc.fill_null(as_arrow(frame[S.USER_AGENT]), ""))
        out[UA_KEY] = hash_strings(ua)
        out[UA_GENERIC] = pc.match_substring_regex(ua, _GENERIC_UA).to_numpy(zero_copy_only=False)
    if S.PROMPT in frame.columns:
        _annotate_text(out, as_arrow(frame[S.PROMPT]), config, topic_model)
    for col, (dtype, default) in DEFAULTS.items():
        if col not in out.columns:
            out[col] = np.full(len(out), default, dtype=dtype)
    out[PROMPT_CHARS] = out[PROMPT_CHARS].astype(np.float64)
    return out


def _annotate_text(
    out: pd.DataFrame,
    prompt: pa.Array,
    config: Config,
    topic_model: object | None,
) -> None:
    window = prompt_window(prompt, config)
    # pyarrow compute releases the GIL: the regex scans share the machine's cores
    flags = _POOL.map(lambda p: pc.match_substring_regex(window, p), PATTERNS.values())
    for name, flag in zip(PATTERNS, flags, strict=True):
        out[name] = flag.to_numpy(zero_copy_only=False)
    out[PROMPT_CHARS] = pc.utf8_length(pc.fill_null(prompt, "")).to_numpy(zero_copy_only=False)
    out[PROMPT_KEY] = hash_strings(prompt)
    # templates are keyed on the first 100 and last 60 normalised characters: normalise
    # only a slightly larger head and tail instead of the whole window
    norm = _normalise_template(_lower_window(window, TEMPLATE_HEAD, TEMPLATE_TAIL))
    n = pc.utf8_length(norm)
    long = pc.greater(n, 160)
    key_text = pc.if_else(
        long,
        pc.binary_join_element_wise(
            pc.utf8_slice_codeunits(norm, 0, 100), pc.utf8_slice_codeunits(norm, -60), "…"
        ),
        norm,
    )
    out[TEMPLATE_KEY] = hash_strings(key_text)
    wrapped = pc.greater_equal(n, 48)
    empty = pa.scalar("", pa.string())
    out[PREFIX_KEY] = hash_strings(pc.if_else(wrapped, pc.utf8_slice_codeunits(norm, 0, 32), empty))
    out[SUFFIX_KEY] = hash_strings(pc.if_else(wrapped, pc.utf8_slice_codeunits(norm, -32), empty))
    if topic_model is not None:
        out[TOPIC] = topic_model.assign(topic_text(window))  # type: ignore[attr-defined]
    else:
        out[TOPIC] = np.full(len(out), -1, dtype=np.int16)
