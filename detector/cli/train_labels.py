"""What ``detector train`` learns from: the verdicts it is given (``--labels``, ``--state``),
the accounts it leaves out of the forest (``--exclude`` and confirmed extraction), and the
line it prints about the verdicts and the learned layer they fitted."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from detector import schema as S
from detector.config import Config
from detector.errors import UserError

__all__ = ["excluded_accounts", "learned_line", "training_labels"]


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


def excluded_accounts(exclude: Path | None, verdicts: pd.DataFrame | None) -> set[str]:
    """The accounts the forest is fitted without: those ``exclude`` (a CSV with
    ``account_id``) lists -- only its extraction rows when it has a ``label`` column --
    and every account a verdict confirms as extraction (the forest learns what is
    ordinary; the learned layer, not the forest, learns from confirmed cases).

    Raises :class:`UserError` (one line naming the file) when ``exclude`` cannot be
    read as CSV or has no ``account_id`` column, and the labels file's own errors
    (:func:`detector.ingest.read_labels`) when it has a ``label`` column with a value
    other than ``benign`` or ``extraction`` or an account labelled both ways: a label
    spelt otherwise would otherwise leave its account in the fit without a word.
    """
    from detector.ingest import one_line, read_labels

    skip: set[str] = set()
    if exclude is not None:
        try:
            ex = pd.read_csv(exclude, dtype=str, keep_default_na=False)
        except Exception as exc:  # pandas raises several types for a file it cannot parse
            raise UserError(f"{exclude}: cannot read the --exclude CSV ({one_line(exc)})") from None
        if S.ACCOUNT_ID not in ex.columns:
            raise UserError(f"{exclude}: no {S.ACCOUNT_ID} column; --exclude takes a CSV with one")
        if S.LABEL in ex.columns:
            ex = read_labels(exclude)
            ex = ex[ex[S.LABEL] == S.LABEL_EXTRACTION]
        skip = set(ex[S.ACCOUNT_ID])
    if verdicts is not None:
        confirmed = verdicts[verdicts[S.LABEL] == S.LABEL_EXTRACTION]
        skip |= set(confirmed[S.ACCOUNT_ID].astype(str))
    return skip


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
