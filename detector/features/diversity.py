"""Diversity: how varied an account's prompts are, and how templated."""

from __future__ import annotations

import numpy as np

from detector import annotate as A
from detector import schema as S
from detector.config import HARVEST_TOPIC_BREADTHS
from detector.features import agg
from detector.features.base import Bucket
from detector.features.registry import FeatureSpec, family
from detector.features.volume import active_day_share

_P = (S.PROMPT,)
MIN_TOPIC_ROWS = 5

# Topic breadth is not a feature of its own (the share of all topics an account touches
# was 1.0 for every account with a few hundred varied prompts, a global chat product's as
# much as a distiller's: docs/realistic-baseline.md, session 17; the topics' entropy, a
# feature until session 35, grew with volume up to log2 of the topics and was a top
# reason enterprise and global chat accounts were flagged). Breadth counts in conjunction,
# as the *effective* share of topics (topic_breadth; session 22): with short questions
# drawing long answers (conversation.broad_harvest_share), and with new one-turn
# questions day after day (standalone_breadth; session 35).

SPECS = [
    FeatureSpec(
        name="distinct_prompt_ratio",
        family="diversity",
        unit="share",
        description="Distinct prompts over requests.",
        why="Extraction never asks the same thing twice; test loops and retries do.",
        needs=_P,
        neutral=1.0,
        scale="share",
        direction="high",
        reason="{value} of its prompts are distinct",
    ),
    FeatureSpec(
        name="top_template_share",
        family="diversity",
        unit="share",
        description="Share of prompts in the account's most common template (numbers, quoted spans and "
        "the middle of long prompts masked).",
        why="One fixed extraction prompt filled with varying content.",
        needs=_P,
        neutral=0.0,
        scale="share",
        direction="high",
        reason="{value} of prompts share one template",
    ),
    FeatureSpec(
        name="template_entropy",
        family="diversity",
        unit="bits",
        description="Entropy of the account's template distribution.",
        why="Few templates (pipelines, bots, scripts) versus free-form human prompts.",
        needs=_P,
        neutral=0.0,
        scale="linear",
        direction="high",
        reason="template entropy {value}",
    ),
    FeatureSpec(
        name="wrapper_reuse",
        family="diversity",
        unit="share",
        description="Share of prompts (48+ characters) that open or close with the account's most "
        "common 32-character prefix or suffix.",
        why="A fixed wrapper ('Think step by step…' + content) around varying questions.",
        needs=_P,
        neutral=0.0,
        scale="share",
        direction="high",
        reason="{value} of prompts reuse one fixed wrapper",
    ),
    FeatureSpec(
        name="standalone_breadth",
        family="diversity",
        unit="share",
        description="Share of requests that are a conversation of one turn (turn_index 0, no "
        "other turn in its conversation) with a prompt the account had not sent before (a "
        "suite's re-runs not at all), times the account's effective share of all topics (as "
        "in broad_harvest_share), times the share of the window's days it was active, times "
        "1 − its wrapper reuse.",
        why="A competent distiller paces like a person but does not converse: day after day "
        "it asks new standalone questions on every subject, with no wrapper. A person follows "
        "up and comes back on some days; chat products carry conversations; pipelines, "
        "labelling and grading wrap one task; suites re-run their set.",
        needs=(S.PROMPT, S.TURN_INDEX),
        neutral=0.0,
        scale="share",
        direction="high",
        reason="new standalone questions across many subjects, day after day "
        "(one-turn share × topic share × day share {value})",
    ),
]


def topic_breadth(b: Bucket) -> tuple[np.ndarray, np.ndarray]:
    """Per account: the entropy of its prompts' topics (bits) and its share of all
    topics, over the requests whose prompt has words (a topic); 0 for both under
    ``MIN_TOPIC_ROWS`` such requests (too few to say).

    The share is *effective* by default (``Config.harvest_topic_breadth``): the effective
    number of topics (``2 ** entropy``, the Hill number of order 1) over the number of
    topics. The distinct topics touched grow with volume -- a product centred on two or
    three subjects touches most topics once in a few hundred requests -- while the
    effective number counts a topic by its weight in the traffic, so only an account
    that spreads its prompts over many subjects scores high, as distillation does
    (docs/realistic-baseline.md, session 22). ``"touched"`` is the distinct topics'
    share, what bundles trained before then were fitted on.
    """
    n, c = b.n, b.codes
    topic = b.col(A.TOPIC).astype(np.int64)
    has_topic = topic >= 0
    tc, keys = c[has_topic], topic[has_topic].astype(np.uint64) + 1
    sampled = np.bincount(tc, minlength=n)
    _, t_ent = agg.top_share_and_entropy(tc, keys, n)
    n_topics = max(int(topic.max()) + 1 if len(topic) else 1, b.context.config.topic_clusters)
    how = b.context.config.harvest_topic_breadth
    if how == "effective":
        share = np.minimum(np.exp2(t_ent) / n_topics, 1.0)
    elif how == "touched":
        share = agg.nunique(tc, keys, n) / n_topics
    else:
        raise ValueError(f"harvest_topic_breadth must be one of {HARVEST_TOPIC_BREADTHS}: {how!r}")
    enough = sampled >= MIN_TOPIC_ROWS
    return np.where(enough, t_ent, 0.0), np.where(enough, share, 0.0)


def wrapper_reuse(b: Bucket) -> np.ndarray:
    """Per account: the share of its prompts (48+ characters) that open or close with its
    most common 32-character prefix or suffix (0 under 3 such prompts)."""
    n, c = b.n, b.codes
    pre, _ = agg.top_share_and_entropy(c, b.col(A.PREFIX_KEY), n)
    suf, _ = agg.top_share_and_entropy(c, b.col(A.SUFFIX_KEY), n)
    wrapped = agg.total(c, (b.col(A.PREFIX_KEY) != 0).astype(float), n)
    return np.where(
        wrapped >= 3, np.maximum(pre, suf) * wrapped / np.maximum(agg.count(c, n), 1), 0.0
    )


def standalone_breadth(b: Bucket, topic_share: np.ndarray, wrapper: np.ndarray) -> np.ndarray:
    """Per account: new prompts asked as conversations of one turn, over its requests,
    weighed by its effective topic share, its share of active days and 1 − its wrapper
    reuse ``wrapper`` (see the spec's why). Rows without a conversation id stand alone."""
    new_alone = b.one_turn & ~b.suite_reruns
    share = agg.distinct_share(b.codes, new_alone, b.col(A.PROMPT_KEY), b.n)
    return share * topic_share * active_day_share(b) * (1.0 - wrapper)


@family("diversity", SPECS)
def diversity(b: Bucket) -> dict[str, np.ndarray]:
    """Prompt repetition, templates, wrappers and new standalone questions."""
    if not b.context.has(S.PROMPT):
        return {}
    n, c = b.n, b.codes
    reqs = agg.count(c, n)
    distinct = agg.nunique(c, b.col(A.PROMPT_KEY), n)
    top, ent = agg.top_share_and_entropy(c, b.col(A.TEMPLATE_KEY), n)
    wrapper = wrapper_reuse(b)
    out = {
        "distinct_prompt_ratio": np.where(reqs > 0, distinct / np.maximum(reqs, 1), 1.0),
        "top_template_share": top,
        "template_entropy": ent,
        "wrapper_reuse": wrapper,
    }
    if b.context.has(S.TURN_INDEX):
        out["standalone_breadth"] = standalone_breadth(b, topic_breadth(b)[1], wrapper)
    return out
