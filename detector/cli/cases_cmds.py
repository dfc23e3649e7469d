"""The analysts' decisions on the command line: ``label``, ``suppress`` and ``unsuppress``,
on one account or on a whole case.

Verdicts and suppressions live in the SQLite store under ``--state DIR`` (see
:mod:`detector.store`), the same one ``detector score --state``, ``detector evaluate
--state`` and the nightly job read: a cleared account stops being re-raised (until its
benign verdict expires, or its score rises well above the one the verdict answered), a
suppressed one is never alerted until its suppression ends, and confirmed verdicts
become evaluation labels. Every value reaches SQL as a bound parameter.

Given a case id (a cluster, as ``detector cases`` lists it) a decision is recorded for
every member, each row naming the case, in one transaction; a later ``label`` of the
case supersedes it for every member (verdicts are append-only, the latest counts), and
``unsuppress`` of the case lifts every member's suppression.

None of these commands creates a store: a mistyped ``--state`` is an error, not a
new empty state (``detector init --state DIR`` or the first nightly run create one).
An account id that no run ever scored is refused unless ``--force``: a typo would
otherwise record a decision about nobody.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from detector import schema as S
from detector.casefile import plain
from detector.cli.common import JsonOpt, QuietOpt, console, fail, parse_day, user_errors
from detector.cli.state_common import (
    AnalystOpt,
    ForceOpt,
    StateOpt,
    Target,
    Verdict,
    required,
    resolve_target,
    state_dir,
    today,
)
from detector.safe import safe_terminal
from detector.store import Store

TargetArg = Annotated[
    str,
    typer.Argument(
        help="An account id exactly as in SCORES.csv, or a case id from `detector cases` "
        "(applies to every member).",
    ),
]
CaseFlag = Annotated[
    bool,
    typer.Option("--case", help="The id is a case id (when it is an account id too)."),
]


def _name(target: Target) -> str:
    """How a target is named in a confirmation line (terminal-safe)."""
    ident = safe_terminal(target.ident, markup=False)
    if target.kind == "case":
        return f"case {ident} ({len(target.members)} member(s))"
    return ident


def _emit(info: dict[str, Any], line: str, *, as_json: bool, quiet: bool) -> None:
    if as_json:
        typer.echo(json.dumps(info, indent=2))
    elif not quiet:
        console.print(line, markup=False)


def register(app: typer.Typer) -> None:
    """Add ``label``, ``suppress`` and ``unsuppress`` to ``app``."""

    @app.command("label")
    @user_errors
    def label_cmd(
        account_or_case: TargetArg,
        verdict: Annotated[Verdict, typer.Option("--verdict", help="The analyst's verdict.")],
        note: Annotated[str, typer.Option("--note", help="Why: what you saw (kept for audit).")],
        state: StateOpt,
        analyst: AnalystOpt = None,
        force: ForceOpt = False,
        as_case: CaseFlag = False,
        quiet: QuietOpt = False,
        as_json: JsonOpt = False,
    ) -> None:
        """Record an analyst's verdict on an account or on every member of a case.

        extraction confirms; benign clears, so the nightly job stops re-raising the
        account -- until the benign verdict expires (90 days) or the score rises by the
        rise margin over the score the verdict answered. Verdicts are append-only: a
        later label supersedes (that is how a verdict is reversed). Verdicts are labels
        for `detector evaluate --state`.

        Example: detector label c-dad6236439 --verdict extraction --note "one op" --state st/
        """
        directory = state_dir(state)
        verdict = required(verdict, "--verdict", "extraction or benign")
        if verdict not in S.LABELS:
            raise fail(f"--verdict: {verdict!r} is not one of {', '.join(S.LABELS)}")
        note = required(note, "--note", "say what the verdict rests on")
        with Store.open(directory) as store:
            target = resolve_target(
                store, account_or_case, directory=directory, force=force, as_case=as_case
            )
            ids = store.add_verdicts(  # one row per member, in one transaction
                target.members, verdict, note=note, analyst=analyst, case_id=target.case_id
            )
            latest = store.verdict_details(latest=True).set_index(S.ACCOUNT_ID)
        first = latest.loc[target.members[0]]
        expires = plain(first["expires"])
        status = "confirmed" if verdict == S.LABEL_EXTRACTION else "cleared"
        info = {
            "id": ids[0] if target.kind == "account" else ids,
            "account_id" if target.kind == "account" else "case_id": target.ident,
            "members": list(target.members),
            "verdict": verdict,
            "status": status,
            "note": note,
            "analyst": str(first["analyst"]),
            "created_at": str(first["created_at"]),
            "expires": expires,
        }
        until = f", expires {expires}" if expires else ""
        _emit(
            info,
            f"{_name(target)}: {verdict} ({status}{until}) by "
            f"{safe_terminal(info['analyst'], markup=False)} at {info['created_at'][:19]}Z",
            as_json=as_json,
            quiet=quiet,
        )

    @app.command("suppress")
    @user_errors
    def suppress_cmd(
        account_or_case: TargetArg,
        until: Annotated[
            str,
            typer.Option("--until", metavar="YYYY-MM-DD", help="Last UTC day suppressed."),
        ],
        reason: Annotated[str, typer.Option("--reason", help="Why (kept for audit).")],
        state: StateOpt,
        analyst: AnalystOpt = None,
        force: ForceOpt = False,
        as_case: CaseFlag = False,
        quiet: QuietOpt = False,
        as_json: JsonOpt = False,
    ) -> None:
        """Never alert an account, or every member of a case, through --until (inclusive).

        A new suppression replaces any active one of the account (to shorten or extend
        it). For orgs, cards and user-agent or template patterns see `detector rules`.

        Example: detector suppress acct_3f9a2c --until 2026-12-31 --reason "partner" --state st/
        """
        directory = state_dir(state)
        day = parse_day(required(until, "--until", "the last day, YYYY-MM-DD"), "--until")
        assert day is not None
        if day < today():
            raise fail(f"--until: {day} is in the past (today is {today()} UTC)")
        reason = required(reason, "--reason", "say why the account is suppressed")
        with Store.open(directory) as store:
            target = resolve_target(
                store, account_or_case, directory=directory, force=force, as_case=as_case
            )
            ids = store.suppress_many(  # one row per member, in one transaction
                target.members, day, reason, analyst=analyst, case_id=target.case_id
            )
        info = {
            "id": ids[0] if target.kind == "account" else ids,
            "account_id" if target.kind == "account" else "case_id": target.ident,
            "members": list(target.members),
            "until": day.isoformat(),
            "reason": reason,
        }
        _emit(info, f"{_name(target)}: suppressed through {day}", as_json=as_json, quiet=quiet)

    @app.command("unsuppress")
    @user_errors
    def unsuppress_cmd(
        account_or_case: TargetArg,
        state: StateOpt,
        analyst: AnalystOpt = None,
        as_case: CaseFlag = False,
        quiet: QuietOpt = False,
        as_json: JsonOpt = False,
    ) -> None:
        """Lift the suppression of an account, or of every member of a case, now.

        The records are kept for audit.

        Example: detector unsuppress acct_3f9a2c --state state/
        """
        directory = state_dir(state)
        with Store.open(directory) as store:
            target = resolve_target(
                store, account_or_case, directory=directory, force=True, as_case=as_case
            )
            with store.transaction():
                lifted = sum(store.unsuppress(m, analyst=analyst) for m in target.members)
        info = {
            "account_id" if target.kind == "account" else "case_id": target.ident,
            "lifted": lifted,
        }
        name = _name(target)
        line = f"{name}: suppression lifted" if lifted else f"{name}: no active suppression"
        _emit(info, line, as_json=as_json, quiet=quiet)
