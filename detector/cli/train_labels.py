"""What ``detector train`` learns from: the verdicts it is given (``--labels``, ``--state``)
and the line it prints about them and the learned layer they fitted."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from detector import schema as S
from detector.config import Config

__all__ = ["learned_line", "training_labels"]


def training_labels(labels: Path | None, state: Path | None) -> tuple[pd.DataFrame | None, str]:
    """The labels ``train`` learns from and where they came from (state wins per account)."""
    from detector.verdicts import labels_from_csv, labels_from_store

    parts, sources = [], []
    if labels is not None:
        parts.append(labels_from_csv(labels))
        sources.append(str(labels))
    if state is not None:
        parts.append(labels_from_store(state))
        sources.append(f"state:{state}")
    if not parts:
        return None, ""
    table = pd.concat(parts, ignore_index=True).drop_duplicates(S.ACCOUNT_ID, keep="last")
    return table.reset_index(drop=True), " + ".join(sources)


def learned_line(
    verdicts: pd.DataFrame | None,
    learned: dict | None,
    layer: dict | None,
    population: set[str],
    config: Config,
) -> str:
    """One line on what the learned layer learned from and the weight its verdicts chose
    (``layer``: the manifest's summary of it), or why there is none."""
    if verdicts is None:
        return ""
    if learned is not None:
        from detector.learned_fit import weight_note

        summary = layer or {}
        weight = summary.get("weight")
        calm = (summary.get("calm", 0.0), summary.get("calming_accounts", 0))
        chosen = "" if weight is None else f"; {weight_note(weight, *calm)}"
        return (
            f"learned from {learned['n_labels']:,} labelled accounts "
            f"({learned['n_extraction']:,} extraction, {learned['n_benign']:,} benign){chosen}\n"
        )
    from detector.learned_fit import why_not_learn

    used = verdicts[verdicts[S.ACCOUNT_ID].astype(str).isin(population)]
    return f"no learned layer: {why_not_learn(used, config)}; the score is unsupervised\n"
