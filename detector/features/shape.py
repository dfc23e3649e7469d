"""Request shape: turns, system prompts, token budgets, reasoning, endpoints, outcomes.

Sampling settings are deliberately *not* features. Temperature sweeps (distinct values,
spread) and log-probability requests are what research labs, evaluation companies and
labelling or judge platforms do every day; competent extraction takes the ordinary
temperature and no log-probabilities. Measured (docs/realistic-baseline.md, session 12),
scoring them cost PR-AUC 0.02-0.04 and a third of the flag precision on three
realistic populations, and the loud kinds they caught are caught by their content.
Temperature still splits an account into sub-streams (:mod:`detector.substreams`).
"""

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
        name="single_turn_share",
        family="shape",
        unit="share",
        description="Share of requests that open a conversation (turn_index 0).",
        why="Extraction sends independent one-shot prompts; products hold conversations.",
        needs=(S.TURN_INDEX,),
        neutral=1.0,
        scale="share",
        direction="high",
        reason="{value} of requests are single-turn",
    ),
    FeatureSpec(
        name="mean_turn_depth",
        family="shape",
        unit="count",
        description="Mean turn_index of requests.",
        why="Conversations go deep; scripted pulls stay at turn 0.",
        needs=(S.TURN_INDEX,),
        neutral=0.0,
        scale="log",
        direction="low",
        reason="mean turn depth only {value}",
    ),
    FeatureSpec(
        name="system_prompt_share",
        family="shape",
        unit="share",
        description="Share of requests with a system prompt.",
        why="Products set a system prompt; raw extraction scripts often do not.",
        needs=(S.SYSTEM_PROMPT_HASH,),
        neutral=0.0,
        scale="share",
        direction="low",
        reason="only {value} of requests carry a system prompt",
    ),
    FeatureSpec(
        name="distinct_system_prompts",
        family="shape",
        unit="count",
        description="Distinct system prompts used.",
        why="A product has a handful; a hydra member reuses the campaign's one.",
        needs=(S.SYSTEM_PROMPT_HASH,),
        neutral=0.0,
        scale="log",
        direction="both",
        reason="{value} distinct system prompts",
    ),
    FeatureSpec(
        name="output_input_ratio",
        family="shape",
        unit="ratio",
        description="Output tokens over input tokens.",
        why="Distillation wants long answers to short questions; pipelines read long inputs and answer briefly.",
        needs=(S.INPUT_TOKENS, S.OUTPUT_TOKENS),
        neutral=0.0,
        scale="log",
        direction="high",
        reason="{value} output tokens per input token",
    ),
    FeatureSpec(
        name="mean_output_tokens",
        family="shape",
        unit="tokens",
        description="Mean output tokens per request.",
        why="Long, complete answers are what a distillation set needs.",
        needs=(S.OUTPUT_TOKENS,),
        neutral=0.0,
        scale="log",
        direction="high",
        reason="{value} output tokens per request",
    ),
    FeatureSpec(
        name="mean_input_tokens",
        family="shape",
        unit="tokens",
        description="Mean input tokens per request.",
        why="Context size: agents and document pipelines send long inputs.",
        needs=(S.INPUT_TOKENS,),
        neutral=0.0,
        scale="log",
        direction="both",
        reason="{value} input tokens per request",
    ),
    FeatureSpec(
        name="max_tokens_level",
        family="shape",
        unit="tokens",
        description="Median max_tokens requested.",
        why="Extraction asks for the largest output budget.",
        needs=(S.MAX_TOKENS,),
        neutral=0.0,
        scale="log",
        direction="high",
        reason="median max_tokens {value}",
    ),
    FeatureSpec(
        name="cap_hit_share",
        family="shape",
        unit="share",
        description="Share of requests whose output reached max_tokens.",
        why="Answers cut at the cap: the caller wants as much text as it can get.",
        needs=(S.MAX_TOKENS, S.OUTPUT_TOKENS),
        neutral=0.0,
        scale="share",
        direction="high",
        reason="{value} of outputs hit max_tokens",
    ),
    FeatureSpec(
        name="thinking_share",
        family="shape",
        unit="share",
        description="Share of requests with extended reasoning enabled (with prompt text in the log, a "
        "re-sent prompt counted once).",
        why="Reasoning-trace extraction turns thinking on.",
        needs=(S.THINKING,),
        neutral=0.0,
        scale="share",
        direction="high",
        reason="{value} of requests enable extended thinking",
    ),
    FeatureSpec(
        name="endpoint_entropy",
        family="shape",
        unit="bits",
        description="Entropy of the endpoints used.",
        why="Products mix surfaces; a script hits one.",
        needs=(S.ENDPOINT,),
        neutral=0.0,
        scale="linear",
        direction="both",
        reason="endpoint entropy {value}",
    ),
    FeatureSpec(
        name="error_share",
        family="shape",
        unit="share",
        description="Share of requests that ended in error.",
        why="Development and broken clients error; a tuned extraction job rarely does.",
        needs=(S.STATUS,),
        neutral=0.0,
        scale="share",
        direction="low",
        reason="{value} of requests errored",
    ),
    FeatureSpec(
        name="rate_limited_share",
        family="shape",
        unit="share",
        description="Share of requests that were rate limited.",
        why="Accounts pushing at their quota all day get throttled.",
        needs=(S.STATUS,),
        neutral=0.0,
        scale="share",
        direction="high",
        reason="{value} of requests were rate limited",
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

    # a fixed evaluation suite re-run with thinking on is one request per prompt
    # (see the content family); without prompt text every request counts
    def per_prompt(flag: np.ndarray) -> np.ndarray:
        if ctx.has(S.PROMPT):
            return agg.distinct_share(c, flag, b.col(A.PROMPT_KEY), n)
        return agg.share(c, flag, n)

    if ctx.has(S.THINKING):
        out["thinking_share"] = per_prompt(b.col(S.THINKING))
    if ctx.has(S.ENDPOINT):
        out["endpoint_entropy"] = agg.top_share_and_entropy(c, b.col(A.ENDPOINT_KEY), n)[1]
    return out
