"""The engine options shared by ``features``, ``train``, ``score`` and ``nightly``."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from detector.engines import (
    DEFAULT_SPARK_MASTER,
    Engine,
    SparkOptions,
    check_engine,
    parse_spark_conf,
)
from detector.errors import UserError


class EngineName(StrEnum):
    """``--engine`` choices."""

    local = "local"
    spark = "spark"


EngineOpt = Annotated[
    EngineName,
    typer.Option(
        "--engine",
        help="Where the pipeline runs: local (embedded, default) or spark "
        "(PySpark; needs the spark extra and Java 17+).",
        case_sensitive=False,
    ),
]
SparkMasterOpt = Annotated[
    str,
    typer.Option(
        "--spark-master",
        help="Spark master URL for --engine spark: local[*], local[4], yarn, "
        "spark://host:7077, k8s://...",
    ),
]
SparkConfOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--spark-conf",
        help="Spark setting KEY=VALUE for --engine spark (repeatable), "
        "e.g. --spark-conf spark.executor.memory=8g",
    ),
]
CacheDirOpt = Annotated[
    Path | None,
    typer.Option(
        "--cache-dir",
        help="Annotation cache (local engine): files annotated there by an earlier run with "
        "the same settings and topic model are replayed instead of read again, files read "
        "now are kept there (the nightly job keeps one in STATE/cache/annotated).",
        file_okay=False,
    ),
]
ScoresParquetOpt = Annotated[
    Path | None,
    typer.Option(
        "--scores-parquet",
        help="One more copy of the exact score table as Parquet, e.g. for a data platform "
        "(SCORES.parquet beside SCORES.csv is always written; with --engine spark, Spark "
        "writes this copy: a directory, any URI the cluster can write).",
    ),
]


def engine_options(
    engine: EngineName | str,
    master: str = DEFAULT_SPARK_MASTER,
    conf: list[str] | None = None,
    cache_dir: Path | None = None,
) -> tuple[Engine, SparkOptions | None]:
    """Validate the CLI engine options into ``(engine, SparkOptions or None)``; the
    annotation cache (``--cache-dir``) is the local engine's."""
    name = check_engine(engine.value if isinstance(engine, EngineName) else str(engine))
    if cache_dir is not None and name != "local":
        raise UserError(
            "--cache-dir: the annotation cache is the local engine's (Spark reads every file "
            "on its executors); drop --cache-dir or use --engine local"
        )
    if name == "local":
        return name, None
    return name, SparkOptions(master=master, conf=parse_spark_conf(conf))
