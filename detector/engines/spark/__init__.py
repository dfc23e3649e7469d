"""The pipeline on Apache Spark: the same pure functions, run as Spark tasks.

Nothing here re-implements a feature, a validation rule or a score. Spark reads the
log and moves rows between machines; every decision is taken by the project's own
pandas functions running inside Spark tasks:

1. **Read, validate, annotate** (``mapInArrow``, one task per file split): Spark reads
   the files :func:`detector.ingest.discover` lists (partition pruning by ``date=``
   happens there, so pruned days are never opened), each batch becomes the same raw
   pandas frame the local readers make (Parquet with its file's own Arrow types, CSV
   as strings, JSON Lines parsed by the project's parser), and
   :func:`~detector.ingest.validate_frame` → :func:`~detector.ingest.finalize_dtypes`
   → :func:`detector.annotate.annotate` run on it. Every row leaves the task tagged
   with its position (file index in discovery order, split start, row id), so "first"
   means the same as in the local engine. The result (annotated rows without prompt
   text, quarantined rows as text) is cached.
2. **Dedupe** by ``request_id`` keeping the first row in file order, as the local
   :class:`~detector.ingest.Deduper` does: a window over the slim ``(request_id,
   account_id, position)`` columns only. A later row of the keeping account is a
   duplicate; another account's is quarantined (``request_id already used by another
   account``). The later rows are anti-joined away.
3. **Quarantine** rows (few by nature, reused ids among them) are collected in file
   order and written with the project's :class:`~detector.ingest.QuarantineWriter`; a
   reused row's raw cells are read again, narrowed to those rows.
4. **Population facts** (window, models' first appearance and row counts) are one
   Spark aggregation; the topic model is fitted on the driver on the same first chunk
   the local engine fits on (:func:`detector.topic_fit.fit_log_topics`, a chunk of
   ``Config.topic_fit_rows`` rows).
5. **Features** (``groupBy(bucket).applyInPandas``, bucket = hash(account_id) mod n):
   every account's rows meet in one task, sorted back into file order, and
   :func:`~detector.features.compute_bucket` and
   :func:`~detector.coordination.bucket_evidence` run on them. One row per account
   (features, first request, request count, sparse hourly activity) plus its few
   evidence keys come back to the driver, and one row per qualifying sub-stream
   (:func:`~detector.substreams.compute_substreams`, the same call as locally).
6. **Linking** (:func:`~detector.coordination.link_accounts`) runs on the driver on the
   collected evidence, as in the local engine.

Scoring (:func:`score_frame_spark`) broadcasts the fitted model and scores the feature
table in ``mapInPandas`` tasks (:func:`detector.scored.published_scores`); only ranking
and the threshold (:func:`detector.scored.alert_rows`, population-wide, one number per
account) run on the driver.

The modules, one concept each:

* :mod:`~detector.engines.spark.session`: the SparkSession and running a Spark action
  with readable errors;
* :mod:`~detector.engines.spark.readplan`: which files one Spark read covers (driver);
* :mod:`~detector.engines.spark.raw`: Spark's raw batches as the local readers' frames;
* :mod:`~detector.engines.spark.layout`: annotated columns on their way through Spark;
* :mod:`~detector.engines.spark.staging`: the read / validate / annotate task (step 1);
* :mod:`~detector.engines.spark.dedupe`: the dedupe by ``request_id`` and account
  (step 2);
* :mod:`~detector.engines.spark.ingest_report`: the ingest report's counts and the
  quarantine (steps 1–3, driver);
* :mod:`~detector.engines.spark.buckets`: the per-account feature task (step 5);
* :mod:`~detector.engines.spark.features`: :func:`build_features_spark`, the driver;
* :mod:`~detector.engines.spark.scoring`: :func:`score_frame_spark` and
  :func:`write_scores_parquet_spark`.

Importing this package imports no PySpark: the modules import it where they use it.
"""

from __future__ import annotations

from detector.engines.spark.features import build_features_spark
from detector.engines.spark.scoring import score_frame_spark, write_scores_parquet_spark
from detector.engines.spark.session import LOCAL_DEFAULTS, SESSION_DEFAULTS, get_spark

__all__ = [
    "LOCAL_DEFAULTS",
    "SESSION_DEFAULTS",
    "build_features_spark",
    "get_spark",
    "score_frame_spark",
    "write_scores_parquet_spark",
]
