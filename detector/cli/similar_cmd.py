"""``detector similar``: the accounts nearest to an account or a case, in the model's space."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import numpy as np
import pandas as pd
import typer
from rich.table import Table

from detector import schema as S
from detector.cli.common import JsonOpt, console, fail, user_errors
from detector.config import DEFAULT
from detector.report import restore_ids
from detector.safe import safe_terminal
from detector.scoring import read_scores, sidecar
from detector.similar import DISTANCE, Neighbours, nearest, with_context

SCORE_CONTEXT = (S.ACCOUNT_ID, S.SCORE, S.RANK, S.FLAGGED, S.CLUSTER_ID)


def _space(scores: Path, model: Path | None) -> tuple[np.ndarray, np.ndarray]:
    """The preprocessed matrix and its account ids, from the sidecars (or the model)."""
    feats_path = sidecar(scores, "features")
    if not feats_path.exists():
        raise fail(f"{feats_path}: no feature table beside the scores; re-run `detector score`")
    space_path = sidecar(scores, "space")
    if model is None and space_path.exists():
        ids = pd.read_parquet(feats_path, columns=[]).index.astype(str).to_numpy(dtype=object)
        space = np.load(space_path, mmap_mode="r", allow_pickle=False)
        if space.shape[0] != len(ids):
            raise fail(f"{space_path}: {space.shape[0]} rows for {len(ids)} accounts; re-score")
        return space, ids
    from detector.artifacts import load_bundle

    meta_path = sidecar(scores, "meta")
    meta = json.loads(meta_path.read_text()) if meta_path.exists() else {}
    model = model or (Path(meta["model_path"]) if meta.get("model_path") else None)
    if model is None:
        raise fail(f"{scores}: no {space_path.name} and no model named; pass --model")
    bundle = load_bundle(model)
    features = pd.read_parquet(feats_path, columns=list(bundle.features))
    return bundle.model.transform(features), features.index.astype(str).to_numpy(dtype=object)


def _verdicts(state: Path | None) -> pd.Series | None:
    if state is None:
        return None
    from detector.verdicts import labels_from_store

    latest = labels_from_store(state, max_age_days=None)  # every latest verdict
    return latest.set_index(S.ACCOUNT_ID)[S.LABEL]


def render(found: Neighbours, table: pd.DataFrame) -> None:
    """Print the neighbours as a table (log-derived ids made terminal-safe)."""
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
            str, typer.Argument(help="An account id, or a case id (a cluster_id of the scores).")
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
        if not scores.is_file():
            raise fail(f"--scores: {scores} is not a file")
        table = read_scores(scores, columns=SCORE_CONTEXT)
        space, ids = _space(scores, model)
        table[S.ACCOUNT_ID] = restore_ids(table[S.ACCOUNT_ID], ids)
        cases = table.set_index(S.ACCOUNT_ID)[S.CLUSTER_ID]
        try:
            found = nearest(space, ids, query, cases=cases, k=k)
        except KeyError:
            raise fail(
                f"{scores}: {query!r} is neither one of {len(ids):,} scored accounts "
                "nor a cluster_id of the scores"
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
