"""Content grammars without a corpus: what a prompt asks, before any wrapper.

Generators of every kind of content the makers in :mod:`.prompts` combine: general
requests and chat, follow-ups, code help and coding tasks, benchmark questions and
their answers, tutoring, customer support, documents, agent tasks, and responses to
judge. Benign and extraction makers deliberately share them (see :mod:`.prompts`);
:class:`~.prompts.PromptLibrary` mixes some with real corpus text when it has any.
"""

from __future__ import annotations

from detector.simulate import vocab as V
from detector.simulate.prompt_slots import C, T
from detector.simulate.textgen import Choice, Decorate, Lower, Num, Repeat, Vocab

GENERAL_BASE = C(
    "Write a {form} about {topic}.",
    "Write a {length} {form} about {topic} for {audience}.",
    "Explain {concept} to {audience}.",
    "Explain the difference between {concept} and {concept2}.",
    "Give me {num} tips for {activity}.",
    "List {num} interesting facts about {topic}.",
    "Summarize the key ideas of {concept} in {num} bullet points.",
    "What are the pros and cons of {claim}?",
    "Compare {topic} and {topic2} in terms of {aspect}.",
    "Create a study plan to learn {skill} in {num} weeks.",
    'Translate the following sentence into {language}: "{sentence}"',
    'Rewrite this sentence to sound more {tone}: "{sentence}"',
    "Generate {num} interview questions for a {job} position.",
    "Suggest {num} names for a {business}.",
    "Describe the history of {topic} in a few paragraphs.",
    "Design a {num}-day itinerary for a trip to {place}.",
    'Write a short story that begins with: "{sentence}"',
    "Outline an essay arguing that {claim}.",
    "How does {concept} work?",
    "Why is {concept} important in {field}?",
    "Propose an experiment to test whether {hypothesis}.",
    "Draft a polite email to {recipient} about {email_topic}.",
    "Create a recipe that uses {ingredient}, {ingredient2} and {ingredient3}.",
    "Write a product description for {product}.",
    "Give an example of {concept} in everyday life.",
    "Identify the logical fallacy in this argument: {argument}",
    "Brainstorm {num} ideas for {activity}.",
    "Write a haiku about {topic}.",
    "Explain the causes and consequences of {event}.",
    "What are common misconceptions about {concept}?",
    "Write a dialogue between {person} and {person2} about {topic}.",
    "Critique the following thesis: {claim}.",
    "What would {person} think about {topic}?",
    "Classify the tone of this sentence as positive, negative or neutral: {sentence}",
    "Explain how {concept} relates to {topic}.",
)

CONTEXT_PREFIX = C(
    "I'm a {job} based in {place}. ",
    "Quick question. ",
    "For a project at work: ",
    "My {relation} asked me this and I didn't know. ",
    "I'm preparing a presentation for {audience}. ",
    "Context: we are a small {business}. ",
    "I've been reading about {topic2} lately. ",
    "This is for a class on {field}. ",
    "Hi! ",
    "I have {num} minutes. ",
)
CONSTRAINT_SUFFIX = C(
    " Keep it under {c} words.",
    " Use a {tone} tone.",
    " Please format the answer as a table.",
    " Include an example about {topic2}.",
    " Assume the reader is {audience}.",
    " Answer in {language}.",
    " Use no more than {num} bullet points.",
    " Mention {person2} if relevant.",
    " Avoid jargon.",
    " Cite at least {num} sources.",
    " Focus on {aspect}.",
    " Give {num} concrete examples.",
)
GENERAL = Decorate(GENERAL_BASE, CONTEXT_PREFIX, 0.25, CONSTRAINT_SUFFIX, 0.45)

