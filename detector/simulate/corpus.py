"""Optional real prompt text (``prompts.jsonl`` files) sorted into content categories.

The simulator's wrappers and behaviour stay its own; a corpus only replaces the
*content* inside them (the instruction, the coding task, the harmful request, the
benchmark question) with real public text.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

CATEGORIES = ("general", "code", "harmful", "bench")


class CorpusError(ValueError):
    """The corpus directory is unusable (missing, empty, unreadable)."""


@dataclass
class Corpus:
    """Texts per category (``general``, ``code``, ``harmful``, ``bench``)."""

    texts: dict[str, list[str]] = field(default_factory=lambda: {c: [] for c in CATEGORIES})

    def get(self, category: str) -> list[str]:
        """Texts of ``category`` (possibly empty)."""
        return self.texts.get(category, [])

    @property
    def size(self) -> int:
        """Total number of texts."""
        return sum(len(v) for v in self.texts.values())


def categorize(folder: str, source: str, category: str) -> str:
    """Map one record to a content category from its folder, source and category."""
    where = f"{folder} {source}".lower()
    cat = (category or "").lower()
    if "humaneval" in where or "human-eval" in where or "cod" in cat:
        return "code"
    if "advbench" in where or "forbidden" in where or "jailbreak" in where or "harm" in cat:
        return "harmful"
    if "mt_bench" in where or "vicuna" in where:
        return "bench"
    return "general"


def find_prompt_files(root: Path) -> list[Path]:
    """Every ``prompts.jsonl`` under ``root``, in a stable order."""
    return sorted(root.rglob("prompts.jsonl"))


def load_corpus(root: Path) -> Corpus:
    """Read every ``prompts.jsonl`` under ``root``; raise :class:`CorpusError` if none."""
    if not root.is_dir():
        raise CorpusError(f"corpus directory not found: {root}")
    files = find_prompt_files(root)
    if not files:
        raise CorpusError(f"no prompts.jsonl found under corpus directory {root}")
    corpus = Corpus()
    for path in files:
        folder = path.parent.name
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise CorpusError(f"cannot read {path}: {exc}") from exc
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise CorpusError(f"{path}:{number}: not valid JSON ({exc.msg})") from exc
            text = record.get("text") if isinstance(record, dict) else None
            if not isinstance(text, str) or not text.strip():
                continue
            cat = categorize(
                folder, str(record.get("source") or ""), str(record.get("category") or "")
            )
            corpus.texts[cat].append(text.strip())
    if corpus.size == 0:
        raise CorpusError(f"no usable prompts (objects with a 'text' field) under {root}")
    return corpus
