"""Image files (PNG, JPEG) -> fixed-shape uint8 arrays, decoded and resized inside Spark tasks.

Decoded images are stored as raw ``height * width * channels`` bytes (row-major, HWC) in a binary
column whose Spark metadata records the shape, so :func:`sparkdl_kit.materialize` knows how to
store and describe them. A file that cannot be decoded does not fail the task: its row gets a null
image and an error text (naming the file) in a hidden column, and ``materialize`` either raises a
:class:`~sparkdl_kit.errors.DataError` naming the file or, with ``skip_bad_images=True``, leaves
such rows out and reports how many.

Example:
    >>> from sparkdl_kit.etl import read_images
    >>> df = read_images(spark, "file:///data/pets", size=(64, 64))   # doctest: +SKIP
    >>> df.columns                                                     # doctest: +SKIP
    ['path', 'image', 'label']
"""

from __future__ import annotations

import io
import logging
from urllib.parse import urlparse

import pandas as pd

from sparkdl_kit.errors import ConfigError, DatasetNotFoundError
from sparkdl_kit.etl.columns import IMAGE_METADATA_KEY, column_field
from sparkdl_kit.etl.sources import check_input_exists

logger = logging.getLogger(__name__)

#: Prefix of the hidden column holding each row's decoding error (null when the image is fine).
ERROR_PREFIX = "__sparkdl_image_error__"
IMAGE_EXTENSIONS = ("png", "jpg", "jpeg")
_MODES = {1: "L", 3: "RGB", 4: "RGBA"}


def error_column(name: str) -> str:
    """The hidden error column that goes with decoded image column ``name``."""
    return ERROR_PREFIX + name


def _check_size(size, channels) -> tuple[int, int]:
    if isinstance(size, int):
        size = (size, size)
    if (not isinstance(size, (tuple, list)) or len(size) != 2
            or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in size)):
        raise ConfigError(f"image size={size!r}; expected (height, width) of positive integers, e.g. (64, 64).")
    if channels not in _MODES:
        raise ConfigError(f"channels={channels!r}; expected 1 (grayscale), 3 (RGB) or 4 (RGBA).")
    return int(size[0]), int(size[1])


def _read_bytes(path: str) -> bytes:
    """Reads a whole file given as a local path, a file: URI, or a URI pyarrow opens (hdfs, s3, gs)."""
    parsed = urlparse(path)
    if parsed.scheme in ("", "file"):
        with open(parsed.path if parsed.scheme else path, "rb") as f:
            return f.read()
    from pyarrow import fs as pafs

    filesystem, inner = pafs.FileSystem.from_uri(path)
    with filesystem.open_input_stream(inner) as f:
        return f.read()


def decode_one(content: bytes | None, path: str | None, height: int, width: int, channels: int) -> bytes:
    """Decodes one PNG/JPEG (from ``content``, or read from ``path``) into HWC uint8 bytes."""
    import numpy as np
    from PIL import Image

    if content is None:
        content = _read_bytes(path)
    with Image.open(io.BytesIO(content)) as img:
        img = img.convert(_MODES[channels])
        if img.size != (width, height):
            img = img.resize((width, height), Image.BILINEAR)
        return np.asarray(img, dtype=np.uint8).tobytes()


def _decode_batch(contents: pd.Series, paths: pd.Series, heights: pd.Series, widths: pd.Series,
                  channels: pd.Series) -> pd.DataFrame:
    """pandas UDF body: one Arrow batch of images -> (data, error) columns."""
    h, w, c = int(heights.iloc[0]), int(widths.iloc[0]), int(channels.iloc[0])
    data, errors = [], []
    for content, path in zip(contents, paths):
        try:
            data.append(decode_one(content, path, h, w, c))
            errors.append(None)
        except (OSError, ValueError, SyntaxError) as e:   # PIL raises these for unreadable files
            data.append(None)
            errors.append(f"{path}: {type(e).__name__}: {e}")
    return pd.DataFrame({"data": data, "error": errors})


