"""A SparkSession set up for the toolkit, in local mode, on a cluster, or under spark-submit."""

from __future__ import annotations

import logging
import os
import sys
from typing import Mapping

from sparkdl_kit._deps import quiet_legacy_warnings

logger = logging.getLogger(__name__)

#: Settings applied unless the caller's ``conf`` (or spark-submit) already sets them.
DEFAULT_CONF = {
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.sql.execution.arrow.pyspark.fallback.enabled": "false",
    "spark.sql.execution.arrow.maxRecordsPerBatch": "10000",
}


def under_spark_submit() -> bool:
    """True when this Python driver was started by ``spark-submit`` (or a notebook's JVM gateway)."""
    return "PYSPARK_GATEWAY_PORT" in os.environ


def use_this_python_for_workers() -> None:
    """Points PYSPARK_PYTHON / PYSPARK_DRIVER_PYTHON at the running interpreter when unset.

    Without it, executors start ``python3`` from PATH, which usually lacks Horovod and TensorFlow
    (``ModuleNotFoundError: No module named 'horovod'`` inside a Spark task).
    """
    for var in ("PYSPARK_PYTHON", "PYSPARK_DRIVER_PYTHON"):
        if not os.environ.get(var):
            os.environ[var] = sys.executable
            logger.debug("%s set to %s", var, sys.executable)


def get_session(app_name: str = "sparkdl_kit", master: str | None = None,
                conf: Mapping[str, str] | None = None):
    """Returns a SparkSession set up for the toolkit.

    Local mode (``local[N]``, N = this machine's cores) unless ``master`` is given; under
    ``spark-submit`` the master and conf it was given are kept. Executors use this interpreter
    unless ``PYSPARK_PYTHON`` says otherwise; Arrow is enabled; Petastorm's and pyarrow's
    legacy-API FutureWarnings are filtered.

    Args:
        app_name: the Spark application name.
        master: a Spark master URL (``local[2]``, ``spark://host:7077``, ``yarn``...).
        conf: extra Spark settings; they win over the toolkit's defaults.

    Example:
        >>> import sparkdl_kit as sdk
        >>> spark = sdk.get_session("etl", conf={"spark.ui.enabled": "false"})  # doctest: +SKIP
    """
    quiet_legacy_warnings()
    use_this_python_for_workers()
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.appName(app_name)
    if master is not None:
        builder = builder.master(master)
    elif not under_spark_submit():
        builder = builder.master(f"local[{os.cpu_count() or 1}]")
    for key, value in (conf or {}).items():
        builder = builder.config(key, str(value))
    spark = builder.getOrCreate()
    explicit = spark.sparkContext.getConf()
    for key, value in DEFAULT_CONF.items():
        if not explicit.contains(key):
            spark.conf.set(key, value)
    logger.info("Spark %s session '%s' on %s", spark.version, app_name, spark.sparkContext.master)
    return spark

