"""Request shape: turns, system prompts, token budgets, sampling settings, outcomes."""

from __future__ import annotations

import numpy as np

from detector import annotate as A
from detector import schema as S
from detector.features import agg
from detector.features.base import Bucket
from detector.features.registry import FeatureSpec, family

CAP_HIT = 0.98  # an output at 98% of max_tokens or more counts as hitting the cap

SPECS = [
    FeatureSpec(
        "single_turn_share",
        "shape",
        "share",
        "Share of requests that open a conversation (turn_index 0).",
        "Extraction sends independent one-shot prompts; products hold conversations.",
        (S.TURN_INDEX,),
        1.0,
        "share",
        "high",
        "{value} of requests are single-turn",
    ),
    FeatureSpec(
        "mean_turn_depth",
        "shape",
        "count",
        "Mean turn_index of requests.",
        "Conversations go deep; scripted pulls stay at turn 0.",
        (S.TURN_INDEX,),
        0.0,
        "log",
        "low",
        "mean turn depth only {value}",
    ),
    FeatureSpec(
        "system_prompt_share",
        "shape",
        "share",
        "Share of requests with a system prompt.",
        "Products set a system prompt; raw extraction scripts often do not.",
        (S.SYSTEM_PROMPT_HASH,),
        0.0,
        "share",
        "low",
        "only {value} of requests carry a system prompt",
    ),
    FeatureSpec(
        "distinct_system_prompts",
        "shape",
        "count",
        "Distinct system prompts used.",
        "A product has a handful; a hydra member reuses the campaign's one.",
        (S.SYSTEM_PROMPT_HASH,),
        0.0,
        "log",
        "both",
        "{value} distinct system prompts",
    ),
    FeatureSpec(
        "output_input_ratio",
        "shape",
        "ratio",
        "Output tokens over input tokens.",
        "Distillation wants long answers to short questions; pipelines read long inputs and answer briefly.",
        (S.INPUT_TOKENS, S.OUTPUT_TOKENS),
        0.0,
        "log",
        "high",
        "{value} output tokens per input token",
    ),
    FeatureSpec(
        "mean_output_tokens",
        "shape",
        "tokens",
        "Mean output tokens per request.",
        "Long, complete answers are what a distillation set needs.",
        (S.OUTPUT_TOKENS,),
        0.0,
        "log",
        "high",
        "{value} output tokens per request",
    ),
    FeatureSpec(
        "mean_input_tokens",
        "shape",
        "tokens",
        "Mean input tokens per request.",
        "Context size: agents and document pipelines send long inputs.",
        (S.INPUT_TOKENS,),
        0.0,
        "log",
        "both",
        "{value} input tokens per request",
    ),
    FeatureSpec(
        "max_tokens_level",
        "shape",
        "tokens",
        "Median max_tokens requested.",
        "Extraction asks for the largest output budget.",
        (S.MAX_TOKENS,),
        0.0,
        "log",
        "high",
        "median max_tokens {value}",
    ),
    FeatureSpec(
        "cap_hit_share",
        "shape",
        "share",
        "Share of requests whose output reached max_tokens.",
        "Answers cut at the cap: the caller wants as much text as it can get.",
        (S.MAX_TOKENS, S.OUTPUT_TOKENS),
        0.0,
        "share",
        "high",
        "{value} of outputs hit max_tokens",
    ),
    FeatureSpec(
        "temperature_variety",
        "shape",
        "count",
        "Distinct temperature values used.",
        "Temperature sweeps sample diverse answers for a training set.",
        (S.TEMPERATURE,),
        1.0,
        "log",
        "high",
        "{value} distinct temperatures (a sweep)",
    ),
    FeatureSpec(
        "temperature_std",
        "shape",
        "ratio",
        "Standard deviation of temperature.",
        "Sweeps spread temperatures; products fix one.",
        (S.TEMPERATURE,),
        0.0,
        "linear",
        "high",
        "temperature spread {value}",
        echo_of="temperature_variety",
    ),
    FeatureSpec(
        "thinking_share",
        "shape",
        "share",
        "Share of requests with extended reasoning enabled (with prompt text in the log, a "
        "re-sent prompt counted once).",
        "Reasoning-trace extraction turns thinking on.",
        (S.THINKING,),
        0.0,
        "share",
        "high",
        "{value} of requests enable extended thinking",
    ),
    FeatureSpec(
        "logprobs_share",
        "shape",
        "share",
        "Share of requests asking for token log-probabilities (with prompt text in the log, "
        "a re-sent prompt counted once).",
        "Log-probabilities are soft labels for distillation and calibration sweeps.",
        (S.LOGPROBS,),
        0.0,
        "share",
        "high",
        "{value} of requests ask for log-probabilities",
    ),
    FeatureSpec(
        "endpoint_entropy",
        "shape",
        "bits",
        "Entropy of the endpoints used.",
        "Products mix surfaces; a script hits one.",
        (S.ENDPOINT,),
        0.0,
        "linear",
        "both",
        "endpoint entropy {value}",
    ),
    FeatureSpec(
        "error_share",
        "shape",
        "share",
        "Share of requests that ended in error.",
        "Development and broken clients error; a tuned extraction job rarely does.",
        (S.STATUS,),
        0.0,
        "share",
        "low",
        "{value} of requests errored",
    ),
    FeatureSpec(
        "rate_limited_share",
        "shape",
        "share",
        "Share of requests that were rate limited.",
        "Accounts pushing at their quota all day get throttled.",
        (S.STATUS,),
        0.0,
        "share",
        "high",
        "{value} of requests were rate limited",
    ),
]


