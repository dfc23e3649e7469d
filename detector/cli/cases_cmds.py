"""The analysts' feedback store on the command line: ``label``, ``suppress``, ``unsuppress``
and ``cases``.

Verdicts and suppressions live in the SQLite store under ``--state DIR`` (see
:mod:`detector.store`), the same one ``detector score --state``, ``detector evaluate
--state`` and the nightly job read: a cleared account stops being re-raised, a
suppressed one is never flagged until its suppression ends, and confirmed verdicts
become evaluation labels. Every value reaches SQL as a bound parameter.

Required options are declared required, so help marks them; a missing one is the
contract's one line on stderr and exit code 1, like every other bad input (see
:class:`detector.cli.base.DetectorGroup`).

None of these commands creates a store: a mistyped ``--state`` is an error, not a
new empty state (``detector init --state DIR`` or the first nightly run create one).
``label`` and ``suppress`` refuse an account id that no run ever scored, unless
``--force``: a typo would otherwise record a decision about nobody.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path
from typing import Annotated, Any, Literal

import pandas as pd
import typer
from rich.table import Table

from detector import schema as S
from detector.cli.common import JsonOpt, QuietOpt, console, fail, parse_day, user_errors
from detector.safe import safe_terminal, truncate
from detector.store import CASE_STATUSES, Store

StateOpt = Annotated[
    Path, typer.Option("--state", help="State directory holding the SQLite store.")
]
Verdict = Literal[S.LABELS]  # type: ignore[valid-type]
CaseStatus = Literal[CASE_STATUSES]  # type: ignore[valid-type]
AnalystOpt = Annotated[
    str | None,
    typer.Option("--analyst", help="Who decides (default: $USER)."),
]
AccountArg = Annotated[str, typer.Argument(help="The account id, exactly as in SCORES.csv.")]
ForceOpt = Annotated[
    bool,
    typer.Option(
        "--force",
        help="Record it even if no run ever scored ACCOUNT_ID (otherwise refused: a typo).",
    ),
]


def _today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


def _state_dir(state: Path | None) -> Path:
    """The ``--state`` directory, which must be given and must not be a file."""
    if state is None:
        raise fail("--state DIR is required (the directory of the detector's state store)")
    if state.exists() and not state.is_dir():
        raise fail(f"--state: {state} is not a directory")
    return state


def _require_scored(store: Store, account_id: str, force: bool, directory: Path) -> None:
    """Refuse an id absent from the store's score history, unless ``--force``."""
    if force or store.was_scored(account_id):
        return
    raise fail(
        f"{truncate(safe_terminal(account_id, markup=False), 80)!r}: no run in {directory} "
        "ever scored this account; check the id (exactly as in scores.csv), or pass --force "
        "to record it anyway"
    )


def _required(value: str | None, option: str, what: str) -> str:
    if value is None or not value.strip():
        raise fail(f"{option} is required: {what}")
    return value


