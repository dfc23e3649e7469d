"""The Spark session and Spark jobs: creating the session, running an action.

:func:`get_spark` gives the process's session with the settings the engine depends on
(UTC timestamps, Arrow, nanosecond Parquet timestamps read as longs) and, for local
masters, quiet logging. :func:`run_job` runs one Spark action with a label for the
Spark UI and turns a failed job into one readable error: a user error raised inside a
task comes back as itself.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from detector.ingest import IngestError

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

__all__ = ["LOCAL_DEFAULTS", "SESSION_DEFAULTS", "get_spark", "is_local_master", "run_job"]

SESSION_DEFAULTS: Mapping[str, str] = {
    # timestamps cross the JVM/Python boundary as instants rendered in this zone
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    # validation and annotation cost per call: fewer, larger batches
    "spark.sql.execution.arrow.maxRecordsPerBatch": "50000",
    # pandas writes nanosecond timestamps, which Spark reads only as longs; the task
    # casts them back to the file's own type (see raw.parquet_raw)
    "spark.sql.legacy.parquet.nanosAsLong": "true",
    # the shuffled stages are CPU-heavy pandas work: keep every partition a task
    "spark.sql.adaptive.coalescePartitions.enabled": "false",
    # a log with prompts grows ~10x from Parquet to memory: smaller read splits keep a
    # task's (and a cached block's) footprint in the hundreds of MB
    "spark.sql.files.maxPartitionBytes": "32m",
    "spark.ui.showConsoleProgress": "false",
}
"""Applied to every session (``--spark-conf`` overrides them)."""

LOCAL_DEFAULTS: Mapping[str, str] = {
    "spark.sql.shuffle.partitions": "8",
    "spark.ui.enabled": "false",
    "spark.driver.memory": "4g",
}
"""Small defaults for ``local[...]`` masters only; a cluster keeps its own."""

# settings the engine's correctness depends on: re-applied to a session that exists
_REQUIRED_RUNTIME = (
    "spark.sql.session.timeZone",
    "spark.sql.execution.arrow.pyspark.enabled",
    "spark.sql.legacy.parquet.nanosAsLong",
)


def is_local_master(master: str) -> bool:
    """True for Spark's in-process masters (``local``, ``local[4]``, ``local[*, 2]``).

    Only these run every task on this machine: they get :data:`LOCAL_DEFAULTS`, and a
    scheme-less output path means this machine's file system. Any other master
    (``yarn``, ``spark://…``, ``k8s://…``, ``mesos://…``) is a cluster, whose default
    file system decides what a scheme-less path means.
    """
    return master.startswith("local")


def get_spark(master: str = "local[*]", conf: Mapping[str, str] | None = None) -> SparkSession:
    """The process's SparkSession, created on first use with the engine's defaults.

    ``conf`` (``--spark-conf KEY=VALUE``) overrides the defaults. A session that
    already exists (a notebook's, a test's) is reused; runtime SQL settings in
    ``conf`` are applied to it, static ones only take effect at creation. Under
    ``spark-submit`` its master and settings win over ``master`` and the defaults.
    """
    from pyspark.sql import SparkSession

    conf = dict(conf or {})
    if os.environ.get("PYSPARK_GATEWAY_PORT"):
        # launched by spark-submit: its --master and --conf are the deployment's word
        from pyspark import SparkConf

        submitted = dict(SparkConf().getAll())
        master = submitted.get("spark.master", master)
        defaults = {k: v for k, v in SESSION_DEFAULTS.items() if k not in submitted}
        settings = {**defaults, **conf}
        builder = SparkSession.builder.appName("detector")
    else:
        local = is_local_master(master)
        if local:
            # workers run this interpreter (the venv with the project), not "python3"
            os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
            os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
        settings = {**SESSION_DEFAULTS, **(LOCAL_DEFAULTS if local else {}), **conf}
        if local and "spark.driver.extraJavaOptions" not in settings:
            # Spark's INFO/WARN chatter on stderr would bury the CLI's one-line messages
            settings["spark.driver.extraJavaOptions"] = (
                f"-Dlog4j2.configurationFile={_quiet_log4j()}"
            )
        builder = SparkSession.builder.master(master).appName("detector")
    for key, value in settings.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    for key in _REQUIRED_RUNTIME:
        spark.conf.set(key, settings.get(key, SESSION_DEFAULTS[key]))
    for key, value in conf.items():
        try:
            spark.conf.set(key, value)
        except Exception:  # static settings of a session that already exists
            continue
    spark.sparkContext.setLogLevel(conf.get("detector.logLevel", "ERROR"))
    return spark


def _quiet_log4j() -> str:
    """A log4j2 configuration that prints only errors (written once per machine)."""
    path = Path(tempfile.gettempdir()) / "detector-spark-log4j2.properties"
    text = (
        "rootLogger.level = error\n"
        # the launchers' loggers at the root's level: no "Setting default log level" banner
        "logger.submit.name = org.apache.spark.deploy.SparkSubmit\n"
        "logger.submit.level = error\n"
        "logger.gateway.name = org.apache.spark.api.python.PythonGatewayServer\n"
        "logger.gateway.level = error\n"
        "rootLogger.appenderRef.stderr.ref = console\n"
        "appender.console.type = Console\n"
        "appender.console.name = console\n"
        "appender.console.target = SYSTEM_ERR\n"
        "appender.console.layout.type = PatternLayout\n"
        "appender.console.layout.pattern = %d{yy/MM/dd HH:mm:ss} %p %c{1}: %m%n%ex\n"
    )
    if not path.exists() or path.read_text() != text:
        path.write_text(text)
    return str(path)


def _spark_error(exc: BaseException, what: str) -> Exception:
    """One readable error for a failed Spark job: a user error raised inside a task
    comes back as itself; anything else names the stage and the first line."""
    text = str(exc)
    for line in text.splitlines():
        for name in ("IngestError", "UserError"):
            marker = f"{name}: "
            if marker in line:
                return IngestError(line.split(marker, 1)[1].strip())
    first = next((ln.strip() for ln in text.splitlines() if ln.strip()), type(exc).__name__)
    return RuntimeError(f"Spark job failed while {what}: {first[:300]}")


def run_job(what: str, action: Callable[[], Any], spark: SparkSession | None = None) -> Any:
    """Run one Spark action, labelled in the Spark UI, with errors made readable."""
    from py4j.protocol import Py4JError
    from pyspark.errors import PySparkException

    if spark is not None:
        spark.sparkContext.setJobDescription(f"detector: {what}")
    try:
        return action()
    except (PySparkException, Py4JError) as exc:
        raise _spark_error(exc, what) from None
