"""Probing: harmful requests and jailbreak phrasing from an account while it was new.

Safety probing (a rival mapping where the model's refusals give way, jailbreak
techniques swept over a list of harmful requests) leaves little but its content: a
session of a few dozen requests in one evening, from a fresh account, at a human pace.
Its content shows in the content family's shares of harmful topics, jailbreak or
role-play override phrasing and refusals (:mod:`detector.features.content`) -- but so
does a research organisation's red team, probing the same models from accounts months
old (permitted safety benchmarking re-runs its suite, and the shares leave re-runs out).

In a subspace of their own, weighing 2 in the blend (`Config.family_weights`), those
three shares isolated a red-team account exactly as fast as a prober: an isolation
forest isolates a point extreme on any of its axes, so "harmful *and* new" was not
something it could say, and weighing the family more flagged the red teams
(docs/realistic-baseline.md, sessions 36 and 40). So this family holds the conjunction
itself: the harmful and jailbreak shares counted over the requests an account sent while
it was under :data:`~detector.features.account.NEW_ACCOUNT_DAYS` old -- 0 for an
established account however it probes, and 0 without ``created_at`` for it (unknown is
not new). The plain shares stay in the content family, where an established account's
probing still counts as content. Refusals are left out here: ordinary traffic draws a
few at random, and among new accounts, nearly all at 0 here, one refusal in a hundred
requests was enough to set a classroom account apart from its cohort (session 41).
Each distinct prompt counts once and a suite's re-runs not at all, as in the content
shares.
"""

from __future__ import annotations

import numpy as np

from detector import annotate as A
from detector import schema as S
from detector.features.account import NEW_ACCOUNT_DAYS, sent_while_new
from detector.features.base import Bucket
from detector.features.content import novel_share
from detector.features.registry import FeatureSpec, family

_WHAT = (  # (share, its flag, what its requests do, what its reason says)
    ("jailbreak", A.JAILBREAK, "use jailbreak or role-play override phrasing",
     "used jailbreak phrasing"),
    ("harmful", A.HARMFUL, "ask about clearly harmful topics (weapons, malware, fraud …)",
     "asked about harmful topics"),
)  # fmt: skip


def _name(what: str) -> str:
    return f"new_account_{what}_share"


SPECS = [
    FeatureSpec(
        name=_name(what),
        family="probing",
        unit="share",
        description=f"Share of requests that {text} and were sent while the account was "
        f"under {NEW_ACCOUNT_DAYS:g} days old (a re-sent prompt counted once, a suite's "
        "re-run one not at all; 0 for an established account or one without created_at).",
        why="Safety probing burns fresh accounts; a red team or a benchmark probes from "
        "established ones.",
        needs=(S.PROMPT, S.CREATED_AT),
        neutral=0.0,
        scale="share",
        direction="high",
        reason="{value} of requests " + said + " while the account was new",
        # a new account's whole window is sent while new: both shares say one thing, and
        # its reasons said it twice ("20% ... while the account was new; 20% of prompts ...")
        echo_of=f"{what}_share",
    )
    for what, _, text, said in _WHAT
]


@family("probing", SPECS)
def probing(b: Bucket) -> dict[str, np.ndarray]:
    """The content family's harmful and jailbreak shares over the requests sent while the
    account was new."""
    young = sent_while_new(b)
    if young is None or not b.context.has(S.PROMPT):
        return {}
    return {_name(what): novel_share(b, (b.col(flag) > 0) & young) for what, flag, _, _ in _WHAT}
