"""Content: what the prompts ask for (from the prompt's head and tail, see annotate)."""

from __future__ import annotations

import numpy as np

from detector import annotate as A
from detector import schema as S
from detector.features import agg
from detector.features.base import Bucket
from detector.features.registry import FeatureSpec, family

_P = (S.PROMPT,)

SPECS = [
    FeatureSpec(
        "code_share",
        "content",
        "share",
        "Share of prompts that hold code or ask for code.",
        "Code distillation pulls solutions at scale; with volume and pacing it separates "
        "from a coding assistant's interactive sessions.",
        _P,
        0.0,
        "share",
        "high",
        "{value} of prompts are coding tasks",
    ),
    FeatureSpec(
        "reasoning_share",
        "content",
        "share",
        "Share of prompts that ask for step-by-step, internal or reconstructed reasoning.",
        "Chain-of-thought elicitation is the core of reasoning distillation.",
        _P,
        0.0,
        "share",
        "high",
        "{value} of prompts ask for step-by-step or internal reasoning",
    ),
    FeatureSpec(
        "rubric_share",
        "content",
        "share",
        "Share of prompts that ask to grade, rate or compare responses against a rubric.",
        "Using the model as a reward model at scale is a form of extraction.",
        _P,
        0.0,
        "share",
        "high",
        "{value} of prompts are rubric-grading tasks",
    ),
    FeatureSpec(
        "bench_share",
        "content",
        "share",
        "Share of prompts in benchmark format (multiple choice, 'final answer', Q/A).",
        "Capability sweeps run benchmark-style question sets.",
        _P,
        0.0,
        "share",
        "high",
        "{value} of prompts are benchmark-style questions",
    ),
    FeatureSpec(
        "jailbreak_share",
        "content",
        "share",
        "Share of prompts with jailbreak or role-play override phrasing.",
        "Safety probing sweeps jailbreak techniques.",
        _P,
        0.0,
        "share",
        "high",
        "{value} of prompts use jailbreak or role-play override phrasing",
    ),
    FeatureSpec(
        "harmful_share",
        "content",
        "share",
        "Share of prompts about clearly harmful topics (weapons, malware, fraud …).",
        "Safety probing asks for harmful content across policy categories.",
        _P,
        0.0,
        "share",
        "high",
        "{value} of prompts ask about harmful topics",
    ),
    FeatureSpec(
        "refusal_share",
        "content",
        "share",
        "Share of requests the model refused (status 'refused').",
        "Probing and technique sweeps draw many refusals; product traffic rarely does.",
        (S.STATUS,),
        0.0,
        "share",
        "high",
        "{value} of requests were refused",
    ),
]


@family("content", SPECS)
def content(b: Bucket) -> dict[str, np.ndarray]:
    """Shares of prompt intents, from the per-request text flags."""
    n, c = b.n, b.codes
    refused = b.col(A.STATUS_CODE) == A.status_code(S.STATUS_REFUSED)
    out = {"refusal_share": agg.share(c, refused, n)}
    if b.context.has(S.PROMPT):
        for name, flag in (
            ("code_share", A.IS_CODE),
            ("reasoning_share", A.ASKS_REASONING),
            ("rubric_share", A.IS_RUBRIC),
            ("bench_share", A.BENCH_STYLE),
            ("jailbreak_share", A.JAILBREAK),
            ("harmful_share", A.HARMFUL),
        ):
            out[name] = agg.share(c, b.col(flag), n)
    return out
