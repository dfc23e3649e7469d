"""More like this: the accounts nearest to an account, or to a case, in the model's space.

An analyst who has confirmed one account wants its look-alikes, including those no
card, network or template links to it (a campaign run from fresh infrastructure).
"Near" is measured in the model's preprocessed space
(:meth:`~detector.model.AnomalyModel.transform`): every feature log/robust-scaled and
clipped on its harmless side, so two accounts are close when they are unusual in the
same ways, and differences in harmless directions (one chat product more diverse than
another) do not count. Distances are Euclidean, in units of a typical account's spread
per feature.

A **case** is, for now, a coordination cluster (``cluster_id`` in the scores): its
query point is the centroid of its members, and its members are left out of the
answer (they are already known). An account is left out of its own answer.

The matrix comes from the scores' ``SCORES.space.npy`` sidecar (written by
``detector score``) so a query does not load the model; without it, the model is
loaded and the feature table transformed (slower, same answer).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
import pandas as pd
from sklearn.neighbors import NearestNeighbors

from detector import schema as S
from detector.config import DEFAULT

__all__ = ["DISTANCE", "Neighbours", "nearest", "with_context"]

DISTANCE: Final = "distance"
"""Column of :attr:`Neighbours.table`: Euclidean distance in the model's space."""


@dataclass(frozen=True)
class Neighbours:
    """The answer to one query.

    Attributes
    ----------
    query : the account or case id asked about.
    kind : ``"account"`` or ``"case"``.
    members : the accounts the query point was built from (the account, or the case's
        members); none of them is in ``table``.
    table : ``account_id, distance``, nearest first (ties by ``account_id``).
    """

    query: str
    kind: str
    members: tuple[str, ...]
    table: pd.DataFrame


def nearest(
    space: np.ndarray,
    ids: np.ndarray,
    query: str,
    *,
    cases: pd.Series | None = None,
    k: int = DEFAULT.similar_k,
) -> Neighbours:
    """The ``k`` accounts nearest to ``query`` (an account id or a case id).

    Parameters
    ----------
    space : preprocessed matrix, one row per account (float32).
    ids : the account ids of ``space``'s rows.
    query : an account id among ``ids``, else a case id among ``cases``' values.
    cases : each account's case (cluster) id, empty for none, indexed by account id.
    k : how many accounts to return (fewer when the population is smaller).

    Returns
    -------
    :class:`Neighbours`.

    Raises
    ------
    KeyError
        When ``query`` is neither a known account nor a known case.
    """
    if k < 1:
        raise ValueError(f"-k must be at least 1, got {k}")
    index = pd.Index(np.asarray(ids, dtype=object))
    row = index.get_indexer([query])[0]
    if row >= 0:
        kind, members = "account", np.array([row])
    else:
        member_ids = cases.index[(cases == query).to_numpy()] if cases is not None and query else []
        members = index.get_indexer(pd.Index(member_ids, dtype=object))
        members = members[members >= 0]
        if len(members) == 0:
            raise KeyError(query)
        kind = "case"
    point = np.asarray(space[members], dtype=np.float32).mean(axis=0, keepdims=True)
    wanted = min(k + len(members), len(index))
    finder = NearestNeighbors(n_neighbors=wanted, algorithm="brute").fit(space)
    dist, rows = finder.kneighbors(point)
    keep = ~np.isin(rows[0], members)
    table = pd.DataFrame({S.ACCOUNT_ID: index.to_numpy()[rows[0][keep]], DISTANCE: dist[0][keep]})
    table = table.sort_values([DISTANCE, S.ACCOUNT_ID], kind="stable").head(k)
    return Neighbours(
        query=query,
        kind=kind,
        members=tuple(str(index[m]) for m in members),
        table=table.reset_index(drop=True),
    )


def with_context(
    found: Neighbours, scores: pd.DataFrame, verdicts: pd.Series | None = None
) -> pd.DataFrame:
    """The neighbours with their ``score, rank, flagged, cluster_id`` and ``verdict``.

    ``verdicts`` is each account's latest verdict (indexed by account id); accounts
    without one, or no store at all, get an empty verdict.
    """
    cols = [S.SCORE, S.RANK, S.FLAGGED, S.CLUSTER_ID]
    table = found.table.join(scores.set_index(S.ACCOUNT_ID)[cols], on=S.ACCOUNT_ID)
    verdict = pd.Series("", index=table.index, dtype=object)
    if verdicts is not None:
        verdict = table[S.ACCOUNT_ID].map(verdicts).fillna("").astype(object)
    return table.assign(verdict=verdict)