CHAT_SUFFIX = C(
    " thanks!",
    " pls keep it short",
    " it's for {relation}",
    " in {language} please",
    " (i'm in {place})",
    " budget is around ${c}",
    " we have {num} people",
    " no {ingredient} please",
    " something {tone}",
    " asap",
)
CHAT = Lower(
    Choice(
        [
            C(
                "hey, can you help me {chat_task}?",
                "what's a good {gift} for my {relation} who likes {hobby}?",
                "i'm feeling {emotion} about {situation}. any advice?",
                "can you write a {form} for my {relation}'s {occasion}?",
                "how do i {howto}?",
                "is it normal to {normal_q}?",
                "recommend me {num} {media} like {title}",
                "what should i cook tonight with {ingredient} and {ingredient2}?",
                "help me plan a {occasion} party for {c} people",
                "explain {concept} like i'm five",
                "what's the best way to {howto}?",
                "tell me a joke about {topic}",
                "can you proofread this: {sentence}",
                "I need to {chat_task}. Where do I start?",
            ),
            GENERAL,
        ],
        [0.6, 0.4],
    )
)
CHAT = Decorate(CHAT, None, 0.0, CHAT_SUFFIX, 0.4)

FOLLOWUP = Choice(
    [
        Vocab(V.FOLLOWUPS),
        C(
            "what about {topic}?",
            "make it more {tone}",
            "ok, now translate it into {language}",
            "add a section about {aspect}",
            "hmm, I meant {concept}",
            "and how does that compare to {concept2}?",
            "can you rewrite it for {audience}?",
            "shorten it to {num} sentences",
        ),
    ],
    [0.6, 0.4],
)

TRACE = T(
    'Traceback (most recent call last):\n  File "{file}", line {c}, in {func}\n    result = {func}(payload)\n{exc_line}'
)

CODE_HELP = C(
    "fix this bug:\n```\n{snippet}\n```\nI get:\n{trace}",
    "why does this throw {exc}?\n\n{snippet}",
    "refactor this to be more {quality}:\n\n{snippet}",
    "write unit tests for this:\n```\n{snippet}\n```",
    "explain what this code does:\n{snippet}",
    "how do I {code_howto} in {plang}?",
    "convert this to {plang2}:\n{snippet}",
    "add type hints and docstrings:\n{snippet}",
    "this query is slow, how can I speed it up?\n{sql}",
    "getting this error, any idea?\n{trace}",
    "review this diff and point out problems:\n--- a/{file}\n+++ b/{file}\n@@ -{c},7 +{c},8 @@\n{snippet}",
    "{trace}\n\nhow do I fix this?",
    trace=TRACE,
)
CODE_HELP = Decorate(
    CODE_HELP,
    C(
        "In {file}: ",
        "[{plang}] ",
        "Working on {func}. ",
        "Quick one: ",
        "Same project as before, ",
    ),
    0.35,
    C(
        " Using {plang} {a}.{b}.",
        " Line {c} is where it fails.",
        " Tests: {a} passing, {b} failing.",
        " This runs inside a Docker container.",
        " I'm on version {a}.{b}.{k} of the library.",
        " It only happens with about {c} records.",
        " It worked yesterday before I merged {func}.",
    ),
    0.5,
)

CODE_TASK = C(
    "Implement a function `{fname}({args})` in {plang} that {behaviour}.",
    "Write a {plang} function that {behaviour}. Handle edge cases.",
    "Write a solution to this competitive programming problem:\n\n{cp_problem}\n\nInput: {cp_io}\nConstraints: 1 <= n <= {big}.",
    'def {fname}({args}):\n    """Return the result for the input: the function {behaviour}.\n\n    >>> {fname}(...)\n    """\n',
    "Complete the following {plang} class so that it {behaviour}:\n\nclass Solution:\n    def {fname}(self, {args}):\n        pass",
    "Solve in {plang}: {cp_problem}\nOutput the answer for each test case on its own line.",
    "Write an efficient algorithm that {behaviour}, and state its time complexity.",
)
CODE_SUFFIX = C(
    " Use O(n log n) time or better.",
    " Do not use external libraries.",
    " Include unit tests.",
    " The input size can be up to {big}.",
    " Name the main function `{fname}`.",
    " Add type annotations.",
    " Handle empty input and invalid values.",
    " Optimise for memory; n can reach {big}.",
    " Write it in {plang}.",
)
CODE_TASK = Decorate(CODE_TASK, None, 0.0, CODE_SUFFIX, 0.5)

