"""``docs/features.md`` generated from the registry, so the doc cannot drift from the code."""

from __future__ import annotations

from detector.config import DEFAULT
from detector.features import FAMILIES, FAMILY_ORDER

_FAMILY_TITLES = {
    "volume": "Volume",
    "timing": "Timing",
    "content": "Content (needs `prompt`)",
    "probing": "Probing",
    "diversity": "Diversity (needs `prompt`)",
    "shape": "Request shape",
    "conversation": "Conversation",
    "adoption": "Model adoption",
    "tier": "Model tier",
    "infra": "Infrastructure",
    "account": "Account (needs the account table)",
}

_HEADER = f"""# Feature catalogue

Generated from `detector/features/` by `detector catalogue` — do not edit by hand;
a test fails when this file and the registry disagree.

Each account in a log becomes one row of these features. A feature whose contract
column is missing from a log is omitted (and named in the output's metadata); an
account with too little data for a feature gets the neutral value listed.

*Scale* is how the model preprocesses the value (`log` = log1p then robust scaling,
`share` = a value in [0, 1], `linear` = robust scaling). *Suspicious side* is the
direction the model may isolate on: values on the other side are clipped to the
population median, so an account that is extreme in a harmless direction (very
human, very diverse) is not an outlier.

*A suite's re-run*, in the definitions below: an account whose distinct prompts are
mostly (`Config.suite_rerun_share`, {DEFAULT.suite_rerun_share:.0%}) sent again on another day or to another model,
at a temperature of at most `Config.suite_max_temperature` ({DEFAULT.suite_max_temperature:g}; rows without a
temperature count), runs a fixed suite, as permitted evaluation and safety benchmarking
do. Its re-sent prompts say nothing about what it wants next. A prober re-sending its
probes at a sampling temperature, to draw an answer that gets through, is not a suite.
"""


def catalogue_markdown() -> str:
    """The full text of ``docs/features.md``."""
    lines = [_HEADER]
    for name in FAMILY_ORDER:
        lines.append(f"\n## {_FAMILY_TITLES.get(name, name)}\n")
        lines.append(
            "| feature | definition | unit | needs | neutral | scale | suspicious side | why it separates extraction from product use |"
        )
        lines.append("|---|---|---|---|---|---|---|---|")
        for s in FAMILIES[name].specs:
            needs = ", ".join(f"`{c}`" for c in s.needs)
            lines.append(
                f"| `{s.name}` | {s.description} | {s.unit} | {needs} | {s.neutral:g} | "
                f"{s.scale} | {s.direction} | {s.why} |"
            )
    return "\n".join(lines) + "\n"