@family("shape", SPECS)
def shape(b: Bucket) -> dict[str, np.ndarray]:
    """Per-account request shape."""
    n, c, ctx = b.n, b.codes, b.context
    status = b.col(A.STATUS_CODE)
    out_tok = b.col(S.OUTPUT_TOKENS)
    in_tok = b.col(S.INPUT_TOKENS)
    out: dict[str, np.ndarray] = {
        "output_input_ratio": agg.total(c, out_tok, n) / np.maximum(agg.total(c, in_tok, n), 1.0),
        "mean_output_tokens": agg.mean(c, out_tok, n),
        "mean_input_tokens": agg.mean(c, in_tok, n),
        "error_share": agg.share(c, status == A.status_code(S.STATUS_ERROR), n),
        "rate_limited_share": agg.share(c, status == A.status_code(S.STATUS_RATE_LIMITED), n),
    }
    if ctx.has(S.TURN_INDEX):
        turn = b.col(S.TURN_INDEX)
        out["single_turn_share"] = agg.share(c, np.where(np.isnan(turn), np.nan, turn == 0), n, 1.0)
        out["mean_turn_depth"] = agg.mean(c, turn, n)
    if ctx.has(S.SYSTEM_PROMPT_HASH):
        key = b.col(A.SYSTEM_KEY)
        out["system_prompt_share"] = agg.share(c, key != 0, n)
        out["distinct_system_prompts"] = agg.nunique(c, key, n)
    if ctx.has(S.MAX_TOKENS):
        mt = b.col(S.MAX_TOKENS)
        out["max_tokens_level"] = agg.median(c, mt, n)
        hit = np.where(np.isnan(mt), np.nan, out_tok >= CAP_HIT * np.nan_to_num(mt, nan=np.inf))
        out["cap_hit_share"] = agg.share(c, hit, n)
    if ctx.has(S.TEMPERATURE):
        temp = b.col(S.TEMPERATURE)
        key = np.where(np.isnan(temp), 0, np.round(temp * 100) + 1).astype(np.uint64)
        out["temperature_variety"] = np.maximum(agg.nunique(c, key, n), 1.0)
        out["temperature_std"] = agg.std(c, temp, n)

    # a fixed evaluation suite re-run with logprobs or thinking is one request per prompt
    # (see the content family); without prompt text every request counts
    def per_prompt(flag: np.ndarray) -> np.ndarray:
        if ctx.has(S.PROMPT):
            return agg.distinct_share(c, flag, b.col(A.PROMPT_KEY), n)
        return agg.share(c, flag, n)

    if ctx.has(S.THINKING):
        out["thinking_share"] = per_prompt(b.col(S.THINKING))
    if ctx.has(S.LOGPROBS):
        out["logprobs_share"] = per_prompt(b.col(S.LOGPROBS))
    if ctx.has(S.ENDPOINT):
        out["endpoint_entropy"] = agg.top_share_and_entropy(c, b.col(A.ENDPOINT_KEY), n)[1]
    return out
