"""Conversation: whether a person reads the answers, and what the account harvests.

Plain distillation run by a competent operator looks like a person in every single
request -- ordinary prompts, an official SDK, usual sampling settings -- and is caught
by what no single request shows: the next turn of a conversation arrives before
anyone could have read the previous answer, and short standalone questions on every
subject draw long,
complete answers, day after day. Both are measured here against physical rates (a
reading speed, a token budget), not against the population, so a small account and a
big product are judged by the same yardstick.
"""

from __future__ import annotations

import numpy as np

from detector import annotate as A
from detector import schema as S
from detector.config import DEFAULT
from detector.features import agg
from detector.features.base import Bucket
from detector.features.diversity import topic_breadth
from detector.features.registry import FeatureSpec, family

MAX_FOLLOWUP_GAP_S = 1800
"""A turn more than 30 minutes after the previous one resumes a conversation; its gap
says nothing about reading."""
MAX_TYPED_PROMPT_CHARS = 400
"""A turn longer than this is a tool result or a pasted document. A conversation holding
one is a program's loop (an agent sends the next turn at once, by design) or a document
task, so its follow-ups say nothing about whether a person reads."""

SPECS = [
    FeatureSpec(
        name="unread_followup_share",
        family="conversation",
        unit="share",
        description="Share of typed follow-up turns (turn_index > 0, within 30 minutes of the "
        "conversation's previous request; with prompt text in the log, only in "
        "conversations whose turns are all at most 400 characters, so an agent's tool "
        "loop does not count, and not a suite's re-runs; without it, only in conversations "
        f"that open on at most {DEFAULT.typed_context_tokens:,} input tokens) sent sooner than the "
        f"previous answer takes to read at {DEFAULT.reading_tokens_per_s:g} tokens a second "
        f"(neutral 0 under {DEFAULT.min_followups} such turns).",
        why="A person reads an answer before asking the next question; a script sends the next "
        "turn as soon as the last one returns.",
        needs=(S.TIMESTAMP, S.CONVERSATION_ID, S.TURN_INDEX, S.OUTPUT_TOKENS),
        neutral=0.0,
        scale="share",
        direction="high",
        reason="{value} of follow-ups came before the previous answer could be read",
    ),
    FeatureSpec(
        name="broad_harvest_share",
        family="conversation",
        unit="share",
        description="Share of requests that ask a short question -- at most "
        f"{DEFAULT.harvest_max_input_tokens} input tokens or, with prompt text and turns in "
        "the log, a conversation of one turn whose prompt has at most "
        f"{DEFAULT.harvest_max_prompt_chars} characters, whatever system prompt it carries "
        f"-- and drew {DEFAULT.harvest_min_output_tokens} or more output tokens, times the "
        "account's effective share of all topics (2 to the power of its topic entropy, "
        "over the number of topics: a topic counts by its weight in the traffic, not for "
        "being touched once) (with prompt text in the log; without it, times the "
        "coefficient of variation of those requests' input tokens, at most 1: a template's "
        "fill-ins vary little in length).",
        why="Distillation asks short standalone questions on every subject for long, "
        "complete answers; a content product also draws long answers from short prompts, "
        "but on its one task, chat carries its history and pipelines send documents.",
        needs=(S.INPUT_TOKENS, S.OUTPUT_TOKENS),
        neutral=0.0,
        scale="share",
        direction="high",
        reason="short questions across many subjects draw long answers "
        "(harvest share × effective topic share {value})",
    ),
]


def unread_followups(b: Bucket) -> tuple[np.ndarray, np.ndarray]:
    """Per account: timed follow-up turns, and how many came before a read was possible.

    Rows are ordered by (account, conversation, time); a follow-up's previous turn is
    the row before it when both share the account and the conversation. Vectorised:
    one lexsort and array comparisons, no loop over conversations.
    """
    n, c = b.n, b.codes
    conv = b.col(A.CONVERSATION_KEY)
    ts = b.col(A.TS)
    order = np.lexsort((ts, conv, c))
    cs, ks, tss = c[order], conv[order], ts[order]
    turn = np.nan_to_num(b.col(S.TURN_INDEX)[order], nan=0.0)
    out_tokens = np.nan_to_num(b.col(S.OUTPUT_TOKENS)[order].astype(np.float64))
    gap = np.diff(tss).astype(np.float64)
    followup = (
        (cs[1:] == cs[:-1])
        & (ks[1:] == ks[:-1])
        & (ks[1:] != 0)
        & (turn[1:] > 0)
        & (gap <= MAX_FOLLOWUP_GAP_S)
    )
    if b.context.has(S.PROMPT):
        # every turn short enough to have been typed (MAX_TYPED_PROMPT_CHARS)
        longest = per_conversation(cs, ks, b.col(A.PROMPT_CHARS)[order], np.maximum)
        followup &= (longest <= MAX_TYPED_PROMPT_CHARS)[1:]
        # a suite's re-run turns are a fixed multi-turn evaluation replayed by a harness
        followup &= ~b.suite_reruns[order][1:]
    elif b.context.config.typed_context_tokens > 0:
        # no text to measure the turns by: a conversation that opens on a program's
        # context (an agent's tools and workspace, a document) is not typed either; its
        # smallest turn is its opening, since later turns carry the history too
        opening = per_conversation(cs, ks, b.col(S.INPUT_TOKENS)[order], np.minimum)
        followup &= (opening <= b.context.config.typed_context_tokens)[1:]
    reading_s = out_tokens[:-1] / b.context.config.reading_tokens_per_s
    unread = followup & (gap < reading_s)
    timed = np.bincount(cs[1:][followup], minlength=n).astype(np.float64)
    fast = np.bincount(cs[1:][unread], minlength=n).astype(np.float64)
    return timed, fast


