"""Content: what the prompts ask for (from the prompt's head and tail, see annotate).

Code, reasoning, rubric grading, benchmark format -- what whole kinds of honest product
are made of -- and the three shares safety probing shows: harmful topics, jailbreak or
role-play override phrasing, refusals. A research organisation's red team shows those
three too, from established accounts; the harmful and jailbreak shares over the
requests an account sent while it was new are the probing family
(:mod:`detector.features.probing`).

**Novel prompts only.** Every share counts an exact prompt the account sends again
(a retry, a repeat) once: the share is the account's distinct flagged prompts over its
requests. And an account that runs a fixed suite -- most of its distinct prompts
re-run on another day or against another model (``Config.suite_rerun_share``), at a
temperature of at most ``Config.suite_max_temperature``, as permitted evaluation and
safety benchmarking do every night or when a new model ships -- has its
re-run prompts left out entirely: what it asks for is a benchmark's content, not new
answers. Extraction wants new answers and does not re-run a set, so a sweep of 3,000
new benchmark questions scores 100% where an evaluation company re-running its suite
scores near 0, however harmful or benchmark-like its prompts. Occasional repeats (a
finite prompt source drawn at random) leave an account's shares as they were.
Re-sending every prompt on a second day at temperature 0 would hide a sweep from these
shares, at twice its cost, for answers it already has, and in plain view of the volume
and diversity features; a prober re-sending its probes at a sampling temperature, to
draw an answer that gets through, is not a suite. Counting distinct
prompts needs no ordering, so the features stay invariant to row order.
"""

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
        name="code_share",
        family="content",
        unit="share",
        description="Share of requests that hold code or ask for code (a re-sent prompt counted once, "
        "a suite's re-run one not at all).",
        why="Code distillation pulls solutions at scale; with volume and pacing it separates "
        "from a coding assistant's interactive sessions.",
        needs=_P,
        neutral=0.0,
        scale="share",
        direction="high",
        reason="{value} of prompts are coding tasks",
    ),
    FeatureSpec(
        name="reasoning_share",
        family="content",
        unit="share",
        description="Share of requests that ask for step-by-step, internal or reconstructed reasoning "
        "(a re-sent prompt counted once, a suite's re-run one not at all).",
        why="Chain-of-thought elicitation is the core of reasoning distillation.",
        needs=_P,
        neutral=0.0,
        scale="share",
        direction="high",
        reason="{value} of prompts ask for step-by-step or internal reasoning",
    ),
    FeatureSpec(
        name="rubric_share",
        family="content",
        unit="share",
        description="Share of requests that ask to grade, rate or compare responses against a rubric "
        "(a re-sent prompt counted once, a suite's re-run one not at all).",
        why="Using the model as a reward model at scale is a form of extraction.",
        needs=_P,
        neutral=0.0,
        scale="share",
        direction="high",
        reason="{value} of prompts are rubric-grading tasks",
    ),
    FeatureSpec(
        name="bench_share",
        family="content",
        unit="share",
        description="Share of requests in benchmark format (multiple choice, 'final answer', Q/A; a "
        "re-sent prompt counted once, a suite's re-run one not at all), times the share of the "
        "window's days on which the account asked at least `bench_new_per_day` new ones.",
        why="Capability sweeps pull new benchmark items day after day; a researcher runs an "
        "evaluation on the days it needs one, and a suite re-runs the set it has.",
        needs=_P,
        neutral=0.0,
        scale="share",
        direction="high",
        reason="{value} of prompts are benchmark-style questions (× the days with new ones)",
    ),
    FeatureSpec(
        name="jailbreak_share",
        family="content",
        unit="share",
        description="Share of requests with jailbreak or role-play override phrasing (a re-sent prompt "
        "counted once, a suite's re-run one not at all).",
        why="Safety probing sweeps jailbreak techniques.",
        needs=_P,
        neutral=0.0,
        scale="share",
        direction="high",
        reason="{value} of prompts use jailbreak or role-play override phrasing",
    ),
    FeatureSpec(
        name="harmful_share",
        family="content",
        unit="share",
        description="Share of requests about clearly harmful topics (weapons, malware, fraud …; a "
        "re-sent prompt counted once, a suite's re-run one not at all).",
        why="Safety probing asks for harmful content across policy categories.",
        needs=_P,
        neutral=0.0,
        scale="share",
        direction="high",
        reason="{value} of prompts ask about harmful topics",
    ),
    FeatureSpec(
        name="refusal_share",
        family="content",
        unit="share",
        description="Share of requests the model refused (status 'refused'; with prompts in the log, a "
        "re-sent prompt counted once, a suite's re-run one not at all).",
        why="Probing and technique sweeps draw many refusals; product traffic rarely does.",
        needs=(S.STATUS,),
        neutral=0.0,
        scale="share",
        direction="high",
        reason="{value} of requests were refused",
    ),
]


@family("content", SPECS)
def content(b: Bucket) -> dict[str, np.ndarray]:
    """Shares of prompt intents over requests: each distinct prompt counted once, and
    prompts the account re-ran (on another day or model) not at all."""
    refused = b.col(A.STATUS_CODE) == A.status_code(S.STATUS_REFUSED)
    if not b.context.has(S.PROMPT):
        return {"refusal_share": agg.share(b.codes, refused, b.n)}
    out = {
        name: novel_share(b, b.col(flag))
        for name, flag in (
            ("code_share", A.IS_CODE),
            ("reasoning_share", A.ASKS_REASONING),
            ("rubric_share", A.IS_RUBRIC),
            ("bench_share", A.BENCH_STYLE),
            ("jailbreak_share", A.JAILBREAK),
            ("harmful_share", A.HARMFUL),
        )
    }
    out["refusal_share"] = novel_share(b, refused)
    per_day = b.context.config.bench_new_per_day
    if per_day is not None:
        # weighed by the days the account asked enough new benchmark items: the sustained
        # pull of a sweep, not the one- or two-day run of an evaluation
        c, prompt = b.codes, b.col(A.PROMPT_KEY)
        bench = (b.col(A.BENCH_STYLE) > 0) & ~b.suite_reruns
        days = agg.first_days(c[bench], prompt[bench], b.col(A.DAY)[bench], b.n, per_day)
        out["bench_share"] *= np.minimum(days / b.context.window_days, 1.0)
    return out


def novel_share(b: Bucket, mask: np.ndarray) -> np.ndarray:
    """Per account: its distinct prompts flagged by ``mask`` (a suite's re-runs left out),
    over its requests. Needs prompt text in the log."""
    fresh = np.asarray(mask, dtype=bool) & ~b.suite_reruns
    return agg.distinct_share(b.codes, fresh, b.col(A.PROMPT_KEY), b.n)
