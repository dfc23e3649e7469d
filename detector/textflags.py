r"""The text detectors: one RE2 pattern per flag, applied to the lower-cased head and tail
of each prompt (:func:`detector.annotate.prompt_window`).

Each flag is one RE2 alternation built from commented arms. RE2 has no look-around,
so an ambiguous word is never matched alone: it needs the context that makes it mean
what the flag is about ("script that/to", not "script for a radio ad"; "make a bomb",
not "bath bomb"). Every arm was checked against real prompts nobody on this project
wrote (../shared/corpora) and against what ordinary products send; the measured
shares are in docs/text-heuristics.md, and tests/test_text_heuristics.py holds every
flag to recall floors and false-positive ceilings on both.

Cost: these run on every request. RE2 scans each prompt once per flag with a lazily
built DFA, so the cost is one pass per flag unless arms that stay open across text (a
"[^\n]*" or a counted "{0,80}") combine into many DFA states: two counted gaps in one
flag once made it 40x slower. Keep gaps unbounded within a clause ("[^.?!\n]*") and word
skips short ("( \w+)?"), and time a change (docs/text-heuristics.md says how).
"""

from __future__ import annotations

from typing import Final


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

CODE: Final = _any(
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

REASONING: Final = _any(
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

RUBRIC: Final = _any(
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

BENCH: Final = _any(
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

JAILBREAK: Final = _any(
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
HARMFUL: Final = rf"\b({_HARMFUL_TERMS})\b"
