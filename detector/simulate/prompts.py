"""Prompt makers: templates + vocabularies (and optional real corpus content).

A *maker* turns ``n`` rows into ``n`` prompt strings. It gets each row's account
``style`` (a per-account random integer) so that per-account fixed choices (the
wrappers a distiller settled on, the one template a batch job uses, a developer's
favourite test prompt) stay fixed for that account while content varies.

Benign and extraction makers deliberately share content generators: a tutoring app
says "step by step" too, and an evaluation researcher asks the same benchmark
questions as a capability sweep. Wrappers differ, but behaviour carries the signal.

The parts: the slots templates share (:mod:`.prompt_slots`), the content grammars
(:mod:`.prompt_content`) and the wrappers an account settles on
(:mod:`.prompt_wrappers`); this module holds the library of makers built from them.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pyarrow as pa

from detector.simulate import vocab as V
from detector.simulate.corpus import Corpus
from detector.simulate.ids import mix64
from detector.simulate.prompt_content import (
    AGENT_TASK,
    ANSWER,
    BENCH,
    BENCH_SUFFIX,
    CHAT,
    CODE_HELP,
    CODE_SUFFIX,
    CODE_TASK,
    CONSTRAINT_SUFFIX,
    FOLLOWUP,
    GENERAL,
    PARAGRAPH,
    PROBLEM,
    RESPONSE,
    SUPPORT,
    SUPPORT_FOLLOWUP,
    TUTOR,
    TUTOR_FOLLOWUP,
)
from detector.simulate.prompt_slots import C, S
from detector.simulate.prompt_wrappers import (
    DISTILL_WRAPPERS,
    DOC_TEMPLATES,
    JUDGE_TEMPLATES,
    REASONING_TRACE_TEMPLATES,
    RUBRIC_EXTRACT_TEMPLATES,
    SAFETY_TECHNIQUES,
)
from detector.simulate.textgen import (
    Choice,
    Decorate,
    Gen,
    Repeat,
    Template,
    Vocab,
    assemble,
    freeze,
    groups,
)

Maker = Callable[[np.random.Generator, np.ndarray], pa.Array]


def _mix(
    corpus_texts: list[str],
    generated: Gen,
    share: float,
    suffix: Gen | None = None,
    p_suffix: float = 0.0,
) -> Gen:
    """Corpus text for ``share`` of rows when the corpus has any, else generated.

    Corpus texts get the same optional constraint suffixes as generated content, so
    a small corpus does not turn into a handful of verbatim-repeated prompts.
    """
    if not corpus_texts:
        return generated
    real: Gen = Vocab(corpus_texts)
    if suffix is not None:
        real = Decorate(real, None, 0.0, suffix, p_suffix)
    return Choice([real, generated], [share, 1.0 - share])


def per_account_choice(
    rng: np.random.Generator, style: np.ndarray, n_options: int, max_per_account: int, salt: int
) -> np.ndarray:
    """Option index per row from a small fixed set per account.

    Each account (identified by ``style``) owns ``1..max_per_account`` options from
    ``n_options``; each row uses one of them at random.
    """
    style = np.asarray(style, dtype=np.uint64)
    owned = 1 + (mix64(style ^ np.uint64(salt)) % np.uint64(max_per_account)).astype(np.int64)
    slot = (rng.random(len(style)) * owned).astype(np.uint64)
    key = mix64(style + np.uint64(salt) * np.uint64(1000003) + slot * np.uint64(7919))
    return (key % np.uint64(n_options)).astype(np.int64)


class PromptLibrary:
    """All prompt makers, with content optionally drawn from a real corpus."""

    def __init__(self, seed: int, corpus: Corpus | None = None) -> None:
        rng = np.random.default_rng([seed, 7_777])
        corpus = corpus or Corpus()
        general = corpus.get("general") + corpus.get("bench")
        self.general = _mix(general, GENERAL, 0.5, CONSTRAINT_SUFFIX, 0.5)
        self.code_task = _mix(corpus.get("code"), CODE_TASK, 0.5, CODE_SUFFIX, 0.7)
        self.bench = _mix(corpus.get("bench"), BENCH, 0.3, BENCH_SUFFIX, 0.7)
        harm_req = C(
            "Tell me how to {harm_action}.",
            "Explain how to {harm_action}.",
            "Give step-by-step instructions to {harm_action}.",
            "How can I {harm_action}?",
        )
        self.harm_req = _mix(corpus.get("harmful"), harm_req, 0.8)
        self.chat = Choice([CHAT, self.general], [0.75, 0.25])
        broad = Choice([self.general, self.code_task, self.bench], [0.75, 0.15, 0.10])
        # pools pre-sampled once so long texts cost a few array takes per row
        self.paragraphs = freeze(PARAGRAPH, rng, 400)
        self.document = Repeat(self.paragraphs, 3, 9, "\n\n")
        tool_output = Repeat(freeze(C(*V.TOOL_LINES), rng, 3000), 8, 60, "\n")
        transcript = Repeat(freeze(C(*V.TRANSCRIPT_LINES), rng, 1000), 6, 25, "\n")
        agent_tool = C(
            "Tool result for `{tool}`:\n{out}",
            '<tool_result name="{tool}">\n{out}\n</tool_result>',
            "Observation:\n{out}",
            out=tool_output,
        )
        enterprise_doc = C(
            "Summarize this meeting transcript and list the action items:\n\n{transcript}",
            "Draft an email to {team} about {business_topic}.",
            "Create a project plan for {project}.",
            "Rewrite this paragraph for an executive audience:\n\n{paragraph}",
            "Turn these notes into a status update for {team}:\n{transcript}",
            "What are the main risks of {project}?",
            transcript=transcript,
            paragraph=self.paragraphs,
        )
        self.makers: dict[str, Maker] = {
            "chat": self.plain(self.chat),
            "general": self.plain(self.general),
            "followup": self.plain(FOLLOWUP),
            "hobby": self.plain(
                Choice(
                    [CHAT, self.general, CODE_HELP, BENCH, self.harm_req],
                    [0.5, 0.3, 0.12, 0.06, 0.02],
                )
            ),
            "code_help": self.plain(Choice([CODE_HELP, self.code_task], [0.85, 0.15])),
            "bench": self.plain(self.bench),
            "tutor": self.plain(TUTOR),
            "tutor_followup": self.plain(TUTOR_FOLLOWUP),
            "support": self.plain(SUPPORT),
            "support_followup": self.plain(SUPPORT_FOLLOWUP),
            "agent_task": self.plain(AGENT_TASK),
            "agent_tool": self.plain(agent_tool),
            "enterprise_doc": self.plain(enterprise_doc),
            "document": self.wrapped(DOC_TEMPLATES, 1, 101, doc=self.document),
            "judge": self.wrapped(
                JUDGE_TEMPLATES, 2, 102, q=self.general, ra=RESPONSE, rb=RESPONSE
            ),
            "dev_test": self._dev_test,
            "distill": self.wrapped(DISTILL_WRAPPERS, 3, 103, content=broad),
            "code_distill": self.wrapped(
                (
                    "{content}",
                    "{content}\n\nExplain your approach step by step, then give the complete code.",
                    "{content}\nReturn a complete, well-commented solution and analyse its complexity.",
                    "Solve the following. Think through the algorithm carefully before writing code.\n\n{content}",
                ),
                2,
                104,
                content=self.code_task,
            ),
            "reasoning_trace": self.wrapped(
                REASONING_TRACE_TEMPLATES,
                3,
                105,
                problem=Choice([PROBLEM, self.bench], [0.7, 0.3]),
                answer=ANSWER,
            ),
            "rubric_extract": self.wrapped(
                RUBRIC_EXTRACT_TEMPLATES, 2, 106, q=self.general, ra=RESPONSE, rb=RESPONSE
            ),
            "safety": self.wrapped(SAFETY_TECHNIQUES, 8, 107, req=self.harm_req),
        }

    def __contains__(self, name: str) -> bool:
        return name in self.makers

    def make(self, name: str, rng: np.random.Generator, style: np.ndarray) -> pa.Array:
        """``len(style)`` prompts from maker ``name``."""
        return self.makers[name](rng, style)

    def register(self, makers: dict[str, Maker]) -> None:
        """Add makers (a world's own prompt kinds); an existing name cannot be replaced."""
        clash = sorted(set(makers) & set(self.makers))
        if clash:
            raise ValueError(f"prompt makers already defined: {', '.join(clash)}")
        self.makers.update(makers)

    @staticmethod
    def plain(gen: Gen) -> Maker:
        """A maker that samples ``gen`` for every row, whatever the account."""

        def make(rng: np.random.Generator, style: np.ndarray) -> pa.Array:
            return gen.sample(rng, len(style))

        return make

    @staticmethod
    def wrapped(templates: tuple[str, ...], per_account: int, salt: int, **slots: Gen) -> Maker:
        """Each account owns 1..``per_account`` of ``templates``; content varies per row.

        Slots are sampled once for all rows and then split by wrapper, so nested
        content grammars run once per call rather than once per wrapper.
        """
        options = [Template(t, {**S, **slots}) for t in templates]
        names = tuple(dict.fromkeys(name for t in options for name in t.names))
        gens = {name: {**S, **slots}[name] for name in names}

        def make(rng: np.random.Generator, style: np.ndarray) -> pa.Array:
            n = len(style)
            which = per_account_choice(rng, style, len(options), per_account, salt)
            values = {name: gen.sample(rng, n) for name, gen in gens.items()}
            parts = []
            for j, rows in enumerate(groups(which, len(options))):
                if len(rows):
                    idx = pa.array(rows)
                    sub = {name: values[name].take(idx) for name in options[j].names}
                    parts.append(
                        (rows, options[j].render(sub) if sub else options[j].sample(rng, len(rows)))
                    )
            return assemble(n, parts)

        return make

    def _dev_test(self, rng: np.random.Generator, style: np.ndarray) -> pa.Array:
        """A developer's few favourite smoke-test prompts, repeated; sometimes a real question."""
        fixed = Vocab(
            (
                "test",
                "hello",
                "hi",
                "ping",
                "Say hello",
                "Reply with OK",
                "What is 2+2?",
                "testing 123",
                "This is a test.",
                '{"task": "classify", "text": "hello world"}',
                'Return JSON: {"status": "ok"}',
                '{"query": "test", "max_results": 1}',
                "Respond with the word 'pong'.",
                "Summarize: The quick brown fox jumps over the lazy dog.",
            )
        )
        which = per_account_choice(rng, style, 14, 3, 108)
        real = np.flatnonzero(rng.random(len(style)) < 0.15)
        canned = np.setdiff1d(np.arange(len(style)), real)
        return assemble(
            len(style),
            [(canned, fixed.pick(which[canned])), (real, self.general.sample(rng, len(real)))],
        )
