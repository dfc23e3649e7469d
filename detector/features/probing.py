"""Probing: what an account asks that the model should not answer, and how often it refuses.

Safety probing (a rival mapping where the model's refusals give way, jailbreak
techniques swept over a list of harmful requests) leaves little but its content: a
session of a few dozen requests in one evening, from a fresh account, at a human pace.
Its evidence is three shares -- harmful topics, jailbreak or role-play override phrasing,
refusals -- that ordinary products almost never reach together, while the other content
shares (code, reasoning, rubric, benchmark format) are what whole kinds of honest product
are made of. In one subspace with those, the isolation forest mostly isolates coding
assistants, graders and evaluators, and a prober far out on all three probing shares
counted for one family in eighteen. On a subspace of its own, weighing 2 in the blend
(`Config.family_weights`), it is scored on what it does.

Permitted safety benchmarking asks the same things, but it re-runs a fixed suite (on
another day, against a new model, at temperature 0): its re-runs are left out of these
shares exactly as from the content shares (:func:`detector.features.content.novel_share`),
so a benchmark's account scores near 0 however harmful its suite. Each distinct prompt
counts once.
"""

from __future__ import annotations

import numpy as np

from detector import annotate as A
from detector import schema as S
from detector.features import agg
from detector.features.base import Bucket
from detector.features.content import novel_share
from detector.features.registry import FeatureSpec, family

_P = (S.PROMPT,)

SPECS = [
    FeatureSpec(
        name="jailbreak_share",
        family="probing",
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
        family="probing",
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
        family="probing",
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


@family("probing", SPECS)
def probing(b: Bucket) -> dict[str, np.ndarray]:
    """The probing shares: harmful topics, jailbreak phrasing and refusals (without
    prompt text, refusals over all requests)."""
    refused = b.col(A.STATUS_CODE) == A.status_code(S.STATUS_REFUSED)
    if not b.context.has(S.PROMPT):
        return {"refusal_share": agg.share(b.codes, refused, b.n)}
    return {
        "jailbreak_share": novel_share(b, b.col(A.JAILBREAK)),
        "harmful_share": novel_share(b, b.col(A.HARMFUL)),
        "refusal_share": novel_share(b, refused),
    }
