"""``detector similar``: the accounts nearest to an account or a case, in the model's space."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import numpy as np
import pandas as pd
import typer
from rich.table import Table

from detector import schema as S
from detector.cli.common import JsonOpt, console, fail, user_errors
from detector.config import DEFAULT
from detector.outputs import Scoring, check_model, read_scoring, read_space
from detector.safe import safe_terminal

if TYPE_CHECKING:
    from detector.similar import Neighbours


def _space(scoring: Scoring, model: Path | None) -> tuple[np.ndarray, np.ndarray]:
    """The preprocessed matrix and its account ids: the space sidecar, or the model's."""
    space = read_space(scoring) if model is None else None
    if space is not None:
        return space.to_numpy(dtype=np.float32), space.index.to_numpy(dtype=object)
    from detector.artifacts import load_bundle

    path = model or (Path(scoring.meta["model_path"]) if scoring.meta.get("model_path") else None)
    if path is None:
        raise fail(f"{scoring.path}: no space sidecar and no model named; pass --model")
    bundle = load_bundle(path)
    check_model(scoring, bundle, model)
    frame = read_scoring(scoring.path).features
    if frame is None:
        raise fail(f"{scoring.path}: no feature table beside the scores; re-run `detector score`")
    features = frame[list(bundle.features)]
    return bundle.model.transform(features), features.index.to_numpy(dtype=object)


def _verdicts(state: Path | None) -> pd.Series | None:
    if state is None:
        return None
    from detector.verdicts import labels_from_store

    latest = labels_from_store(state, max_age_days=None)  # every latest verdict
    return latest.set_index(S.ACCOUNT_ID)[S.LABEL]


def render(found: Neighbours, table: pd.DataFrame) -> None:
    """Print the neighbours as a table (log-derived ids made terminal-safe)."""
    from detector.similar import DISTANCE

    what = (
        f"case {found.query} ({len(found.members)} accounts)"
        if found.kind == "case"
        else (f"account {found.query}")
    )
    t = Table(title=f"Accounts most like {safe_terminal(what)}")
    for col in ("#", "account", "distance", "score", "rank", "flagged", "cluster", "verdict"):
        t.add_column(col, justify="right" if col in ("#", "distance", "score", "rank") else "left")
    for i, row in enumerate(table.itertuples(index=False), 1):
        r = row._asdict()
        t.add_row(
            str(i),
            safe_terminal(r[S.ACCOUNT_ID]),
            f"{r[DISTANCE]:.2f}",
            "" if pd.isna(r[S.SCORE]) else f"{r[S.SCORE]:.1f}",
            "" if pd.isna(r[S.RANK]) else f"{int(r[S.RANK]):,}",
            "yes" if bool(r[S.FLAGGED]) else "",
            safe_terminal(r[S.CLUSTER_ID] or ""),
            str(r["verdict"]),
        )
    console.print(t)


def register(app: typer.Typer) -> None:
    """Add ``similar`` to ``app``."""

    @app.command("similar")
    @user_errors
    def similar_cmd(
        query: Annotated[
            str,
            typer.Argument(
                help="An account id, or a case id (case_id of the scores: a cluster's id)."
            ),
        ],
        scores: Annotated[
            Path,
            typer.Option(
                "--scores", help="A SCORES.csv written by `detector score` (with its sidecars)."
            ),
        ],
        k: Annotated[
            int, typer.Option("-k", help="How many accounts to list.", min=1)
        ] = DEFAULT.similar_k,
        state: Annotated[
            Path | None,
            typer.Option("--state", help="State dir: show each account's latest verdict."),
        ] = None,
        model: Annotated[
            Path | None,
            typer.Option(
                "--model", help="Model bundle to measure with (default: the scores' own space)."
            ),
        ] = None,
        as_json: JsonOpt = False,
    ) -> None:
        """The accounts that behave most like ACCOUNT_ID or CASE_ID, nearest first.

        Near means unusual in the same ways: distance in the model's preprocessed
        feature space. A case's query point is its members' centroid; the account itself
        (or the case's members) is left out. Scores come from --scores, verdicts from
        --state.

        Example: detector similar acct_3f9a2c --scores scores.csv --state state/ -k 20
        """
        from detector.similar import nearest, with_context  # scikit-learn's neighbours

        if not scores.is_file():
            raise fail(f"--scores: {scores} is not a file")
        scoring = read_scoring(scores, features=False)
        table = scoring.table
        space, ids = _space(scoring, model)
        case_column = S.CASE_ID if S.CASE_ID in table.columns else S.CLUSTER_ID
        cases = table.set_index(S.ACCOUNT_ID)[case_column]
        try:
            found = nearest(space, ids, query, cases=cases, k=k)
        except KeyError:
            raise fail(
                f"{scores}: {query!r} is neither one of {len(ids):,} scored accounts "
                f"nor a {case_column} of the scores"
            ) from None
        rows = with_context(found, table, _verdicts(state))
        if as_json:
            out = {
                "query": found.query,
                "kind": found.kind,
                "members": list(found.members),
                "neighbours": json.loads(rows.to_json(orient="records")),
            }
            typer.echo(json.dumps(out, indent=2))
            return
        render(found, rows)
