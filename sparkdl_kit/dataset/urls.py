"""Dataset URLs: normalizing them, and the filesystem calls the driver (Hadoop) and readers (pyarrow) make.

The driver writes through Spark's Hadoop FileSystem, so any scheme Spark is configured for works
(``file://``, ``hdfs://``, ``s3a://``, ``gs://``...). Readers open files through Petastorm's
filesystem resolver (pyarrow), which covers ``file://``, ``hdfs://``, ``s3://``/``s3a://`` and ``gs://``.

Example:
    >>> normalize_url("/tmp/data")
    'file:///tmp/data'
"""

from __future__ import annotations

import os
from urllib.parse import urlparse

from sparkdl_kit.errors import ConfigError


def normalize_url(url: str) -> str:
    """Turns a local path into a ``file://`` URL and strips a trailing slash; keeps other URLs."""
    if not isinstance(url, str) or not url.strip():
        raise ConfigError(f"dataset url={url!r}; expected a URL such as file:///data/x, hdfs://nn/data/x, "
                          "s3a://bucket/x or gs://bucket/x, or a local path.")
    url = url.strip()
    if not urlparse(url).scheme:
        url = "file://" + os.path.abspath(url)
    return url.rstrip("/") if len(url.rstrip("/")) > len("file://") else url


def join(url: str, *parts: str) -> str:
    """Joins URL path parts with ``/``."""
    return "/".join([url.rstrip("/"), *parts])


class HadoopFS:
    """The driver's view of a URL's filesystem, through the Spark JVM (no Python dependency per scheme)."""

    def __init__(self, spark, url: str):
        # Looked up once: each name of the dotted path is a JVM round trip.
        self._path_class = spark.sparkContext._jvm.org.apache.hadoop.fs.Path
        self._conf = spark.sparkContext._jsc.hadoopConfiguration()
        self._fs = self._path(url).getFileSystem(self._conf)

    def _path(self, url: str):
        return self._path_class(url)

    def exists(self, url: str) -> bool:
        return bool(self._fs.exists(self._path(url)))

    def delete(self, url: str) -> None:
        self._fs.delete(self._path(url), True)

    def rename(self, src: str, dst: str) -> bool:
        return bool(self._fs.rename(self._path(src), self._path(dst)))

    def mkdirs(self, url: str) -> None:
        self._fs.mkdirs(self._path(url))

    def write_bytes(self, url: str, data: bytes) -> None:
        out = self._fs.create(self._path(url), True)
        try:
            out.write(bytearray(data))
        finally:
            out.close()

    def parquet_files(self, url: str) -> list[tuple[str, int]]:
        """(name, bytes) of the Parquet files directly under ``url``, sorted by name."""
        files = []
        for status in self._fs.listStatus(self._path(url)):
            name = status.getPath().getName()
            if status.isFile() and name.endswith(".parquet") and not name.startswith(("_", ".")):
                files.append((name, int(status.getLen())))
        return sorted(files)


def reader_filesystem(url: str):
    """``(pyarrow filesystem, path)`` for ``url``, as Petastorm resolves it (used off the driver too)."""
    from sparkdl_kit._deps import quiet_legacy_warnings, require

    quiet_legacy_warnings()
    fs_utils = require("petastorm.fs_utils")
    return fs_utils.get_filesystem_and_path_or_paths(url)


def read_bytes(url: str) -> bytes:
    """Reads a whole (small) file at ``url`` with the reader's filesystem."""
    fs, path = reader_filesystem(url)
    with fs.open(path, "rb") as f:
        return f.read()
