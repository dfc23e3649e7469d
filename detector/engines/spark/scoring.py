"""Scoring on Spark: the per-account work of ``score_frame`` in Spark tasks.

:func:`score_frame_spark` broadcasts the fitted model and scores the feature table in
``mapInPandas`` tasks; only ranking and the threshold (population-wide, one number per
account) run on the driver. :func:`write_scores_parquet_spark` writes the score table
with Spark, so the target may be any URI the cluster can write.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from detector.config import DEFAULT
from detector.engines.spark.session import get_spark, is_local_master, run_job

if TYPE_CHECKING:
    from detector.model import AnomalyModel

__all__ = ["output_uri", "score_frame_spark", "write_scores_parquet_spark"]


def score_frame_spark(
    model: AnomalyModel,
    features: pd.DataFrame,
    *,
    threshold: float | None = None,
    budget: str | int | None = None,
    explain_top: int | None = None,
    n_reasons: int = DEFAULT.n_reasons,
    spark_master: str = "local[*]",
    spark_conf: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """:func:`detector.scored.score_frame` with the per-account work in Spark tasks.

    The model is broadcast once; pass 1 scores every account (the forests), the driver
    ranks and thresholds (one float per account), pass 2 writes every account's
    reasons (forest attribution for the flagged and top-ranked, as locally). Returns
    the same table as the local method.
    """
    from detector import explain
    from detector.ranking import check_alert_rule, score_table
    from detector.scored import alert_rows, published_scores

    check_alert_rule(threshold, budget)  # before a session starts
    ids, values = model.feature_values(features)
    n = len(ids)
    spark = get_spark(spark_master, spark_conf)
    sc = spark.sparkContext
    cols = [f"v{j}" for j in range(values.shape[1])]
    frame = pd.DataFrame(values, columns=cols)
    frame.insert(0, "_pos", np.arange(n, dtype=np.int64))
    slices = max(1, min(sc.defaultParallelism * 2, math.ceil(n / 2_000)))
    from pyspark import StorageLevel

    sdf = spark.createDataFrame(frame).repartition(slices).persist(StorageLevel.MEMORY_AND_DISK)
    b_model = sc.broadcast(model)
    b_rows = None
    try:

        def scores_of(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
            m = b_model.value
            for pdf in batches:
                score = published_scores(m, pdf[cols].to_numpy(dtype=np.float64))
                yield pd.DataFrame({"_pos": pdf["_pos"].to_numpy(), "score": score})

        got = run_job(
            "score accounts",
            lambda: sdf.mapInPandas(scores_of, "_pos long, score double").toArrow(),
            spark,
        )
        scores = np.empty(n, dtype=np.float64)
        scores[got.column("_pos").to_numpy()] = got.column("score").to_numpy()
        alerts = alert_rows(
            scores,
            ids,
            threshold=threshold,
            budget=budget,
            default=model.threshold_,
            explain_top=explain_top,
        )
        b_rows = sc.broadcast(alerts.forest_rows)
        rows_bc = b_rows

        def reasons_of(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
            m = b_model.value
            chosen = rows_bc.value
            for pdf in batches:
                pos = pdf["_pos"].to_numpy()
                text = explain.reason_strings_for_values(
                    m,
                    pdf[cols].to_numpy(dtype=np.float64),
                    forest_rows=chosen[pos],
                    n_reasons=n_reasons,
                )
                yield pd.DataFrame({"_pos": pos, "reasons": text})

        got = run_job(
            "explain scores",
            lambda: sdf.mapInPandas(reasons_of, "_pos long, reasons string").toArrow(),
            spark,
        )
        reasons = np.empty(n, dtype=object)
        reasons[got.column("_pos").to_numpy()] = np.asarray(
            got.column("reasons").to_pylist(), dtype=object
        )
    finally:
        with contextlib.suppress(Exception):  # never mask the error that got us here
            sdf.unpersist()
            b_model.destroy()
            if b_rows is not None:
                b_rows.destroy()
    return score_table(ids, scores, alerts.ranks, alerts.flagged, reasons)


def output_uri(path: str, master: str) -> str:
    """Where Spark should write ``path``, given the master the session actually runs on.

    A path with a scheme (``s3a://…``, ``hdfs://…``, ``file://…``) is kept. A
    scheme-less path under a local master is this machine's file: made absolute with
    ``file://``, so a ``fs.defaultFS`` in the environment cannot send it elsewhere.
    Under a cluster master (``yarn``, ``spark://``, ``k8s://``) it is left to the
    cluster's default file system, as ``spark-submit`` users expect.
    """
    if "://" in path or not is_local_master(master):
        return path
    return "file://" + str(Path(path).resolve())


def write_scores_parquet_spark(
    scores: pd.DataFrame,
    path: str,
    *,
    spark_master: str = "local[*]",
    spark_conf: Mapping[str, str] | None = None,
) -> str:
    """Write the score table with Spark (a directory of part files); returns ``path``.

    The path is resolved against the session's own master (:func:`output_uri`), not
    ``spark_master``: under ``spark-submit`` the submitted master wins over the
    ``--spark-master`` default, and the session may be one that already existed.
    """
    spark = get_spark(spark_master, spark_conf)
    target = output_uri(path, spark.sparkContext.master)
    frame = scores.copy()
    for c in frame.columns:
        if frame[c].dtype == object:
            frame[c] = frame[c].astype(str)
    run_job(
        "write scores as Parquet",
        lambda: spark.createDataFrame(frame).coalesce(1).write.mode("overwrite").parquet(target),
        spark,
    )
    return path
