"""The nightly configuration kept in the state directory, and runs that see less.

The account table changes the features (account age, shared card and org links, and
through them most clusters): a cron line that forgets ``--accounts`` would score a
poorer population without anyone noticing, and did (``{"clusters": []}``, 0 of 62
hydra accounts flagged). So the run that is given ``--accounts`` records it in the
store, a later run that is not given it reuses the recorded table, and ``--no-accounts``
forgets it. A run whose features are reduced -- no account table, or optional log
columns missing -- says so in its summary line, ``summary.json``, the stage log and
the report (:func:`reduced_features`).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Final

from detector.errors import UserError
from detector.nightly.inputs import NightlyOptions
from detector.store import Store

__all__ = [
    "ACCOUNTS_INPUT",
    "REMEMBERED_INPUTS",
    "RememberedInputs",
    "reduced_features",
    "resolve_inputs",
]

ACCOUNTS_INPUT: Final = "accounts"
"""Name of the remembered account table (an absolute path) in the store."""
REMEMBERED_INPUTS: Final[tuple[str, ...]] = (ACCOUNTS_INPUT,)
"""Inputs that change the features and are therefore remembered between runs."""

GIVEN: Final = "given"
RECORDED: Final = "recorded"
NONE: Final = "none"
FORGOTTEN: Final = "forgotten"


@dataclasses.dataclass(frozen=True)
class RememberedInputs:
    """Where each remembered input of a run came from, and what to record at its commit."""

    sources: dict[str, str]
    """Per input: ``given`` (on the command line), ``recorded`` (from an earlier run),
    ``none`` or ``forgotten`` (``--no-accounts``)."""
    values: dict[str, str | None]
    """Per input: the value in effect (an absolute path) or ``None``."""
    to_record: dict[str, str | None]
    """What the commit writes to the store (``None`` forgets); empty when unchanged."""

    def to_dict(self) -> dict[str, Any]:
        """For ``summary.json``: each input's value and where it came from."""
        return {
            name: {"value": self.values.get(name), "source": self.sources[name]}
            for name in self.sources
        }


def resolve_inputs(
    options: NightlyOptions, store: Store, warn: Callable[[str], None]
) -> tuple[NightlyOptions, RememberedInputs]:
    """The run's options with remembered inputs filled in, and where each came from.

    When the inputs change (another account table, or none any more) and a model
    exists, the run retrains: the current model was fitted on the other feature set.
    Raises :class:`UserError` when the recorded account table is gone: scoring
    without it would be a quieter, poorer run than the ones before.
    """
    resolved, inputs = _resolve(options, store, warn)
    if inputs.to_record and not resolved.force_retrain and store.current_model() is not None:
        warn("the account table changed since the current model was trained: retraining")
        resolved = dataclasses.replace(resolved, force_retrain=True)
    return resolved, inputs


def _resolve(
    options: NightlyOptions, store: Store, warn: Callable[[str], None]
) -> tuple[NightlyOptions, RememberedInputs]:
    """:func:`resolve_inputs` before deciding about retraining."""
    recorded = store.recorded_inputs().get(ACCOUNTS_INPUT)
    if options.accounts is not None:
        path = os.path.abspath(options.accounts)
        if recorded is not None and recorded != path:
            warn(f"account table changed: {recorded} -> {path} (recorded for later runs)")
        to_record: dict[str, str | None] = {} if recorded == path else {ACCOUNTS_INPUT: path}
        return options, RememberedInputs({ACCOUNTS_INPUT: GIVEN}, {ACCOUNTS_INPUT: path}, to_record)
    if options.no_accounts:
        if recorded is not None:
            warn(f"--no-accounts: forgetting the recorded account table {recorded}")
        forget: dict[str, str | None] = {} if recorded is None else {ACCOUNTS_INPUT: None}
        sources = {ACCOUNTS_INPUT: FORGOTTEN}
        return options, RememberedInputs(sources, {ACCOUNTS_INPUT: None}, forget)
    if recorded is None:
        return options, RememberedInputs({ACCOUNTS_INPUT: NONE}, {ACCOUNTS_INPUT: None}, {})
    if not Path(recorded).is_file():
        raise UserError(
            f"--accounts: the account table recorded by an earlier run, {recorded}, no longer "
            "exists; pass --accounts FILE (recorded for later runs), or --no-accounts to score "
            "without one (reduced features)"
        )
    resolved = dataclasses.replace(options, accounts=Path(recorded))
    return resolved, RememberedInputs({ACCOUNTS_INPUT: RECORDED}, {ACCOUNTS_INPUT: recorded}, {})


def reduced_features(
    accounts: Path | str | None,
    missing_columns: Sequence[str],
    omitted: Mapping[str, str],
) -> list[str]:
    """Why this run's features are fewer than the detector can compute (empty: none).

    One sentence per cause, written for the summary line and the report's banner.
    """
    out: list[str] = []
    if accounts is None:
        out.append(
            "no account table: account age, shared card and org links are not computed, "
            "so clusters rest on weak evidence only (pass --accounts FILE once; later "
            "runs reuse it)"
        )
    if missing_columns:
        out.append(
            f"optional log column(s) missing: {'; '.join(missing_columns)}; "
            f"{len(omitted)} feature(s) not computed"
        )
    return out
