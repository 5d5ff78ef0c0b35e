"""Reading the ETL's inputs: existence checks that name the path, and table formats.

Example:
    >>> df = read_table(spark, "file:///data/iris.csv", "csv")   # doctest: +SKIP
"""

from __future__ import annotations

from sparkdl_kit.errors import ConfigError, DatasetNotFoundError

TABLE_FORMATS = ("csv", "parquet", "json")


def _hadoop_path(spark, path: str):
    jvm = spark.sparkContext._jvm
    hpath = jvm.org.apache.hadoop.fs.Path(path)
    return hpath, hpath.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())


def check_input_exists(spark, path: str) -> None:
    """Raises :class:`DatasetNotFoundError` naming ``path`` when it (or its glob) matches nothing."""
    if not isinstance(path, str) or not path:
        raise ConfigError(f"input path={path!r}; expected a non-empty path or URL.")
    hpath, fs = _hadoop_path(spark, path)
    matches = fs.globStatus(hpath)
    if matches is None or len(matches) == 0:
        raise DatasetNotFoundError(
            f"input path '{path}' does not exist (nothing matches it). Fix: check the spelling and the "
            "scheme (file://, hdfs://, s3a://, gs://); a relative path is resolved against the working "
            "directory of the Spark driver.")


def read_table(spark, path: str, fmt: str, **options):
    """Reads a CSV (header row, inferred types), Parquet or JSON input after checking it exists.

    Raises:
        ConfigError: ``fmt`` is not one of csv, parquet, json.
        DatasetNotFoundError: ``path`` matches nothing.
    """
    if fmt not in TABLE_FORMATS:
        raise ConfigError(f"format={fmt!r}; expected one of {', '.join(TABLE_FORMATS)} (or 'images').")
    check_input_exists(spark, path)
    reader = spark.read.format(fmt)
    if fmt == "csv":
        options = {"header": "true", "inferSchema": "true", **options}
    return reader.options(**options).load(path)
