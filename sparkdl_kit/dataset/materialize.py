"""DataFrame -> a training-ready dataset: checked, written atomically as Parquet with a metadata file.

Storage (measured, see docs/data.md): plain Parquet, readable by Spark, pyarrow and Petastorm's
``make_batch_reader`` without any codec. Numeric features are ``list<float>`` columns (float32),
scalars ``float``, labels ``bigint`` or ``float``, and images raw HWC uint8 bytes in a ``binary``
column (their shape is in the metadata file). No PNG/JPEG codec: decoding per row on the reading
side costs more CPU than the bytes saved, and the training loop is what must not wait.

Example:
    >>> import sparkdl_kit as sdk
    >>> ds = sdk.materialize(df, "file:///data/digits", feature_cols=["features"], label_col="label",
    ...                      validation=0.2)        # doctest: +SKIP
"""

from __future__ import annotations

import datetime
import logging
import math
import uuid

from sparkdl_kit.dataset.core import Dataset
from sparkdl_kit.dataset.metadata import METADATA_FILE, DatasetInfo, SplitInfo
from sparkdl_kit.dataset.urls import HadoopFS, join, normalize_url, reader_filesystem
from sparkdl_kit.errors import ConfigError, DatasetExistsError, DriverOnlyError

logger = logging.getLogger(__name__)

MODES = ("error", "overwrite")
COMPRESSIONS = ("none", "snappy", "zstd", "gzip", "lz4")


def _check_args(mode, row_group_size_mb, num_shards, compression):
    if mode not in MODES:
        raise ConfigError(f"mode={mode!r}; expected 'error' (keep an existing dataset) or 'overwrite'.")
    if isinstance(row_group_size_mb, bool) or not isinstance(row_group_size_mb, (int, float)) \
            or not 0 < row_group_size_mb <= 2048:
        raise ConfigError(f"row_group_size_mb={row_group_size_mb!r}; expected a number of megabytes in (0, 2048], "
                          "e.g. 16.")
    if num_shards is not None and (isinstance(num_shards, bool) or not isinstance(num_shards, int) or num_shards < 1):
        raise ConfigError(f"num_shards={num_shards!r}; expected a positive integer (the most processes that "
                          "will read the dataset in parallel) or None.")
    if compression not in COMPRESSIONS:
        raise ConfigError(f"compression={compression!r}; expected one of {', '.join(COMPRESSIONS)}.")


def _row_bytes(prep) -> int:
    size = 0
    for col in prep.feature_cols:
        shape, dtype = prep.feature_shapes[col], prep.feature_dtypes[col]
        size += math.prod(shape) * (1 if dtype == "uint8" else 4) + 8
    return size + (8 if prep.label_col else 0)


