"""``detector history`` (an account's score over the nightly runs) and ``detector pivot``
(every account sharing an address, network, card, template or user agent)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from detector import schema as S
from detector.cli.common import AccountsOpt, JsonOpt, console, fail, user_errors
from detector.cli.state_common import StateOpt, cell, shown, state_dir
from detector.context import score_history
from detector.safe import safe_terminal
from detector.store import Store


def register(app: typer.Typer) -> None:
    """Add ``history`` and ``pivot`` to ``app``."""

    @app.command("history")
    @user_errors
    def history_cmd(
        account_id: Annotated[str, typer.Argument(help="The account, exactly as in scores.csv.")],
        state: StateOpt,
        as_json: JsonOpt = False,
    ) -> None:
        """ACCOUNT_ID's score over the nightly runs: a sparkline on the 0-100 scale and
        one line per run (score, flag, case, band).

        Example: detector history acct_3f9a2c --state state/
        """
        directory = state_dir(state)
        with Store.open(directory) as store:
            info = score_history(store, account_id)
        if not info["runs"]:
            raise fail(
                f"{shown(account_id)}: no nightly run in {directory} scored this account; "
                "check the id (exactly as in scores.csv)"
            )
        if as_json:
            typer.echo(json.dumps(info, indent=2))
            return
        runs = info["runs"]
        console.print(
            f"{safe_terminal(account_id)}: {len(runs)} run(s) "
            f"{runs[0]['run_date']}..{runs[-1]['run_date']}  {info['sparkline']}  "
            f"(0-100; last {runs[-1][S.SCORE]:.1f})"
        )
        table = Table()
        for name in ("run", "score", "flag", "band", "case", "case score"):
            table.add_column(name, justify="right" if "score" in name else "left")
        for r in runs:  # one per run
            table.add_row(
                r["run_date"],
                f"{r[S.SCORE]:.1f}",
                "⚑" if r[S.FLAGGED] else "",
                cell(r[S.BAND]),
                cell(r[S.CASE_ID], 40),
                "" if r[S.CASE_SCORE] is None else f"{r[S.CASE_SCORE]:.1f}",
            )
        console.print(table)

    @app.command("pivot")
    @user_errors
    def pivot_cmd(
        scores: Annotated[
            Path, typer.Option("--scores", help="A SCORES.csv written by `detector score`.")
        ],
        ip: Annotated[str | None, typer.Option("--ip", help="A client IP address.")] = None,
        network: Annotated[
            str | None,
            typer.Option("--network", help="A network: an address or x.y.z.0/24, /48 for IPv6."),
        ] = None,
        card: Annotated[
            str | None, typer.Option("--card", help="A payment fingerprint (needs --accounts).")
        ] = None,
        template: Annotated[
            str | None,
            typer.Option("--template", help="A prompt: accounts sending prompts of its template."),
        ] = None,
        user_agent: Annotated[
            str | None, typer.Option("--user-agent", help="A user agent, exactly.")
        ] = None,
        log: Annotated[
            Path | None,
            typer.Option("--log", help="The request log (needed for all but --card)."),
        ] = None,
        accounts: AccountsOpt = None,
        as_json: JsonOpt = False,
    ) -> None:
        """Every account sharing one value -- an IP, a network, a card, a template or a
        user agent -- with its requests, score, flag and case.

        Example: detector pivot --network 203.0.113.0/24 --scores scores.csv --log sim/requests
        """
        from detector.pivot import PIVOT_KINDS, pivot

        given = {
            kind: value
            for kind, value in zip(
                PIVOT_KINDS, (ip, network, card, template, user_agent), strict=True
            )
            if value is not None
        }
        if len(given) != 1:
            raise fail(
                "give exactly one of --ip, --network, --card, --template, --user-agent "
                f"(got {len(given)})"
            )
        if not scores.is_file():
            raise fail(f"--scores: {scores} is not a file")
        kind, value = next(iter(given.items()))
        found = pivot(kind, value, scores=scores, log=log, accounts=accounts)
        if as_json:
            records = found.to_dict("records")
            typer.echo(json.dumps({"kind": kind, "value": value, "accounts": records}, default=str))
            return
        if found.empty:
            console.print(f"no scored account shares this {kind}", markup=False)
            return
        table = Table(title=f"{len(found)} account(s) sharing the {kind} {safe_terminal(value)}")
        for name in ("account", "requests", "score", "flag", "band", "case"):
            table.add_column(name, justify="right" if name in ("requests", "score") else "left")
        for r in found.to_dict("records"):  # one per account found
            table.add_row(
                cell(r[S.ACCOUNT_ID]),
                "" if r["requests"] is None else f"{int(r['requests']):,}",
                f"{r[S.SCORE]:.1f}",
                "⚑" if r[S.FLAGGED] else "",
                cell(r.get(S.BAND)),
                cell(r.get(S.CASE_ID), 40),
            )
        console.print(table)
