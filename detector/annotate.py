"""Per-request derived columns, computed once per request in one vectorised pass.

Text heuristics run on Arrow string arrays with RE2 regular expressions
(``pyarrow.compute``), over the prompt's head and tail only: extraction wrappers,
instructions and answer formats sit at the start or the end of a prompt, while the
middle of a long prompt is usually an inserted document. That bounds the cost of a
request to ``Config.text_head_chars + Config.text_tail_chars`` characters.

The output is a slim frame (no prompt text; strings turned into 64-bit hashes) that
the account-hash buckets are spilled in and the feature families read. Its column
names are defined here and nowhere else.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from typing import Final

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from detector import schema as S
from detector.arrowtext import (
    as_arrow,
    distinct_texts,
    hash_each,
    hash_strings,
    head_and_tail,
    head_chars,
    tail_chars,
)
from detector.config import DEFAULT, Config
from detector.netaddr import network_names

# --- annotated column names (one home) -------------------------------------------------
TS: Final = "ts"  # int64 seconds since epoch (UTC)
HOUR: Final = "hour"
WEEKDAY: Final = "weekday"
DAY: Final = "day"  # int days since epoch
IS_CODE: Final = "is_code"
ASKS_REASONING: Final = "asks_reasoning"
IS_RUBRIC: Final = "is_rubric"
BENCH_STYLE: Final = "bench_style"
JAILBREAK: Final = "jailbreak"
HARMFUL: Final = "harmful"
PROMPT_CHARS: Final = "prompt_chars"
PROMPT_KEY: Final = "prompt_key"
TEMPLATE_KEY: Final = "template_key"
PREFIX_KEY: Final = "prefix_key"
SUFFIX_KEY: Final = "suffix_key"
TOPIC: Final = "topic"
NETWORK_KEY: Final = "network_key"
IP_KEY: Final = "ip_key"
UA_KEY: Final = "ua_key"
UA_GENERIC: Final = "ua_generic"
SYSTEM_KEY: Final = "system_key"
MODEL_KEY: Final = "model_key"
STATUS_CODE: Final = "status_code"  # index into schema.STATUSES
ENDPOINT_KEY: Final = "endpoint_key"
CONVERSATION_KEY: Final = "conversation_key"
LABEL_ROW: Final = "label_row"
"""True on the first request of each (account, user agent, network, system prompt) in a
chunk: only those rows carry the texts below, so a sub-stream (detector.substreams) can
be named in reasons while the other rows cost a few bytes (an empty string)."""
UA_TEXT: Final = "ua_text"
NETWORK_TEXT: Final = "network_text"
SYSTEM_TEXT: Final = "system_text"
LABEL_TEXTS: Final = (UA_TEXT, NETWORK_TEXT, SYSTEM_TEXT)
LABEL_CHARS: Final = 120
"""Longest user agent or system prompt hash kept for naming a sub-stream."""
TEMPLATE_HEAD: Final = 140
TEMPLATE_TAIL: Final = 80
TOPIC_CHARS: Final = 240
TEXT_FLAGS: Final = (IS_CODE, ASKS_REASONING, IS_RUBRIC, BENCH_STYLE, JAILBREAK, HARMFUL)

# Every annotated frame has every column, so buckets spilled from files with different
# optional columns share one schema; a value from a missing source column is "unknown".
_F = np.float64
DEFAULTS: Final[dict[str, tuple[type | str, object]]] = {
    S.MAX_TOKENS: (_F, np.nan),
    S.TEMPERATURE: (_F, np.nan),
    S.TURN_INDEX: (_F, np.nan),
    S.LOGPROBS: (_F, np.nan),
    S.THINKING: (_F, np.nan),
    ENDPOINT_KEY: (np.uint64, 0),
    SYSTEM_KEY: (np.uint64, 0),
    CONVERSATION_KEY: (np.uint64, 0),
    IP_KEY: (np.uint64, 0),
    NETWORK_KEY: (np.uint64, 0),
    UA_KEY: (np.uint64, 0),
    UA_GENERIC: (bool, False),
    LABEL_ROW: (bool, False),
    **{flag: (bool, False) for flag in TEXT_FLAGS},
    PROMPT_CHARS: (_F, np.nan),
    PROMPT_KEY: (np.uint64, 0),
    TEMPLATE_KEY: (np.uint64, 0),
    PREFIX_KEY: (np.uint64, 0),
    SUFFIX_KEY: (np.uint64, 0),
    TOPIC: (np.int16, -1),
}

# --- text detectors (RE2 syntax, applied to lower-cased head+tail) ----------------------
#
# Each flag is one RE2 alternation built from commented arms. RE2 has no look-around,
# so an ambiguous word is never matched alone: it needs the context that makes it mean
# what the flag is about ("script that/to", not "script for a radio ad"; "make a bomb",
# not "bath bomb"). Every arm was checked against real prompts nobody on this project
# wrote (../shared/corpora) and against what ordinary products send; the measured
# shares, and the false positives each change removed, are in docs/text-heuristics.md,
# and tests/test_text_heuristics.py holds every flag to recall floors and
# false-positive ceilings on both.
#
# Cost: these run on every request. RE2 scans each prompt once per flag with a lazily
# built DFA, so the cost is one pass per flag unless arms that stay open across text (a
# "[^\n]*" or a counted "{0,80}") combine into many DFA states: two counted gaps in one
# flag once made it 40x slower. Keep gaps unbounded within a clause ("[^.?!\n]*") and word
# skips short ("( \w+)?"), and time a change (docs/text-heuristics.md says how).


def _any(*arms: str) -> str:
    """One RE2 alternation of ``arms`` (each arm a self-contained expression)."""
    return "|".join(arms)


# programming languages whose names are not also common English words
_PLAIN_LANG = (
    r"python|javascript|typescript|java|c\+\+|c#|golang|sql|html|css|php|kotlin|scala|"
    r"haskell|matlab|powershell|perl|vba|solidity|fortran|cobol|node\.?js"
)
# ... and all of them: "go", "rust", "swift", "shell", "bash", "ruby", "r" are words too,
# so these only count next to a code verb or a code noun
_ANY_LANG = _PLAIN_LANG + r"|go|rust|swift|shell|bash|ruby|r"
# nouns that are code only right after a code verb and followed by what a program does
# ("write a script that ...", "implement a function to ...") or after a language: "a script
# for a radio ad", "a training program for beginners", "a code of conduct", "the function
# of the liver", "the customer query in Spanish" are not code
_CODE_NOUN = r"function|program|script|code|class|method|endpoint|module|api"
_CODE_VERB = r"write|implement|fix|debug|refactor|develop|optimi[sz]e|complete|rewrite|convert|port|translate|migrate|solve|code"

_CODE: Final = _any(
    r"```",  # a fenced block
    r"\bdef [a-z_]\w*\s*\(",  # Python function
    r"\bclass [a-z_]\w*(\(|\s*\{|\s+(extends|implements) )",  # Python / Java / JS class
    r"\bclass [a-z_]\w*:\s*\n[ \t]+\S",  # "class Foo:" and an indented body ("class notes:" is prose)
    r"#include\s*<",
    r"(^|\n)\s*(from [\w.]+ import \w|import [\w.]+\s*(,|;|\n|$| as \w))",  # imports at a line start ("Import the data ..." is prose)
    r"\bimport \{|\bimport \w+ from ['\x22]",  # JS imports
    r"\bfunction(\s+\w+)?\s*\([^)\n]*\)\s*\{",  # JS function with a body
    r"\bconsole\.log\(|\bprint\(|\bprintf\(|\bfn \w+\s*\(|\bpublic static\b",
    r"\b[a-z_]\w*\.[a-z_]\w*\(",  # a method call: requests.get(, items.reduce(
    r"(^|\n)[ \t]*for \w+(, \w+)? in [\w.()\[\], ]+:[ \t]*(\n|$)",  # a Python for loop ("for details in brief: ..." is prose)
    # SQL: "select the oldest person from the list", "select a, b, c or d" are prose
    r"\bselect\s+(\*|distinct\s|count\()|\bselect\s+[\w.]+(\s*,\s*[\w.]+)*\s+from\s+[\w.]+\s*(where|group|order|join|limit|inner|left|;|\n|$)",
    r"traceback \(most recent call last\)|\w+(error|exception):",
    r"(\)|'|\x22)\s*=>|\(\w+\s*=>",  # arrow functions and PHP arrays, not "Apple => AAPL"
    r"(\)|\belse|\bdo|\btry|=)\s*\{\s*\n|\b(struct|interface|enum|impl|namespace)\s+\w+\s*\{",  # a block opens (a JSON example does not)
    r"(\)|\]|'|\x22|\d|\+\+|--)\s*;[ \t]*(\n|$)",  # a C-like statement ends ("shall deliver;" in a contract does not)
    r"\n[ \t]+return\b|\{\s*return\b|\breturn\s*;\s*(\n|\}|$)",  # return inside a block ("Return JSON with ..." is an instruction)
    r">>> \w",  # doctest / REPL
    # asking for code: a code verb with a code artefact right after it ("write a python
    # function that ...", "implement a binary search algorithm"; "a description of the
    # program in 100 words" is not), or anywhere in the clause a programming language, a
    # regex or unit tests ("implement a queue using two stacks in Python")
    rf"\b({_CODE_VERB})( me| us)? (an? |the |this |that |some |my |our )?([\w+#-]+ ){{0,2}}(({_CODE_NOUN})s? (that|which|to|in|using|for (an? |the )?(given|list|array|string|number|file|binary|linked|matrix|tree|graph|integer))\b|algorithms?\b)",
    rf"\b({_CODE_VERB}|how (do|can|would|should|to))\b[^.?!\n]*\b(regex|regular expression|unit tests?\b|(in|into|using) ({_ANY_LANG})\b|with ({_PLAIN_LANG})\b|({_CODE_NOUN}|snippet|it|this) (to|into) ({_ANY_LANG})\b)",
    rf"\b({_PLAIN_LANG}) ({_CODE_NOUN}|quer(y|ies)|snippet|implementation|algorithm|one-liner|solution|command|syntax)s?\b",
    r"\b(go|rust|shell|bash|ruby|r|latex) (function|program|script|code|class|method|snippet|implementation|module|command|one-liner)s?\b",
    r"\bswift (function|program|script|class|method|snippet|implementation|module)s?\b",  # a SWIFT code is a bank's
    r"\b(docstrings?|type (hints|annotations)|unit tests?|regex(es)?|regular expressions?|stack ?trace|segmentation fault|null ?pointer|compiler error|syntax error|leetcode|competitive programming|programming (problem|challenge|exercise)|coding (problem|challenge|interview|exercise)|time complexity)\b",
)

_REASONING: Final = _any(
    # "step by step" is reasoning when it qualifies thinking or an answer, or closes the
    # request; "step-by-step instructions/guide" is a procedure (recipes, setup help)
    r"\b(think|solve|explain|reason|work|answer|go|calculate|compute|derive|justify|show|break)\w*( (it|this|them|that|everything|out|the \w+|(it|this|them) out|through( it| this)?))? step[- ]by[- ]step",
    r"step[- ]by[- ]step (reasoning|solution|explanation|derivation|thinking|working|thought|analysis|breakdown|justification|rationale|approach)",
    r"step[- ]by[- ]step\s*($|[.,;:!)\]\n])",
    r"show (me )?(your|all|the|every|each|all (of )?your) ?(work|working|steps|reasoning|thinking)",
    r"show (every|each|all( the)?) (intermediate )?steps?",
    r"explain (your|each) (reasoning|thinking|thought|logic|steps?|answer)|explain the (reasoning|thought process)",
    r"(reasoning|thought|thinking) process|chain[- ]of[- ](thought|reasoning)|chain of (thought|reasoning)|scratchpad",
    r"think (carefully|logically|aloud|out loud|step|through|(it|this|things) through)",
    r"(internal|hidden|underlying|full|complete|detailed|entire|intermediate) (reasoning|thoughts|thinking|derivation)",
    r"write (out )?(the|a|your) (\w+ )?derivation|(detailed|full|complete|step-by-step) rationale",
    r"walk (me )?through (your|the) (reasoning|logic|thinking|solution|thought)|walk (me )?through your (steps|work)",
    r"reasoning (that leads|leading|trace)|reasoning behind (your|the|this|each) (answer|choice|solution|conclusion)",
    r"(articulate|reconstruct) (the|your) (\w+ )?(reasoning|thinking|thought|logic|steps|chain|derivation)",
    r"justify (your|each) |justify the (answer|choice|result|solution|claim)|through your reasoning",
    r"reason (carefully|through|step|it out|about each)|explain how you (got|arrived|reached)",
    r"derive (the|this) (formula|equation|expression|result|answer|solution|identity|relation)",
)

_RUBRIC: Final = _any(
    r"rubric|\bgrade (the|this|these|each|following)|\bscore (the|this|these|each|following)",
    r"\brate (this|these|each|how|the (following|response|answer|quality|output|reply|essay|summary|translation|completion))",  # not "the rate the bank gives"
    r"on a scale (of|from)|\b(score|rating|grade)s? (between|from) [01]\b|score (it |them )?out of",
    r"\b(scale|score|rating|rate|grade)( it| them| each| this| the \w+)? (of |from |between |on a )?[01]\s*(-|to|and)\s*(5|7|10|100)\b",  # "1 to 5" alone is any range
    r"(which|what) (response|answer|output|completion|summary) is (better|more)",
    # two labelled candidates: "Response A:", "[Response B]", "Assistant A's answer"
    # ("output 1 for spam", "answer a question" are not)
    r"\b(response|answer|completion|assistant|candidate|summary) ?\(?[ab12]\)?(\s*(:|\]|\n|$)|'s| (and|or|vs\.?|versus|is|was|better|wins)\b)",
    r"\boutput \(?[ab]\)?\s*:",
    r"evaluate (the|this|these|each) (response|answer|output|completion|essay|summary|translation|reply)",
    r"(does|did) the (response|answer|output|assistant|model) (follow|answer|address|satisfy|meet|comply)",
    r"\bjudge (the|this|which|whether)|(impartial|fair) judge|reward model",
    r"pairwise (comparison|preference|evaluation|judg|ranking)|preference between",
)

_BENCH: Final = _any(
    r"final answer|\\boxed",
    # a question/answer pair that opens the prompt, as benchmark harnesses send it; a RAG
    # prompt puts its context first, and "Answer:" alone closes many few-shot templates
    r"^\s*(question|q)\s*\d*\s*:(?s:.*)(\n\s*(answer|a)|\sanswer)\s*:",
    # options: two consecutive lettered lines, an option then an answer slot, or inline (a) (b)
    r"(^|\n)\s*\(?[a-e][.)]\s*\S[^\n]*\n\s*(\(?[b-f][.)]\s*\S|answer\s*:)",
    r"\(a\)[^\n(]*\(b\)",
    r"which of the following (is|are|was|were|best|most|would|could|can|does|do|statements?|options?|choices?|answers?|describes)\b",
    r"(choose|select|pick) the (correct|best|right) (answer|option|choice|one|letter|response|statement)",
    r"(following|this|next|below) (is |are )?(an? )?multiple[- ]choice|multiple[- ]choice questions? \(",
    r"true or false\s*[:?]|true or false (question|statement)|\(true/false\)",
    r"(answer|respond|reply) with (only |just )?(the |a single |a |one )?(letter|option|choice)\b|(only|just) (the|a) (letter|option)\b",
    r"options?:\s*\n?\s*\(?a[.)]",
)

_JAILBREAK: Final = _any(
    r"ignore (all |any |the |your )?(previous|prior|above|earlier|preceding) (instructions|prompts|rules|guidelines)",
    r"do anything now|jailbr(eak|oken)|\bdan (mode|prompt)|\b(called|named|known as|you are|you're|act as|be)( a)? dan\b",  # "Dan" is a name
    r"developer mode (enabled|output|response|activated)|(you are|you're|you will be|stay) (now )?in developer mode|simulate developer mode",  # not "developer mode on my Android"
    # an AI or persona without limits ("no limits on data", "no dietary restrictions" are not)
    r"\b(ai|assistant|chatbot|model|bot|gpt|persona|character)( \w+)? (without|with no|has no|free (of|from)) (any )?(restrictions|filters|censorship|limitations|limits|rules|guidelines|ethic\w*|moral\w*|boundaries|content polic\w*)",
    r"\byou (now )?(have no|are free (of|from)|are without) (any )?(restrictions|filters|censorship|limitations|limits|rules|guidelines|ethic\w*|moral\w*|boundaries)",
    r"(no|without( any)?) (ethical|moral) (guidelines|constraints|restrictions|limits|boundaries|principles)|without (any )?censorship|with no (ethics|morals)",
    r"never refuses?|ignores? (the|your|all|any) (content|safety) (policy|policies|filters?|guidelines)|safety filters? (are )?(disabled|off|removed)",
    r"start your (reply|response|answer) with .?(sure|absolutely|of course|certainly)",
    r"you are now (an? )?(unrestricted|unfiltered|uncensored|free|freed|jailbroken|evil|dan\b|aim\b|in (developer|god|jailbreak|unrestricted|dan) mode)",
    r"(unfiltered|uncensored) (ai|assistant|chatbot|model|response|answer|reply|version of (you|yourself|chatgpt))",  # not unfiltered olive oil
    r"hypothetically speaking|purely (theoretical|hypothetical)|in a fictional (world|setting|universe) where",
    r"(villain|character|antagonist)( \w+){0,2} (explains|describes|reveals) (in detail )?how to",
    r"opposite mode|evil (ai|assistant|bot|twin|confidant)|bypass (your|the|any) (safety|content|filter|guard)",
    r"(respond|reply|answer|write|output|speak|talk)( only| back| entirely)? in (base64|rot13|leetspeak)|only in (base64|rot13|leetspeak)|(base64|rot13)[- ]encoded (question|request|prompt|instructions|message)",  # not "decode base64 in Go"
    r"(my|are|be) (late |dead |deceased )?grand(ma|mother)( \w+){0,3} (used to|worked)",
    r"as an ai with no|you have been freed|anti-?gpt|\baim\b:",
)

# whole words or phrases (one \b( ... )\b around them all)
_HARMFUL_TERMS = _any(
    # weapons and violence (made or used, not a bath bomb or a game's best weapon)
    r"(make|making|made|build|building|construct\w*|create|creating|plant|planting|detonat\w*|assembl\w*|homemade|pipe|car|nail|dirty) (an? |the |some )?bombs?|bombs? (threat|attack|making)",
    r"explosives?|firearms?|(chemical|biological|nuclear|radiological|improvised|untraceable|3d[- ]printed|homemade|deadly) weapons?|weapons? of mass destruction|weaponi[sz]\w*",
    r"(make|making|build|building|design|create|creating|buy|buying|sell|selling|sells|acquire|obtain|modify) (an? |the |some )?(\w+ )?weapons?",
    r"poison (a|an|the|someone|somebody|people|him|her|them|my|his|their|your)|poisoning (someone|a person|people|him|her|the water)|(deadly|lethal|undetectable) poisons?",  # not food poisoning
    r"murder|assassinat\w*|suicide|self-harm|kill (someone|people|a person|myself|him|her)|physical harm|harm (to )?(others|people|someone|themselves)",
    r"violen(ce|t)|assault\w*|terroris\w*|extremis\w*|hatred|hate speech|racis\w*|incit\w*",
    # drugs
    r"meth(amphetamine)?|cocaine|heroin|illegal drugs?|narcotics?|date rape",
    # cyber
    r"hack(ing|ed)? into|hack(ing|s)? (a |an |the |someone'?s? |government )?(\w+ )?(websites?|accounts?|networks?|systems?|databases?|servers?|phones?|computers?|emails?)",
    r"exploit (a |the )?vulnerabilit\w*|malware|ransomware|keylogger|phishing|botnet|ddos|spyware|crack(ing)? (passwords?|software)",
    r"(write|writing|create|creating|make|making|build|building|develop\w*|release|spread\w*|distribut\w*|embed\w*) (an? |the )?([\w-]+ )?(virus|viruses|worms?|trojans?|rootkits?|backdoors?|malicious payloads?)|disables? (antivirus|security)|trojan (horse|virus|malware)|remote access trojan",
    r"(break|breaking) into (a |an |the |someone'?s? )?(\w+ ){0,2}(computers?|systems?|networks?|accounts?|houses?|homes?|cars?|buildings?)|crack(ing)? (\w+ ){0,2}(passwords?|software|licen[cs]es?)",
    # theft, fraud and deception
    r"steal(s|ing)?|theft|fraud\w*|counterfeit\w*|launder\w*|scam(s|mer|mers|med|ming)?|extort\w*|blackmail|smuggl\w*|traffick\w*",
    r"(harvest|sell|leak)\w* (\w+ ){0,2}(personal|sensitive|private|confidential|user) (data|information|details)",  # not "redact personal information"
    r"fake (ids?|passports?|identit(y|ies))|fake credit cards?|insider trading|tax evasion|pirated|pirating|pirate (software|content|movies|games)",
    r"(create|creating|write|writing|make|making|buy|buying|post|posting|generate|generating) (an? |some )?(\w+ )?fake (social media )?(reviews?|profiles?|accounts?|degrees?|certificates?|identification|documents?)",
    r"forg(e|ing) (an? |the )?(\w+ )?(identity|identification|documents?|passports?|signatures?|checks?|cheques?|note)|forgery|defraud\w*|pyramid scheme|ponzi|shoplift\w*|tamper\w* with (evidence|witnesses|ballots|votes)",
    r"cheat(ing)? (on|in|the) (an? |my |online |the )?(tax\w*|exams?|tests?)|evad(e|ing) (taxes|police|the law|law enforcement|detection|capture|arrest|airport security)",
    r"without (getting caught|being detected|leaving (a |any )?(trace|evidence))|undetectable|deepfake",
    r"fake news|misinformation|disinformation|propaganda|spread\w* (false|fake|misleading) (information|news|claims|rumou?rs)",
    r"manipulat\w* (people|someone|others|stock|elections?|the market|financial markets)|cause (panic|chaos)",
    # privacy, harassment, abuse
    r"harass\w*|cyberbull\w*|cyberstalk\w*|stalk(ing|er|ers|ed)|stalk (someone|him|her|them|my|an? |people)|doxx\w*|dox(ing|ed)?",
    r"spy(ing)? on (people|someone|users|my|his|her|their|employees|a person|others)|without (their |his |her |user |the user'?s? |someone'?s? )?consent|without (their|his|her|the user'?s?) knowledge",
    r"secretly (record|monitor|track|collect|access|install)\w*|without (their |his |her )?(permission|authori[sz]ation)|unlawful(ly)?|threaten (someone|him|her|them|people|my)|threatening (message|letter|email|note)s?|slurs|hate crimes?",
    r"child porn\w*|molest\w*|bioweapon|nerve agent|anthrax|ricin|hijack\w*|rob (a|the) (bank|store|shop|house)|vandali[sz]\w*",
    r"illegal(ly)?|dangerous (behaviou?rs?|activities|substances?)|anorexi\w*|bulimi\w*",
)
_HARMFUL: Final = rf"\b({_HARMFUL_TERMS})\b"

PATTERNS: Final[dict[str, str]] = {
    # holds code, or asks for code (a code verb with a code artefact or language)
    IS_CODE: _CODE,
    # asks for the model's reasoning: step-by-step thinking, shown work, reconstructed traces
    ASKS_REASONING: _REASONING,
    # asks to grade, rate, score or compare responses (LLM-as-judge, reward modelling)
    IS_RUBRIC: _RUBRIC,
    # benchmark format: lettered options, question/answer pairs, "final answer"
    BENCH_STYLE: _BENCH,
    # override and role-play techniques aimed at the model's safety behaviour
    JAILBREAK: _JAILBREAK,
    # clearly harmful topics and requests (weapons, malware, fraud ...)
    HARMFUL: _HARMFUL,
}

_POOL = ThreadPoolExecutor(max_workers=max(1, min(4, os.cpu_count() or 1)))

_GENERIC_UA = r"python-requests|httpx|aiohttp|curl/|wget|go-http-client|okhttp|java/|node-fetch|axios|libwww|urllib|postman|insomnia|^$"
_SDK_UA = (
    r"anthropic|openai|langchain|llamaindex|llama_index|vercel|sdk|ai/|litellm|semantic-kernel"
)


def prompt_window(prompt: pa.Array | pa.ChunkedArray, config: Config = DEFAULT) -> pa.Array:
    """The lower-cased text the heuristics and the topic model look at."""
    return head_and_tail(prompt, config.text_head_chars, config.text_tail_chars)


def topic_text(window: pa.Array) -> pa.Array:
    """What the topic model reads: the opening of the prompt window."""
    return head_chars(window, TOPIC_CHARS)


def _normalise_template(window: pa.Array) -> pa.Array:
    """Mask what varies inside a template: code blocks, quoted spans, numbers, spacing."""
    t = pc.replace_substring_regex(window, r"(?s)```.*?```", "⟨code⟩")
    t = pc.replace_substring_regex(t, r"\"[^\"\n]{1,300}\"|'[^'\n]{8,300}'", "⟨q⟩")
    t = pc.replace_substring_regex(t, r"[0-9]+([.,][0-9]+)*", "0")
    for ch in ("\n", "\t", "\r"):
        t = pc.replace_substring(t, ch, " ")
    t = pc.replace_substring_regex(t, r"  +", " ")  # runs only: replacing every space is slow
    return pc.utf8_trim_whitespace(t)


def status_codes(status: pd.Series) -> np.ndarray:
    """Each request's status as its index in ``schema.STATUSES`` (int8; -1 if unknown)."""
    codes = pc.index_in(as_arrow(status), value_set=pa.array(S.STATUSES, pa.string()))
    return pc.fill_null(codes, -1).to_numpy(zero_copy_only=False).astype(np.int8)