def decode_images(df, col: str, size: tuple[int, int] | int, channels: int = 3, path_col: str | None = None,
                  output: str | None = None):
    """Decodes and resizes images in ``col`` (encoded bytes, or file paths/URIs) inside Spark tasks.

    Args:
        df: the DataFrame.
        col: a binary column of PNG/JPEG bytes (e.g. ``content`` of the ``binaryFile`` source) or a
            string column of file paths/URIs.
        size: ``(height, width)`` of the output (or one int for a square).
        channels: 1 (grayscale), 3 (RGB) or 4 (RGBA).
        path_col: a column naming each file, used in error messages (defaults to ``col`` for paths).
        output: the name of the decoded column (defaults to ``col``, replaced).

    Returns:
        ``df`` with ``output`` holding ``height*width*channels`` uint8 bytes per row (shape in the
        column metadata) and a hidden column with each row's decoding error, if any.

    Example:
        >>> df = decode_images(spark.read.format("binaryFile").load("/data/x"), "content",
        ...                    size=(32, 32), path_col="path", output="image")   # doctest: +SKIP
    """
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    height, width = _check_size(size, channels)
    field = column_field(df, col)
    if isinstance(field.dataType, T.StringType):
        content, path = F.lit(None).cast("binary"), F.col(col)
    elif isinstance(field.dataType, T.BinaryType):
        content = F.col(col)
        path = F.col(path_col) if path_col else F.lit("(row without a path)")
    else:
        raise ConfigError(
            f"image column '{col}' has type {field.dataType.simpleString()}; expected binary (encoded PNG/JPEG "
            "bytes) or string (file paths). Fix: read files with spark.read.format('binaryFile') or pass the "
            "path column.")
    if path_col:
        column_field(df, path_col)
    output = output or col
    udf = F.pandas_udf(_decode_batch, returnType="data binary, error string")
    decoded = udf(content, path.cast("string"), F.lit(height), F.lit(width), F.lit(channels))
    tmp = "__sparkdl_decoded__"
    meta = {IMAGE_METADATA_KEY: {"shape": [height, width, channels], "dtype": "uint8"}}
    out = df.withColumn(tmp, decoded)
    out = out.withColumn(output, F.col(f"{tmp}.data").alias(output, metadata=meta))
    out = out.withColumn(error_column(output), F.col(f"{tmp}.error"))
    return out.drop(tmp)


def read_images(spark, path: str, size: tuple[int, int] | int, channels: int = 3, label_from_dir: bool = True,
                extensions: tuple[str, ...] = IMAGE_EXTENSIONS):
    """Reads PNG/JPEG files under ``path`` (a folder or glob, searched recursively) and decodes them.

    Args:
        spark: the SparkSession.
        path: a folder, file or glob, on any filesystem Spark reads (``file://``, ``hdfs://``, ``s3a://``...).
        size: ``(height, width)`` of the decoded images.
        channels: 1, 3 or 4.
        label_from_dir: add a ``label`` column holding each file's parent folder name
            (the ``root/<class>/<file>.png`` layout).
        extensions: the file extensions read (case-insensitive).

    Returns:
        A DataFrame with ``path``, ``image`` (decoded; see :func:`decode_images`) and, optionally, ``label``.

    Raises:
        DatasetNotFoundError: ``path`` does not exist or holds no file with those extensions.

    Example:
        >>> df = read_images(spark, "/data/pets", size=64)   # doctest: +SKIP
    """
    from pyspark.sql import functions as F

    _check_size(size, channels)
    check_input_exists(spark, path)
    exts = sorted({e.lower().lstrip(".") for e in extensions} | {e.upper().lstrip(".") for e in extensions})
    raw = (spark.read.format("binaryFile")
           .option("pathGlobFilter", "*.{%s}" % ",".join(exts))
           .option("recursiveFileLookup", "true")
           .load(path)
           .select("path", "content"))
    if raw.limit(1).count() == 0:
        raise DatasetNotFoundError(
            f"no image files ({', '.join(extensions)}) found under '{path}'. Fix: check the path, or pass "
            "extensions=(...) naming the files' extensions.")
    df = decode_images(raw, "content", size, channels, path_col="path", output="image").drop("content")
    if label_from_dir:
        df = df.withColumn("label", F.element_at(F.split(F.col("path"), "/"), -2))
    return df