def _plain(value: Any) -> Any:
    """A frame cell as JSON: missing values become ``null``."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return None
    return value.item() if hasattr(value, "item") else value


def _cell(value: Any, width: int | None = None) -> str:
    """A table cell from the store: empty when missing, terminal-safe, optionally cut."""
    value = _plain(value)
    if value is None:
        return ""
    text = str(value)
    return safe_terminal(truncate(text, width) if width else text)


def _verdict_cell(row: dict[str, Any]) -> str:
    """The latest verdict, and on a second line who made it and when."""
    verdict = _cell(row["verdict"])
    if not verdict:
        return ""
    when = str(_plain(row["verdict_at"]) or "")[:10]
    return f"{verdict}\n[dim]{_cell(row['analyst'], 20)} {when}[/dim]"


def register(app: typer.Typer) -> None:
    """Add ``label``, ``suppress``, ``unsuppress`` and ``cases`` to ``app``."""

    @app.command("label")
    @user_errors
    def label_cmd(
        account_id: AccountArg,
        verdict: Annotated[Verdict, typer.Option("--verdict", help="The analyst's verdict.")],
        note: Annotated[str, typer.Option("--note", help="Why: what you saw (kept for audit).")],
        state: StateOpt,
        analyst: AnalystOpt = None,
        force: ForceOpt = False,
        quiet: QuietOpt = False,
        as_json: JsonOpt = False,
    ) -> None:
        """Record an analyst's verdict on ACCOUNT_ID (append-only; the latest counts).

        extraction confirms the case; benign clears it, so the nightly job stops
        re-raising the account. Verdicts are labels for `detector evaluate --state`.
        An account no run ever scored is refused (a typo) unless --force.

        Example: detector label acct_3f9a2c --verdict extraction --note "CoT pulls" --state state/
        """
        directory = _state_dir(state)
        verdict = _required(verdict, "--verdict", "extraction or benign")
        if verdict not in S.LABELS:
            raise fail(f"--verdict: {verdict!r} is not one of {', '.join(S.LABELS)}")
        note = _required(note, "--note", "say what the verdict rests on")
        with Store.open(directory) as store:
            _require_scored(store, account_id, force, directory)
            row_id = store.add_verdict(account_id, verdict, note=note, analyst=analyst)
            latest = store.verdict_history(account_id).iloc[-1]
        status = "confirmed" if verdict == S.LABEL_EXTRACTION else "cleared"
        info = {
            "id": row_id,
            "account_id": account_id,
            "verdict": verdict,
            "status": status,
            "note": note,
            "analyst": str(latest["analyst"]),
            "created_at": str(latest["created_at"]),
        }
        if as_json:
            typer.echo(json.dumps(info, indent=2))
        elif not quiet:
            console.print(
                f"{safe_terminal(account_id, markup=False)}: {verdict} ({status}) by "
                f"{safe_terminal(info['analyst'], markup=False)} at {info['created_at'][:19]}Z",
                markup=False,
            )

    @app.command("suppress")
    @user_errors
    def suppress_cmd(
        account_id: AccountArg,
        until: Annotated[
            str,
            typer.Option("--until", metavar="YYYY-MM-DD", help="Last UTC day suppressed."),
        ],
        reason: Annotated[str, typer.Option("--reason", help="Why (kept for audit).")],
        state: StateOpt,
        analyst: AnalystOpt = None,
        force: ForceOpt = False,
        quiet: QuietOpt = False,
        as_json: JsonOpt = False,
    ) -> None:
        """Never flag or alert ACCOUNT_ID through --until (inclusive).

        A new suppression replaces any active one of the account (to shorten or extend it).
        An account no run ever scored is refused (a typo) unless --force.

        Example: detector suppress acct_3f9a2c --until 2026-12-31 --reason "partner" --state st/
        """
        directory = _state_dir(state)
        day = parse_day(_required(until, "--until", "the last day, YYYY-MM-DD"), "--until")
        assert day is not None
        if day < _today():
            raise fail(f"--until: {day} is in the past (today is {_today()} UTC)")
        reason = _required(reason, "--reason", "say why the account is suppressed")
        with Store.open(directory) as store:
            _require_scored(store, account_id, force, directory)
            row_id = store.suppress(account_id, day, reason, analyst=analyst)
        info = {"id": row_id, "account_id": account_id, "until": day.isoformat(), "reason": reason}
        if as_json:
            typer.echo(json.dumps(info, indent=2))
        elif not quiet:
            console.print(
                f"{safe_terminal(account_id, markup=False)}: suppressed through {day}",
                markup=False,
            )

    @app.command("unsuppress")
    @user_errors
    def unsuppress_cmd(
        account_id: AccountArg,
        state: StateOpt,
        analyst: AnalystOpt = None,
        quiet: QuietOpt = False,
        as_json: JsonOpt = False,
    ) -> None:
        """Lift ACCOUNT_ID's suppression now (the record is kept for audit).

        Example: detector unsuppress acct_3f9a2c --state state/
        """
        directory = _state_dir(state)
        with Store.open(directory) as store:
            lifted = store.unsuppress(account_id, analyst=analyst)
        if as_json:
            typer.echo(json.dumps({"account_id": account_id, "lifted": lifted}))
        elif not quiet:
            name = safe_terminal(account_id, markup=False)
            console.print(
                f"{name}: suppression lifted" if lifted else f"{name}: no active suppression",
                markup=False,
            )

    @app.command("cases")
    @user_errors
    def cases_cmd(
        state: StateOpt,
        status: Annotated[
            CaseStatus | None, typer.Option("--status", help="Only cases with this status.")
        ] = None,
        on: Annotated[
            str | None,
            typer.Option("--on", metavar="YYYY-MM-DD", help="As of this UTC day (default: today)."),
        ] = None,
        as_json: JsonOpt = False,
    ) -> None:
        """List cases: open (alerted, no verdict), suppressed, confirmed and cleared.

        Open cases come first, then by status and score.

        Example: detector cases --status open --state state/
        """
        directory = _state_dir(state)
        if status is not None and status not in CASE_STATUSES:
            raise fail(f"--status: {status!r} is not one of {', '.join(CASE_STATUSES)}")
        day = parse_day(on, "--on") or _today()
        with Store.open(directory) as store:
            cases = store.cases(day, status)
        if as_json:
            records = [{k: _plain(v) for k, v in row.items()} for row in cases.to_dict("records")]
            typer.echo(json.dumps({"on": day.isoformat(), "cases": records}, indent=2))
            return
        if cases.empty:
            which = f"{status} " if status else ""
            console.print(f"no {which}cases as of {day}", markup=False)
            return
        counts = cases["status"].value_counts()
        title = f"Cases as of {day}: " + ", ".join(
            f"{int(counts[s])} {s}" for s in CASE_STATUSES if s in counts
        )
        t = Table(title=title)
        rows = [
            [
                _cell(r[S.ACCOUNT_ID]),
                _cell(r["status"]),
                "" if _plain(r["last_score"]) is None else f"{float(r['last_score']):.1f}",
                _cell(r["last_alert_date"]),
                _verdict_cell(r),
                _cell(r["suppressed_until"]),
                _cell(r["note"], 80),
            ]
            for r in cases.to_dict("records")  # one row per case
        ]
        columns = (
            ("account", {"no_wrap": True}),
            ("status", {"no_wrap": True}),
            ("score", {"justify": "right", "no_wrap": True}),
            ("alerted", {"no_wrap": True}),
            ("verdict", {"no_wrap": True}),
            ("suppressed\nuntil", {"no_wrap": True}),
            ("note", {"overflow": "fold", "min_width": 12}),
        )
        # columns empty for every listed case (e.g. no verdicts yet) are left out
        keep = [i for i in range(len(columns)) if i < 2 or any(row[i] for row in rows)]
        for i in keep:
            t.add_column(columns[i][0], **columns[i][1])
        for row in rows:
            t.add_row(*(row[i] for i in keep))
        console.print(t)