def materialize(df, url: str, feature_cols: list[str] | str | None = None, label_col: str | None = None,
                validation: float | str | None = None, mode: str = "error", row_group_size_mb: float = 16,
                num_shards: int | None = None, seed: int = 0, assemble_as: str | None = None,
                drop_invalid: bool = False, skip_bad_images: bool = False, index_labels: bool | None = None,
                compression: str = "none") -> Dataset:
    """Converts, checks and writes ``df`` as a training-ready dataset at ``url``; returns its :class:`Dataset`.

    Everything is checked in one pass before anything is written; the data goes to a temporary
    sibling of ``url`` that is renamed to ``url`` on success (and deleted on failure), so readers
    never see half a dataset and a failed run leaves nothing at ``url``.

    Args:
        df: the DataFrame (numeric scalars, arrays, Spark ML vectors, decoded images; see
            :mod:`sparkdl_kit.etl`).
        url: where to write (``file://``, ``hdfs://``, ``s3a://``, ``gs://``, or a local path).
        feature_cols: the feature columns (default: every column but the label, the split column and ``path``).
        label_col: the label column: strings become class ids (mapping saved), integers stay, floats
            are regression targets.
        validation: ``None`` (train only), a fraction such as ``0.2`` (a seeded hash of each row
            decides, so reruns give the same split), or a 0/1 or boolean column (1 = validation).
        mode: ``"error"`` keeps an existing dataset (raises); ``"overwrite"`` replaces it.
        row_group_size_mb: target Parquet row group size; the unit of reading, shuffling and sharding.
        num_shards: the most processes that will read a split in parallel; each split gets at least
            this many files (hence row groups). Default: Spark's default parallelism.
        seed: seed of the validation fraction.
        assemble_as: concatenate all non-image features into one float32 array column of this name.
        drop_invalid: leave out rows with nulls/NaN (count logged and saved) instead of raising.
        skip_bad_images: leave out rows whose image cannot be decoded instead of raising.
        index_labels: ``True`` maps numeric labels to ids too; ``False`` refuses string labels.
        compression: Parquet compression (``none`` reads fastest for float features).

    Raises:
        DatasetExistsError: ``url`` exists and ``mode="error"``.
        SchemaError, DataError, ConfigError: see :func:`sparkdl_kit.etl.prepare`.

    Example:
        >>> ds = materialize(df, "/tmp/iris", ["sepal_length", "sepal_width"], "species",
        ...                  validation=0.2, assemble_as="features")   # doctest: +SKIP
        >>> ds.feature_shapes                                          # doctest: +SKIP
        {'features': (2,)}
    """
    from pyspark import TaskContext

    from sparkdl_kit.etl.prepare import SPLIT_COL, prepare
    from sparkdl_kit.etl.split import VALIDATION

    if TaskContext.get() is not None:
        raise DriverOnlyError("materialize() runs Spark jobs and must be called on the driver, not in a task.")
    _check_args(mode, row_group_size_mb, num_shards, compression)
    url = normalize_url(url)
    spark = df.sparkSession
    fs = HadoopFS(spark, url)
    if fs.exists(url) and mode == "error":
        raise DatasetExistsError(f"'{url}' already exists; expected a new location. Fix: pass mode='overwrite' "
                                 "(jobs/etl.py: --overwrite) to replace it, or choose another URL.")
    num_shards = num_shards or max(1, spark.sparkContext.defaultParallelism)
    started = datetime.datetime.now(datetime.timezone.utc)
    prep = prepare(df, feature_cols, label_col, validation, seed, assemble_as, drop_invalid, skip_bad_images,
                   index_labels, cache=True)
    tmp = f"{url}.__tmp-{uuid.uuid4().hex[:12]}"
    try:
        splits = {}
        block = int(row_group_size_mb * (1 << 20))
        row_bytes = _row_bytes(prep)
        for name, rows in prep.split_rows.items():
            part = prep.df.where(prep.df[SPLIT_COL] == (name == VALIDATION)).drop(SPLIT_COL)
            have = part.rdd.getNumPartitions()
            want = max(num_shards, min(have, math.ceil(rows * row_bytes / block)))
            if have < num_shards:
                part = part.repartition(want)
            elif have > want:
                part = part.coalesce(want)
            if rows < num_shards:
                logger.warning("split '%s' has %d rows, fewer than num_shards=%d: some readers of it will have "
                               "no row group", name, rows, num_shards)
            (part.write.mode("error").option("parquet.block.size", block).option("compression", compression)
             .parquet(join(tmp, name)))
            files = fs.parquet_files(join(tmp, name))
            splits[name] = SplitInfo(path=name, rows=rows, files=len(files), bytes=sum(b for _, b in files))
        info = DatasetInfo(
            feature_cols=prep.feature_cols, label_col=prep.label_col,
            feature_shapes={c: list(s) for c, s in prep.feature_shapes.items()},
            feature_dtypes=prep.feature_dtypes, label_dtype=prep.label_dtype, label_mapping=prep.label_mapping,
            num_classes=prep.num_classes, splits=splits,
            storage={c: ("binary (raw HWC uint8)" if prep.feature_dtypes[c] == "uint8" else
                         "float" if not prep.feature_shapes[c] else "list<float>") for c in prep.feature_cols},
            dropped={"invalid_rows": prep.dropped_invalid, "unreadable_images": prep.dropped_images},
            created={"at": started.isoformat(timespec="seconds"), "spark": spark.version,
                     "validation": validation, "seed": seed, "row_group_size_mb": row_group_size_mb,
                     "num_shards": num_shards, "compression": compression})
        _add_row_groups(tmp, info, num_shards)
        fs.write_bytes(join(tmp, METADATA_FILE), info.to_json().encode("utf-8"))
        if fs.exists(url):
            logger.info("replacing the existing dataset at %s", url)
            fs.delete(url)
        if not fs.rename(tmp, url):
            raise OSError(f"could not rename {tmp} to {url}")
    except BaseException:
        fs.delete(tmp)
        raise
    finally:
        prep.source["stage"].unpersist()
    logger.info("materialized %s: %s", url, {n: s.rows for n, s in info.splits.items()})
    return Dataset(url, info)


def _add_row_groups(tmp: str, info: DatasetInfo, num_shards: int) -> None:
    """Records rows per row group of each split (from the Parquet footers) and warns on too few row groups."""
    import pyarrow.parquet as pq

    for name, split in info.splits.items():
        try:
            filesystem, path = reader_filesystem(join(tmp, name))
            groups = []
            for file in sorted(p for p in filesystem.ls(path) if p.endswith(".parquet")):
                with filesystem.open(file, "rb") as f:
                    meta = pq.ParquetFile(f).metadata
                    groups += [meta.row_group(i).num_rows for i in range(meta.num_row_groups)]
        except (OSError, ImportError) as e:
            logger.warning("could not read the Parquet footers of split '%s' (%s); row groups not recorded", name, e)
            continue
        split.row_groups = groups
        if len(groups) < num_shards:
            logger.warning("split '%s' has %d row group(s), fewer than num_shards=%d: readers with more shards "
                           "than row groups will refuse it", name, len(groups), num_shards)