def status_code(status: str) -> int:
    """The code :func:`status_codes` gives ``status``."""
    return S.STATUSES.index(status)


def model_key(name: str) -> np.uint64:
    """The ``MODEL_KEY`` of a model name (for comparing with the annotated column)."""
    return hash_strings(pa.array([name], pa.string()))[0]


def annotate(
    frame: pd.DataFrame,
    *,
    config: Config = DEFAULT,
    topic_model: object | None = None,
) -> pd.DataFrame:
    """Derive the per-request columns the features need and drop the raw text.

    Parameters
    ----------
    frame : clean chunk from :func:`detector.ingest.iter_clean`.
    topic_model : fitted :class:`detector.topics.TopicModel`; when given, every
        request gets a topic id (``-1`` without one).
    """
    out = pd.DataFrame(index=frame.index)
    # one string column only (Arrow-backed, no Python objects): the rest are numbers,
    # so a spilled bucket costs ~200 bytes per request
    out[S.ACCOUNT_ID] = frame[S.ACCOUNT_ID].astype(pd.ArrowDtype(pa.string())).to_numpy()
    ts = frame[S.TIMESTAMP]
    secs = ts.astype("int64").to_numpy() // 1_000_000_000
    out[TS] = secs
    out[DAY] = (secs // 86_400).astype(np.int32)
    out[HOUR] = ((secs // 3600) % 24).astype(np.int8)
    out[WEEKDAY] = ((out[DAY].to_numpy() + 3) % 7).astype(np.int8)  # 1970-01-01 was a Thursday
    out[MODEL_KEY] = hash_strings(as_arrow(frame[S.MODEL]))
    out[STATUS_CODE] = status_codes(frame[S.STATUS])
    out[S.INPUT_TOKENS] = frame[S.INPUT_TOKENS].to_numpy(dtype=np.float64)
    out[S.OUTPUT_TOKENS] = frame[S.OUTPUT_TOKENS].to_numpy(dtype=np.float64)
    for col in (S.MAX_TOKENS, S.TEMPERATURE, S.TURN_INDEX, S.LOGPROBS, S.THINKING):
        if col in frame.columns:
            out[col] = frame[col].astype("float64").to_numpy()
    if S.ENDPOINT in frame.columns:
        out[ENDPOINT_KEY] = hash_strings(as_arrow(frame[S.ENDPOINT]))
    if S.SYSTEM_PROMPT_HASH in frame.columns:
        out[SYSTEM_KEY] = hash_strings(as_arrow(frame[S.SYSTEM_PROMPT_HASH]))
    if S.CONVERSATION_ID in frame.columns:
        out[CONVERSATION_KEY] = hash_strings(as_arrow(frame[S.CONVERSATION_ID]))
    networks: tuple[pa.Array, np.ndarray] | None = None
    if S.CLIENT_IP in frame.columns:
        # the chunk's distinct addresses once: their keys, networks and (for the
        # labels) network texts are all functions of the address
        ips, ip_rows = distinct_texts(as_arrow(frame[S.CLIENT_IP]))
        names = network_names(ips)
        out[IP_KEY] = hash_each(ips)[ip_rows]
        out[NETWORK_KEY] = hash_strings(names)[ip_rows]
        networks = (names, ip_rows)
    if S.USER_AGENT in frame.columns:
        ua = pc.utf8_lower(pc.fill_null(as_arrow(frame[S.USER_AGENT]), ""))
        out[UA_KEY] = hash_strings(ua)
        out[UA_GENERIC] = pc.match_substring_regex(ua, _GENERIC_UA).to_numpy(zero_copy_only=False)
    if S.PROMPT in frame.columns:
        _annotate_text(out, as_arrow(frame[S.PROMPT]), config, topic_model)
    for col, (dtype, default) in DEFAULTS.items():
        if col not in out.columns:
            out[col] = np.full(len(out), default, dtype=dtype)
    _annotate_labels(out, frame, networks)
    out[PROMPT_CHARS] = out[PROMPT_CHARS].astype(np.float64)
    return out


def _annotate_labels(
    out: pd.DataFrame, frame: pd.DataFrame, networks: tuple[pa.Array, np.ndarray] | None
) -> None:
    """:data:`LABEL_ROW` and the label texts (user agent, network, system prompt hash).

    Texts are kept on the first request of each (account, user agent, network, system
    prompt) of the chunk only: every sub-stream is a union of such combinations, so it
    has a labelled row, and the spilled bucket grows by a few bytes per request instead
    of the texts' length. These are the only annotated columns that depend on the chunk
    (which row is first), not on the row alone; each text is a function of its key (the
    user agent lower-cased as ``UA_KEY`` hashes it), so whichever labelled row names a
    sub-stream, and however an engine cuts the log into chunks, the name is the same.
    ``networks`` is the network text of each distinct address and each row's index
    into them (``None`` without addresses).
    """
    n = len(out)
    keys = pd.DataFrame(
        {
            "a": hash_strings(as_arrow(frame[S.ACCOUNT_ID])),
            "u": out[UA_KEY].to_numpy(),
            "n": out[NETWORK_KEY].to_numpy(),
            "s": out[SYSTEM_KEY].to_numpy(),
        }
    )
    first = ~keys.duplicated().to_numpy()
    out[LABEL_ROW] = first
    rows = np.flatnonzero(first)
    mask = pa.array(first)
    texts: dict[str, pa.Array] = {}
    for name, source in ((UA_TEXT, S.USER_AGENT), (SYSTEM_TEXT, S.SYSTEM_PROMPT_HASH)):
        if source in frame.columns:
            picked = pc.fill_null(as_arrow(frame[source].iloc[rows]), "")
            if name == UA_TEXT:  # as UA_KEY keys it: the text is a function of the key
                picked = pc.utf8_lower(picked)
            texts[name] = head_chars(picked, LABEL_CHARS)
    if networks is not None:
        names, ip_rows = networks
        texts[NETWORK_TEXT] = names.take(pa.array(ip_rows[rows]))
    empty = pa.array([""] * 0, pa.string())
    for name in LABEL_TEXTS:
        values = texts.get(name)
        full = pa.nulls(n, pa.string()) if n else empty
        if values is not None and len(rows):
            full = pc.replace_with_mask(full, mask, values.cast(pa.string()))
        out[name] = pd.array(pc.fill_null(full, ""), dtype=pd.ArrowDtype(pa.string()))


def _template_parts(window: pa.Array) -> tuple[np.ndarray, pa.Array, pa.Array]:
    """Template keys of prompt windows, and the normalised text and its length."""
    # templates are keyed on the first 100 and last 60 normalised characters: normalise
    # only a slightly larger head and tail instead of the whole window
    norm = _normalise_template(head_and_tail(window, TEMPLATE_HEAD, TEMPLATE_TAIL))
    n = pc.utf8_length(norm)
    long = pc.greater(n, 160)
    key_text = pc.if_else(
        long,
        pc.binary_join_element_wise(head_chars(norm, 100), tail_chars(norm, 60), "…"),
        norm,
    )
    return hash_strings(key_text), norm, n


def template_keys(prompt: pa.Array | pa.ChunkedArray, config: Config = DEFAULT) -> np.ndarray:
    """The template key of each prompt, as the features and coordination key them.

    ``detector pivot --template`` keys the analyst's example prompt and the log's
    prompts the same way, vectorised.
    """
    return _template_parts(prompt_window(prompt, config))[0]


def _annotate_text(
    out: pd.DataFrame,
    prompt: pa.Array,
    config: Config,
    topic_model: object | None,
) -> None:
    """The text columns, computed on the chunk's distinct prompts (see distinct_texts)."""
    texts, rows = distinct_texts(prompt)
    window = prompt_window(texts, config)
    # pyarrow compute releases the GIL: the regex scans share the machine's cores
    flags = _POOL.map(lambda p: pc.match_substring_regex(window, p), PATTERNS.values())
    for name, flag in zip(PATTERNS, flags, strict=True):
        out[name] = flag.to_numpy(zero_copy_only=False)[rows]
    out[PROMPT_CHARS] = pc.utf8_length(texts).to_numpy(zero_copy_only=False)[rows]
    out[PROMPT_KEY] = hash_each(texts)[rows]
    keys, norm, n = _template_parts(window)
    out[TEMPLATE_KEY] = keys[rows]
    wrapped = pc.greater_equal(n, 48)
    empty = pa.scalar("", pa.string())
    prefix = pc.if_else(wrapped, head_chars(norm, 32), empty)
    suffix = pc.if_else(wrapped, tail_chars(norm, 32), empty)
    out[PREFIX_KEY] = hash_strings(prefix)[rows]
    out[SUFFIX_KEY] = hash_strings(suffix)[rows]
    if topic_model is not None:
        topics = topic_model.assign(topic_text(window))  # type: ignore[attr-defined]
        out[TOPIC] = np.asarray(topics)[rows]
    else:
        out[TOPIC] = np.full(len(out), -1, dtype=np.int16)
