"""Execution engines: where the pipeline's pure functions run.

``local`` (the default) is the embedded engine of :mod:`detector.pipeline`: one process,
account-hash buckets spilled to local Parquet. ``spark`` runs the *same* functions
(validation, annotation, ``compute_bucket``, ``bucket_evidence``, the model's scoring)
as PySpark tasks, see :mod:`detector.engines.spark`; it needs the optional extra
(``pip install 'detector[spark]'``) and Java 17+.

This module imports no PySpark: the local engine never pays for it, and choosing the
Spark engine on a machine without it is a one-line user error, not an ImportError.
"""

from __future__ import annotations

import functools
import os
import shutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import pandas as pd

from detector.errors import UserError

if TYPE_CHECKING:
    from detector.model import AnomalyModel
    from detector.pipeline import FeatureResult

Engine = Literal["local", "spark"]
ENGINES: tuple[str, ...] = ("local", "spark")
DEFAULT_SPARK_MASTER = "local[*]"


@dataclass(frozen=True)
class SparkOptions:
    """How to reach Spark: the master URL and pass-through Spark configuration."""

    master: str = DEFAULT_SPARK_MASTER
    conf: Mapping[str, str] = field(default_factory=dict)


def parse_spark_conf(items: Sequence[str] | None) -> dict[str, str]:
    """``["k=v", ...]`` (repeatable ``--spark-conf``) as a dict; a bad item is a UserError."""
    conf: dict[str, str] = {}
    for item in items or ():
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UserError(
                f"--spark-conf {item!r}: expected KEY=VALUE, e.g. spark.executor.memory=8g"
            )
        conf[key.strip()] = value.strip()
    return conf


def check_engine(engine: str) -> Engine:
    """Validate an engine name (and, for ``spark``, that PySpark and Java are there)."""
    if engine not in ENGINES:
        raise UserError(f"unknown engine {engine!r}; expected one of {', '.join(ENGINES)}")
    if engine == "spark":
        require_spark()
    return engine  # type: ignore[return-value]


def require_spark() -> None:
    """Raise a UserError naming what to install when the Spark engine cannot run here."""
    try:
        import pyspark  # noqa: F401
    except ImportError:
        raise UserError(
            "--engine spark needs PySpark: install the extra with pip install 'detector[spark]'"
        ) from None
    java_home = os.environ.get("JAVA_HOME")
    has_java = shutil.which("java") is not None or (
        java_home is not None and (Path(java_home) / "bin" / "java").exists()
    )
    if not has_java:
        raise UserError("--engine spark needs Java 17 or newer (no java on PATH or in JAVA_HOME)")


def feature_builder(
    engine: Engine = "local", spark: SparkOptions | None = None
) -> Callable[..., FeatureResult]:
    """The ``build_features`` of an engine (same keyword arguments, same result type)."""
    if engine == "local":
        from detector.pipeline import build_features

        return build_features
    check_engine(engine)
    from detector.engines.spark import build_features_spark

    opts = spark or SparkOptions()
    return functools.partial(
        build_features_spark, spark_master=opts.master, spark_conf=dict(opts.conf)
    )


def cache_option(engine: Engine, cache_dir: Path | None) -> dict[str, Path]:
    """The builder's keyword for an annotation cache: the local engine's alone (Spark
    reads every file on its executors; the cache lives on one machine's disk)."""
    return {"cache_dir": cache_dir} if engine == "local" and cache_dir is not None else {}


def frame_scorer(
    engine: Engine = "local", spark: SparkOptions | None = None
) -> Callable[..., pd.DataFrame]:
    """``scorer(model, features, threshold=, budget=, n_reasons=)`` → the score table.

    ``local`` is :func:`detector.scored.score_frame`; ``spark`` scores the accounts in
    Spark tasks with the model broadcast and returns the identical table.
    """
    if engine == "local":

        def score_local(model: AnomalyModel, features: pd.DataFrame, **kw: Any) -> pd.DataFrame:
            from detector.scored import score_frame

            return score_frame(model, features, **kw)

        return score_local
    check_engine(engine)
    from detector.engines.spark import score_frame_spark

    opts = spark or SparkOptions()
    return functools.partial(
        score_frame_spark, spark_master=opts.master, spark_conf=dict(opts.conf)
    )


def write_scores_parquet(
    scores: pd.DataFrame,
    path: Path | str,
    *,
    engine: Engine = "local",
    spark: SparkOptions | None = None,
) -> str:
    """Write the score table as Parquet for a data platform; returns where.

    With ``local`` it is one file written atomically. With ``spark`` Spark writes it
    (a directory of part files), so ``path`` may be any URI the cluster can write
    (``hdfs://``, ``s3a://`` ...).
    """
    if engine == "spark":
        check_engine(engine)
        from detector.engines.spark import write_scores_parquet_spark

        opts = spark or SparkOptions()
        return write_scores_parquet_spark(
            scores, str(path), spark_master=opts.master, spark_conf=dict(opts.conf)
        )
    from detector.safe import atomic_path

    with atomic_path(Path(path)) as tmp:
        scores.to_parquet(tmp, index=False)
    return str(path)