def per_conversation(
    codes: np.ndarray, conv: np.ndarray, values: np.ndarray, reduce: np.ufunc
) -> np.ndarray:
    """Per row (rows sorted by account then conversation): ``reduce`` (``np.maximum``,
    ``np.minimum``) of ``values`` over the row's conversation (NaN read as 0)."""
    if len(codes) == 0:
        return np.zeros(0, dtype=np.float64)
    starts = np.flatnonzero(np.r_[True, (codes[1:] != codes[:-1]) | (conv[1:] != conv[:-1])])
    per_conv = reduce.reduceat(np.nan_to_num(values.astype(np.float64), nan=0.0), starts)
    return np.repeat(per_conv, np.diff(np.r_[starts, len(codes)]))


def length_spread(codes: np.ndarray, lengths: np.ndarray, n: int) -> np.ndarray:
    """Per account: the coefficient of variation of ``lengths`` (standard deviation over
    mean), at most 1; 0 for an account without rows. Without prompt text it stands in for
    topic breadth: a template's fill-ins vary little in length, independent questions a
    lot."""
    mean = agg.mean(codes, lengths, n)
    spread = agg.std(codes, lengths, n) / np.maximum(mean, 1e-9)
    return np.where(mean > 0, np.minimum(spread, 1.0), 0.0)


def short_questions(b: Bucket) -> np.ndarray:
    """Per row: whether it asks a short question: at most ``harvest_max_input_tokens``
    input tokens, or (with prompt text and turn indices, ``harvest_max_prompt_chars`` set)
    the prompt of a conversation of one turn (rows without a conversation id stand alone)
    of 1 to that many characters. Input tokens also count the system prompt, so a
    boilerplate one would hide a distiller's short questions; a chat's openers, followed
    up, are conversations, not standalone questions."""
    cfg = b.context.config
    short = b.col(S.INPUT_TOKENS) <= cfg.harvest_max_input_tokens
    if cfg.harvest_max_prompt_chars is not None and b.context.has(S.PROMPT, S.TURN_INDEX):
        chars = b.col(A.PROMPT_CHARS)  # NaN without a prompt; 0 asks nothing
        short |= b.one_turn & (chars > 0) & (chars <= cfg.harvest_max_prompt_chars)
    return short


@family("conversation", SPECS)
def conversation(b: Bucket) -> dict[str, np.ndarray]:
    """Unread follow-ups and answer harvesting per account.

    Harvesting is weighted by topic breadth: the plain share of short prompts drawing
    long answers flagged content-generation products (27-44% of them on realistic
    populations), whose one templated task fills every request; across all subjects it
    is what distillation does (docs/realistic-baseline.md, session 11)."""
    n, c, cfg = b.n, b.codes, b.context.config
    out: dict[str, np.ndarray] = {}
    if b.context.has(S.CONVERSATION_ID, S.TURN_INDEX):
        timed, fast = unread_followups(b)
        out["unread_followup_share"] = np.where(
            timed >= cfg.min_followups, fast / np.maximum(timed, 1), 0.0
        )
    harvest = short_questions(b) & (b.col(S.OUTPUT_TOKENS) >= cfg.harvest_min_output_tokens)
    harvested = agg.share(c, harvest, n)
    if b.context.has(S.PROMPT):
        harvested = harvested * topic_breadth(b)[1]
    elif cfg.harvest_length_spread:
        harvested = harvested * length_spread(c[harvest], b.col(S.INPUT_TOKENS)[harvest], n)
    out["broad_harvest_share"] = harvested
    return out
