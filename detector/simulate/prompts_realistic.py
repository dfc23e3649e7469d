"""Prompt makers of the realistic world (added to a :class:`~.prompts.PromptLibrary`).

Two ideas the default makers lack:

* **Plain content.** A competent distiller sends the instruction itself — the same
  kind of request a hobbyist or a product's user types, no "think step by step"
  wrapper — and generates synthetic data with templates that read like any data
  team's. Benign content farms, translation jobs and labelling platforms use the
  same grammar, so wording alone separates little.
* **Fixed suites.** An evaluation company re-runs the same questions every day and a
  safety team re-runs the same sensitive prompts when a model ships. A suite maker
  gives each account a fixed slice of a frozen pool and hands the account's k-th
  request of a call (of a day) the slice's k-th item, so a re-run repeats itself.

With a corpus, content comes from real prompts through the library's mixed
generators (``general``, ``code_task``, ``bench``, ``harm_req``).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from detector.simulate import vocab as V
from detector.simulate.ids import mix64
from detector.simulate.prompt_content import (
    CHAT,
    CODE_HELP,
    CODE_TASK,
    MATH_EXPR,
    SUPPORT,
    TUTOR,
    WORD_PROBLEM,
)
from detector.simulate.prompt_slots import C, S
from detector.simulate.prompt_wrappers import SAFETY_TECHNIQUES
from detector.simulate.prompts import Maker, PromptLibrary, per_account_choice
from detector.simulate.textgen import Choice, Gen, Repeat, Template, Vocab, assemble, freeze, groups

EVAL_POOL = 4000
"""Distinct items an evaluation company's suites are cut from."""
SAFETY_POOL = 1500
"""Distinct sensitive prompts safety benchmark suites are cut from."""

SYNTH_TEMPLATES = (
    "Generate {num} diverse questions that {audience} might ask an AI assistant about {topic}. Return a JSON array of strings.",
    "Write a realistic conversation between a user and a helpful AI assistant in which the user, {job}, wants to {chat_task}. Use the format 'User:' and 'Assistant:' and include {num} turns.",
    'Create {num} instruction and response pairs about {concept} in {field}. Output JSON lines with the keys "instruction" and "response".',
    "Rewrite the following request in {num} different ways, keeping its meaning and varying the wording:\n{content}",
    "Write an ideal, expert-quality response to the request below.\n\nRequest: {content}",
    "You are helping build a dataset of helpful answers. Request: {content}\nWrite the answer.",
    "Write a detailed answer to the following user question, as a knowledgeable {job} would.\n\n{content}",
    "Produce a high-quality reference answer for this prompt. Be thorough and well structured.\n\nPrompt: {content}",
    "Write {num} varied messages from {audience} asking for help with {activity}, one per line.",
    "Given the topic '{topic}' and the angle '{aspect}', write a question a student might ask and a complete, accurate answer.",
)

TRANSLATE_TEMPLATES = (
    "Translate the following text into {language}. Keep the formatting.\n\n{doc}",
    "Translate to {language}:\n\n{doc}",
    "You are a professional translator. Translate the text below from English into {language}, preserving names and numbers.\n\n<text>\n{doc}\n</text>",
    "Translate this product description into {language}: {para}",
)

LABEL_TEMPLATES = (
    "Classify the sentiment of this customer review as positive, negative or neutral. Reply with the label only.\n\nReview: {sentence}",
    "Label the following support ticket with one of these categories: billing, technical, account, shipping, other. Reply with the category name only.\n\nTicket: {ticket}",
    "Is the following comment toxic? Reply yes or no.\n\nComment: {sentence}",
    "Extract the product name and the problem from this message as JSON with the keys product and problem.\n\n{ticket}",
    "Query: {q}\nPassage: {para}\nIs the passage relevant to the query? Reply relevant or not relevant.",
    "Tag the named entities (PERSON, ORG, LOC, DATE) in the text below and list them as JSON.\n\n{para}",
)

CONTENT_TEMPLATES = (
    'Write a {c}-word SEO blog post about {topic} targeting the keyword "{topic2}". Use H2 headings and end with a call to action.',
    "Write an engaging product description for {product} for an online store. Include {num} bullet points of features.",
    'Write a {length} article titled "{num} things to know about {topic}" for {audience}.',
    "Write a newsletter introduction about {topic} in a {tone} tone.",
    "Create {num} social media captions promoting {product}.",
    "Write a meta description of at most 155 characters for a page about {topic}.",
    "Write a {length} FAQ section about {concept} for a {business} website.",
)

