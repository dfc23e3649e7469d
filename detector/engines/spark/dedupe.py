"""Dedupe by ``request_id`` on Spark, as the local :class:`~detector.ingest.Deduper` decides.

The rule (the local engine's): an id's *keeper* is the account of its first kept row in
file order (a row quarantined for a rule keeps nothing). A later row of the id from the
keeper's account is an at-least-once re-delivery, a *duplicate*; from any other
account it is another request, *reused*, quarantined with
:data:`~detector.schema.REASON_ID_REUSED`. The keeper never changes: for rows of
accounts A, B, A, B with one id, A's first row is kept, the second A row is a
duplicate and both B rows are quarantined.

:func:`dedupe` is one window over the slim ``(request_id, account_id, position)``
columns: the row number finds the later rows, the window's first account is the
keeper. No row goes to the driver.

Reused rows go to the quarantine file with their raw cells, which the cached kept
rows do not carry (their prompts would double the cache): :func:`reused_text` reads
the log again, narrowed to those rows by position before any Python runs.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pandas as pd

from detector import schema as S
from detector.engines.spark.readplan import ReadGroup, norm_path, read_group
from detector.engines.spark.session import run_job
from detector.engines.spark.staging import (
    POSITION,
    STATE_KEPT,
    StagePlan,
    stage_schema,
    text_task,
)

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

__all__ = ["REUSED", "Deduped", "dedupe", "reused_text"]


REUSED = "_reused"
"""Whether a later row of a ``request_id`` is another account's (else a duplicate)."""


@dataclass(frozen=True)
class Deduped:
    """What :func:`dedupe` found."""

    kept: DataFrame
    """The staged kept rows less every later row of an id."""
    reused: DataFrame
    """The reused rows: their position, ``request_id`` and ``account_id``."""
    duplicates: int
    reused_rows: int
    cached: tuple[DataFrame, ...]
    """DataFrames persisted here: the caller unpersists them when done."""


def dedupe(spark: SparkSession, staged: DataFrame) -> Deduped:
    """The staged kept rows deduplicated by ``request_id``, and the later rows sorted
    into duplicates and reused ids (see the module docstring); one Spark job counts both.
    """
    from pyspark import StorageLevel
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    kept_rows = staged.where(F.col("_state") == STATE_KEPT)
    first = Window.partitionBy(S.REQUEST_ID).orderBy(*POSITION)
    later = (
        kept_rows.select(S.REQUEST_ID, S.ACCOUNT_ID, *POSITION)
        .withColumn("_rn", F.row_number().over(first))
        .withColumn("_keeper", F.first(S.ACCOUNT_ID).over(first))
        .where(F.col("_rn") > 1)
        .select(
            *POSITION,
            S.REQUEST_ID,
            S.ACCOUNT_ID,
            (F.col(S.ACCOUNT_ID) != F.col("_keeper")).alias(REUSED),
        )
        .persist(StorageLevel.MEMORY_AND_DISK)
    )
    counts = run_job(
        "find repeated request ids",
        lambda: later.groupBy(REUSED).count().collect(),
        spark,
    )
    by_kind = {bool(r[REUSED]): int(r["count"]) for r in counts}
    kept = kept_rows
    if by_kind:
        kept = kept_rows.join(later.select(*POSITION), list(POSITION), "left_anti")
    return Deduped(
        kept=kept,
        reused=later.where(F.col(REUSED)).select(*POSITION, S.REQUEST_ID, S.ACCOUNT_ID),
        duplicates=by_kind.get(False, 0),
        reused_rows=by_kind.get(True, 0),
        cached=(later,),
    )


def reused_text(
    spark: SparkSession, groups: Sequence[ReadGroup], plan: StagePlan, rows: pd.DataFrame
) -> pd.DataFrame:
    """The raw cells (``q_<column>``) of the kept rows at ``rows``' positions, read again.

    ``rows`` holds :data:`POSITION` and the ``q_request_id`` / ``q_account_id`` the rows
    were kept with. Each group whose files hold one of the rows is read again as in
    the read stage, so every row gets the same position; a semi-join on the position
    leaves only those rows for :func:`~detector.engines.spark.staging.text_task`. The
    ids and accounts read again must be the ones kept at those positions, or this
    raises rather than quarantine another row's cells.
    """
    from pyspark.sql import functions as F

    keys = spark.createDataFrame(rows[["_b", "_m"]].astype("int64").drop_duplicates())
    wanted = set(rows["_f"].astype(int))
    schema = stage_schema()
    q_cols = [f"q_{c}" for c in S.ALL_COLUMNS]
    parts = [
        read_group(spark, g)
        .join(F.broadcast(keys), ["_b", "_m"], "left_semi")
        .mapInArrow(text_task(g, plan), schema)
        for g in groups
        # a path the plan cannot map back (glob characters) is read, to be sure
        if {plan.paths.get(norm_path(u), -1) for u in g.uris} & (wanted | {-1})
    ]
    found = run_job(
        "read the rows of reused request ids again",
        lambda: (
            functools.reduce(lambda a, b: a.unionByName(b), parts)
            .select(*POSITION, *q_cols)
            .toArrow()
            .to_pandas()
        ),
        spark,
    )
    at = list(POSITION)
    out = rows[at].merge(found, on=at, how="left", validate="one_to_one")
    ids = [f"q_{S.REQUEST_ID}", f"q_{S.ACCOUNT_ID}"]
    if not out[ids].eq(rows[ids].reset_index(drop=True)).all(axis=None):
        raise RuntimeError(
            "reading the log again did not give the rows of reused request ids at the "
            "positions the first read gave them; the quarantine file was not written"
        )
    return out
