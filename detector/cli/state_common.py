"""What the commands on the state store share: ``--state``, the analyst, table cells,
and resolving an id that names an account or a whole case."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import typer

from detector import schema as S
from detector.casefile import plain
from detector.cases import SINGLE_PREFIX
from detector.cli.common import fail
from detector.safe import safe_terminal, truncate
from detector.store import CASE_STATUSES, Store

__all__ = [
    "AnalystOpt",
    "CaseStatus",
    "ForceOpt",
    "OnOpt",
    "StateOpt",
    "Target",
    "Verdict",
    "cell",
    "required",
    "resolve_target",
    "shown",
    "state_dir",
    "today",
]

StateOpt = Annotated[
    Path, typer.Option("--state", help="State directory holding the SQLite store.")
]
Verdict = Literal[S.LABELS]  # type: ignore[valid-type]
CaseStatus = Literal[CASE_STATUSES]  # type: ignore[valid-type]
AnalystOpt = Annotated[
    str | None,
    typer.Option("--analyst", help="Who decides (default: $USER)."),
]
ForceOpt = Annotated[
    bool,
    typer.Option(
        "--force",
        help="Record it even if no run ever scored the account (otherwise refused: a typo).",
    ),
]
OnOpt = Annotated[
    str | None,
    typer.Option("--on", metavar="YYYY-MM-DD", help="As of this UTC day (default: today)."),
]


def today() -> dt.date:
    """Today's UTC date."""
    return dt.datetime.now(dt.UTC).date()


def state_dir(state: Path | None) -> Path:
    """The ``--state`` directory, which must be given and must not be a file."""
    if state is None:
        raise fail("--state DIR is required (the directory of the detector's state store)")
    if state.exists() and not state.is_dir():
        raise fail(f"--state: {state} is not a directory")
    return state


def required(value: str | None, option: str, what: str) -> str:
    """A required text option, refused when missing or blank."""
    if value is None or not value.strip():
        raise fail(f"{option} is required: {what}")
    return value


def shown(value: str, width: int = 80) -> str:
    """An id for an error line: terminal-safe, cut, quoted."""
    return repr(truncate(safe_terminal(value, markup=False), width))


def cell(value: Any, width: int | None = None) -> str:
    """A table cell from the store: empty when missing, terminal-safe, optionally cut."""
    value = plain(value)
    if value is None:
        return ""
    text = str(value)
    return safe_terminal(truncate(text, width) if width else text)


@dataclass(frozen=True)
class Target:
    """What ``label`` / ``suppress`` / ``unsuppress`` act on: one account or a case."""

    kind: Literal["account", "case"]
    ident: str
    members: tuple[str, ...]

    @property
    def case_id(self) -> str:
        """The case id recorded with each member's decision (empty for an account)."""
        return self.ident if self.kind == "case" else ""


def resolve_target(
    store: Store, ident: str, *, directory: Path, force: bool, as_case: bool
) -> Target:
    """The account or case ``ident`` names.

    ``acct:<id>`` is that account; a case id (a cluster, as ``detector cases`` lists
    it) is every member of the case in the latest run that had it; anything else is an
    account id, which must have been scored unless ``force``. An id that is both a
    scored account and a case is refused unless ``--case`` says which is meant.
    """
    if ident.startswith(SINGLE_PREFIX) and not as_case:
        account = ident[len(SINGLE_PREFIX) :]
        if account and (force or store.was_scored(account)):
            return Target("account", account, (account,))
    members = store.case_members(ident, today())
    is_case = not members.empty
    if as_case or (is_case and not store.was_scored(ident)):
        if not is_case:
            raise fail(
                f"{shown(ident)}: no run in {directory} has this case; list them with "
                f"`detector cases --state {directory}`"
            )
        return Target("case", ident, tuple(members[S.ACCOUNT_ID].astype(str)))
    if is_case:
        raise fail(
            f"{shown(ident)} is both an account id and a case id in {directory}; pass --case "
            f"for the case, or acct:{truncate(safe_terminal(ident, markup=False), 60)} for "
            "the account"
        )
    if force or store.was_scored(ident):
        return Target("account", ident, (ident,))
    raise fail(
        f"{shown(ident)}: no run in {directory} ever scored this account and no case has this "
        "id; check the id (exactly as in scores.csv or `detector cases`), or pass --force "
        "to record it anyway"
    )