WORD_PROBLEM = C(*V.WORD_PROBLEMS)
MATH_EXPR = C(*V.MATH_EXPRESSIONS)
MCQ = T(
    "The following is a multiple choice question about {subject}.\n\n{stem}\nA. {opt}\nB. {opt2}\nC. {opt3}\nD. {opt4}",
    stem=C(*V.MCQ_STEMS),
)
PROBLEM = Choice([WORD_PROBLEM, MATH_EXPR, MCQ], [0.4, 0.3, 0.3])

BENCH = Choice(
    [
        T("{mcq}\nAnswer with the letter of the correct option only.", mcq=MCQ),
        T("{mcq}\nAnswer:", mcq=MCQ),
        T("Question: {wp}\nGive the final answer only.", wp=WORD_PROBLEM),
        T("Problem {k}. {expr}\nFinal answer:", expr=MATH_EXPR),
        T(
            "Answer the following question. Respond in the format 'Final answer: <answer>'.\n{wp}",
            wp=WORD_PROBLEM,
        ),
        T(
            "Solve the following problems. Number your answers.\n1. {e1}\n2. {e2}\n3. {e3}",
            e1=MATH_EXPR,
            e2=MATH_EXPR,
            e3=MATH_EXPR,
        ),
        C(
            "Q: What is the capital of {country_name}?\nA:",
            "Q: Who wrote {book}?\nA:",
            "Q: In which year did {event} happen?\nA:",
            "True or False: {tf}. Answer with True or False only.",
        ),
    ],
    [0.3, 0.1, 0.15, 0.15, 0.1, 0.1, 0.1],
)

ANSWER = Choice(
    [Num(2, 999), Vocab(("A", "B", "C", "D")), Vocab(("True", "False"))], [0.6, 0.3, 0.1]
)

TUTOR = C(
    "Explain step by step how to solve {a}x + {b} = {c}.",
    "Show your working: {wp}",
    "Can you explain step by step how to {school_skill}?",
    "I'm in grade {grade}. How do I {school_skill}? Please show your working.",
    "Why does {science_q}? Explain it step by step for a grade {grade} student.",
    "Solve x^2 - {a}x + {b} = 0 and explain each step.",
    "How do I work out {a}/{b} + {k}/{c}? Show every step.",
    "Walk me through this homework problem: {wp}",
    wp=WORD_PROBLEM,
)

TUTOR_FOLLOWUP = C(
    "I don't understand step {a}, can you explain it differently?",
    "can you show your working for this one too: {a}x - {b} = {c}",
    "why do we {school_move}?",
    "ok I got {c}, is that right?",
    "thanks! can you give me a similar practice problem?",
    "what's the rule for this again?",
    "can you check my answer: x = {a}",
)

SUPPORT = C(
    "Where is my order #{order}?",
    "I want to return the {sproduct} I bought in {month}. Order {order}.",
    "How do I reset my password for {service}?",
    "My {sproduct} {issue}. Order number {order}.",
    "Can I change my subscription from {plan1} to {plan2}?",
    "I was charged twice for order #{order}, please help",
    "How long does shipping take to {place}?",
    "Do you have the {sproduct} in stock?",
    "I can't log in to {service}",
    "How do I cancel my {plan1} plan?",
    "What is your refund policy for {sproduct}s?",
    "The tracking for order {order} hasn't updated in {a} days",
)

SUPPORT_FOLLOWUP = C(
    "ok thanks",
    "it's order {order}",
    "that didn't work",
    "can I talk to a human?",
    "yes please",
    "the email is on my account, I already checked spam",
    "how long will the refund take?",
)

DOC_SENTENCE = C(*V.DOC_SENTENCES)
PARAGRAPH = Repeat(DOC_SENTENCE, 3, 6, " ")

AGENT_TASK = C(
    "Task: {agent_task}.",
    "{agent_task}. Use the available tools and report back when done.",
    "Please {agent_task_lc}.",
    agent_task_lc=Lower(Vocab(V.AGENT_TASKS), 1.0),
)

RESPONSE = T("{opener} {body}", body=Repeat(Vocab(V.SENTENCES), 2, 6, " "))

BENCH_SUFFIX = C(
    "\nAnswer with the final answer only.",
    "\nRespond in the format 'Final answer: <answer>'.",
    "\nKeep the answer under {c} words.",
    " (Question {k} of {c}.)",
)