RESEARCH_TEMPLATES = (
    "{problem}\nLet's think step by step.",
    "Q: {problem}\nA:",
    "{problem}",
    "Answer the question and explain your reasoning.\n{problem}",
)


def suite_maker(pool: Vocab, salt: int) -> Maker:
    """A fixed slice of ``pool`` per account, walked in order from its start at every call.

    The engine makes one call per stream per day, so an account's k-th request of a
    day is always the same item: a daily suite, or a set re-run when a model ships.
    """
    size = len(pool.items)

    def make(rng: np.random.Generator, style: np.ndarray) -> pa.Array:
        style = np.asarray(style, dtype=np.uint64)
        order = np.argsort(style, kind="stable")
        ranked = style[order]
        first = np.flatnonzero(np.concatenate([[True], ranked[1:] != ranked[:-1]]))
        runs = np.diff(np.concatenate([first, [len(ranked)]]))
        rank = np.empty(len(style), dtype=np.int64)
        rank[order] = np.arange(len(style)) - np.repeat(first, runs)
        offset = (mix64(style ^ np.uint64(salt)) % np.uint64(size)).astype(np.int64)
        return pool.pick(offset + rank)

    return make


def subject_maker(subjects: list[Gen], salt: int) -> Maker:
    """One subject per account (by its style), then content from that subject's grammar.

    A classroom cohort shares a style, so all its students work on the same course.
    """

    def make(rng: np.random.Generator, style: np.ndarray) -> pa.Array:
        which = per_account_choice(rng, style, len(subjects), 1, salt)
        parts = [
            (rows, subjects[j].sample(rng, len(rows)))
            for j, rows in enumerate(groups(which, len(subjects)))
            if len(rows)
        ]
        return assemble(len(style), parts)

    return make


def add_realistic_makers(lib: PromptLibrary, seed: int) -> None:
    """Register the realistic world's makers on ``lib`` (its content, corpus included)."""
    rng = np.random.default_rng([seed, 7_778])
    problem = Choice([WORD_PROBLEM, MATH_EXPR], [0.6, 0.4])
    plain = Choice([lib.general, lib.code_task, CHAT, problem], [0.6, 0.17, 0.15, 0.08])
    jailbroken = Choice([Template(t, {**S, "req": lib.harm_req}) for t in SAFETY_TECHNIQUES])
    eval_items = Choice([lib.bench, lib.code_task, problem], [0.6, 0.2, 0.2])
    essay = C(
        "Give me feedback on my essay introduction: {sentence} {claim}.",
        "Help me outline an essay arguing that {claim}.",
        "Is this thesis statement strong enough? {claim}",
        "Explain {concept} in simpler words for my assignment.",
    )
    lib.register(
        {
            "plain": lib.plain(plain),
            "relay": lib.plain(Choice([lib.chat, CODE_HELP, lib.general], [0.7, 0.12, 0.18])),
            "synth_data": lib.wrapped(SYNTH_TEMPLATES, 2, 201, content=plain),
            "translate": lib.wrapped(
                TRANSLATE_TEMPLATES,
                2,
                202,
                doc=Repeat(lib.paragraphs, 1, 4, "\n\n"),
                para=lib.paragraphs,
            ),
            "labelling": lib.wrapped(
                LABEL_TEMPLATES, 2, 203, ticket=SUPPORT, para=lib.paragraphs, q=Vocab(V.HOWTOS)
            ),
            "seo": lib.wrapped(CONTENT_TEMPLATES, 3, 204),
            "eval_suite": suite_maker(freeze(eval_items, rng, EVAL_POOL), 205),
            "safety_suite": suite_maker(
                freeze(Choice([lib.harm_req, jailbroken], [0.75, 0.25]), rng, SAFETY_POOL), 206
            ),
            "course": subject_maker(
                [Choice([CODE_HELP, CODE_TASK], [0.7, 0.3]), TUTOR, essay], 207
            ),
            "research_eval": lib.wrapped(
                RESEARCH_TEMPLATES,
                2,
                208,
                problem=Choice([lib.bench, problem, lib.code_task], [0.5, 0.3, 0.2]),
            ),
        }
    )
