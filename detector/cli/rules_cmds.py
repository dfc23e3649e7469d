"""``detector rules list|add|remove``: suppression rules kept in the state store.

A rule keeps alerts quiet for every account it covers -- by account, case, org,
payment card, or a pattern on the user agent or the prompt template -- through its
``--until`` day, with a ``--reason`` (both required). The nightly job applies the
active rules when it selects tonight's alerts (see :mod:`detector.rules`). Values and
patterns reach SQL only as bound parameters; patterns are checked (length, Python
``re`` and RE2 syntax) before they are stored.
"""

from __future__ import annotations

import json
from typing import Annotated, Literal

import typer
from rich.table import Table

from detector.casefile import plain
from detector.cli.base import DetectorTyper
from detector.cli.common import JsonOpt, QuietOpt, console, fail, parse_day, user_errors
from detector.cli.state_common import (
    AnalystOpt,
    OnOpt,
    StateOpt,
    cell,
    required,
    state_dir,
    today,
)
from detector.rules import RULE_FIELDS
from detector.store import Store

RuleField = Literal[RULE_FIELDS]  # type: ignore[valid-type]

rules_app = DetectorTyper(
    name="rules",
    help="Suppression rules by account, case, org, card, or user-agent / template pattern.\n\n"
    "Example: detector rules add --field org --value org_acme --until 2026-12-31 "
    '--reason "contracted evals" --state state/',
    no_args_is_help=True,
)


@rules_app.command("list")
@user_errors
def list_cmd(
    state: StateOpt,
    on: OnOpt = None,
    removed: Annotated[
        bool, typer.Option("--removed", help="Also rules removed or expired (audit).")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """List the rules active on --on (default today), or with --removed every rule.

    Example: detector rules list --state state/ --json
    """
    directory = state_dir(state)
    day = None if removed else parse_day(on, "--on") or today()
    with Store.open(directory) as store:
        rules = store.rules_frame(day, include_removed=removed)
    records = [{k: plain(v) for k, v in r.items()} for r in rules.to_dict("records")]
    if as_json:
        typer.echo(json.dumps({"on": None if day is None else str(day), "rules": records}))
        return
    if not records:
        console.print("no rules" + ("" if day is None else f" active on {day}"), markup=False)
        return
    table = Table(title="Suppression rules" + ("" if day is None else f" active on {day}"))
    for name in ("id", "field", "value", "until", "reason", "by", "removed"):
        table.add_column(name, overflow="fold")
    for r in records:  # one per rule
        table.add_row(
            str(r["rule_id"]),
            cell(r["field"]),
            cell(r["value"], 80),
            cell(r["until"]),
            cell(r["reason"], 80),
            cell(r["analyst"], 20),
            cell(r["removed_at"], 19),
        )
    console.print(table)


@rules_app.command("add")
@user_errors
def add_cmd(
    field: Annotated[RuleField, typer.Option("--field", help="What the rule names.")],
    value: Annotated[
        str,
        typer.Option(
            "--value",
            help="The account / case / org id or card fingerprint, or for user_agent and "
            "template a regular expression (RE2 syntax, searched anywhere; ^...$ to anchor).",
        ),
    ],
    until: Annotated[
        str, typer.Option("--until", metavar="YYYY-MM-DD", help="Last UTC day it applies.")
    ],
    reason: Annotated[str, typer.Option("--reason", help="Why (kept for audit).")],
    state: StateOpt,
    analyst: AnalystOpt = None,
    quiet: QuietOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Add a rule: alerts of the accounts it covers stay quiet through --until.

    A user_agent rule covers an account when every user agent it sent matches; a
    template rule when every prompt's opening matches.

    Example: detector rules add --field user_agent --value '^acme-evals/' --until 2026-12-31
    --reason "eval vendor" --state state/
    """
    directory = state_dir(state)
    day = parse_day(required(until, "--until", "the last day, YYYY-MM-DD"), "--until")
    reason = required(reason, "--reason", "say why the rule exists")
    with Store.open(directory) as store:
        rule_id = store.add_rule(field, value, day, reason, analyst=analyst)
    info = {"rule_id": rule_id, "field": field, "value": value, "until": str(day)}
    if as_json:
        typer.echo(json.dumps(info))
    elif not quiet:
        console.print(f"rule {rule_id}: {field} rule through {day}", markup=False)


@rules_app.command("remove")
@user_errors
def remove_cmd(
    rule_id: Annotated[int, typer.Argument(help="The rule's id (`detector rules list`).")],
    state: StateOpt,
    analyst: AnalystOpt = None,
    quiet: QuietOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Remove a rule now (kept for audit: `detector rules list --removed`).

    Example: detector rules remove 3 --state state/
    """
    directory = state_dir(state)
    with Store.open(directory) as store:
        removed = store.remove_rule(rule_id, analyst=analyst)
    if not removed:
        raise fail(f"rule {rule_id}: no active rule with this id in {directory}")
    if as_json:
        typer.echo(json.dumps({"rule_id": rule_id, "removed": True}))
    elif not quiet:
        console.print(f"rule {rule_id}: removed", markup=False)


def register(app: typer.Typer) -> None:
    """Add the ``rules`` group to ``app``."""
    app.add_typer(rules_app, name="rules")
