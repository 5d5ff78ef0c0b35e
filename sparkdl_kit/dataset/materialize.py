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
import functools
import json
import logging
import math
import uuid

from sparkdl_kit.dataset.core import Dataset
from sparkdl_kit.dataset.metadata import METADATA_FILE, DatasetInfo, SplitInfo
from sparkdl_kit.dataset.parquet_scan import plan_scan
from sparkdl_kit.dataset.urls import HadoopFS, join, normalize_url
from sparkdl_kit.dataset.writer import STATS_SCHEMA, write_partition
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


def _row_bytes(shapes: dict, dtypes: dict, has_label: bool) -> int:
    size = 0
    for col, shape in shapes.items():
        size += math.prod(shape) * (1 if dtypes[col] == "uint8" else 4) + 8
    return size + (8 if has_label else 0)


def _partitioned(frame, num_shards: int, group_bytes: int, row_bytes, count_rows):
    """``frame`` with at least ``num_shards`` partitions; over twice as many are coalesced to what its
    row groups need (that costs a row count and one row to size them, so only then)."""
    have = frame.rdd.getNumPartitions()
    if have < num_shards:
        return frame.repartition(num_shards)
    if have > 2 * num_shards:
        group_rows = max(1, group_bytes // row_bytes())
        want = max(num_shards, min(have, math.ceil(count_rows() / group_rows)))
        if want < have:
            return frame.coalesce(want)
    return frame


def materialize(df, url: str, feature_cols: list[str] | str | None = None, label_col: str | None = None,
                validation: float | str | None = None, mode: str = "error", row_group_size_mb: float = 16,
                num_shards: int | None = None, seed: int = 0, assemble_as: str | None = None,
                drop_invalid: bool = False, skip_bad_images: bool = False, index_labels: bool | None = None,
                compression: str = "none", cache: bool | None = None) -> Dataset:
    """Converts, checks and writes ``df`` as a training-ready dataset at ``url``; returns its :class:`Dataset`.

    The data goes to a temporary sibling of ``url`` that is renamed to ``url`` only once every check
    has passed (and deleted otherwise), so readers never see half a dataset and a failed run leaves
    nothing at ``url``. The checks run inside the tasks that write the rows: the data is read once
    (plus one pass over the label column when string labels are indexed). Only with
    ``drop_invalid``/``skip_bad_images`` and labels to index does a separate check pass run first.
    When ``df`` is a plain scan of Parquet files with numeric features, the tasks read the files
    themselves with pyarrow (:mod:`sparkdl_kit.dataset.parquet_scan`): the same dataset, faster.

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
        cache: when a separate check pass runs, keep the converted rows (memory and disk) for the
            write; default: only when images are decoded (decoding twice costs more than caching).

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

    from sparkdl_kit.etl.images import ERROR_PREFIX
    from sparkdl_kit.etl.prepare import SPLIT_COL, prepare, prepare_for_write
    from sparkdl_kit.etl.row_checks import merge_stats
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
    if cache is None:
        cache = any(c.startswith(ERROR_PREFIX) for c in df.columns)
    started = datetime.datetime.now(datetime.timezone.utc)
    plan = prepare_for_write(df, feature_cols, label_col, validation, seed, assemble_as, drop_invalid,
                             skip_bad_images, index_labels)
    prep = None
    if plan is None:   # labels to index from the valid rows only: the separate check pass
        prep = prepare(df, feature_cols, label_col, validation, seed, assemble_as, drop_invalid, skip_bad_images,
                       index_labels, cache=cache)
    tmp = f"{url}.__tmp-{uuid.uuid4().hex[:12]}"
    try:
        if prep is not None:
            frame, rows, names, checks = prep.df, (lambda: sum(prep.split_rows.values())), prep.split_rows, None
            row_bytes = functools.partial(_row_bytes, prep.feature_shapes, prep.feature_dtypes,
                                          prep.label_col is not None)
        else:
            frame, rows, names, checks = plan.df, df.count, plan.split_names, plan.layout
            row_bytes = lambda: _row_bytes(plan.guess_shapes(), plan.feature_dtypes, plan.has_label)  # noqa: E731
        group_bytes = int(row_group_size_mb * (1 << 20))
        for name in names:
            fs.mkdirs(join(tmp, name))
        body = functools.partial(write_partition, tmp, group_bytes, compression, SPLIT_COL, checks=checks)
        scan = None if prep is not None or plan.arrow is None else \
            plan_scan(df, plan.arrow, num_shards, spark.sparkContext.defaultParallelism)
        if scan is not None:
            logger.info("the tasks read the Parquet input with pyarrow (%d tasks)", len(scan.tasks))
            written = scan.write(spark.sparkContext, body)
        else:
            written = _partitioned(frame, num_shards, group_bytes, row_bytes, rows) \
                .mapInArrow(body, STATS_SCHEMA).collect()
        if prep is None:
            prep = plan.finish(merge_stats([json.loads(r["checks"]) for r in written if r["checks"]], checks))
        splits = _split_infos(fs, tmp, written, prep.split_rows)
        for name, split in splits.items():
            if len(split.row_groups) < num_shards:
                logger.warning("split '%s' has %d row group(s), fewer than num_shards=%d: readers with more "
                               "shards than row groups will refuse it", name, len(split.row_groups), num_shards)
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
                     "num_shards": num_shards, "compression": compression,
                     "input_read_by": "spark" if scan is None else "pyarrow"})
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
        if prep is not None:
            prep.source["stage"].unpersist()
    logger.info("materialized %s: %s", url, {n: s.rows for n, s in info.splits.items()})
    return Dataset(url, info)



def _split_infos(fs, tmp: str, written, expected: dict[str, int]) -> dict[str, SplitInfo]:
    """Split descriptions from the tasks' reports; deletes files of failed task attempts; checks row counts."""
    splits = {}
    for name, rows in expected.items():
        mine = sorted((r for r in written if r["split"] == name), key=lambda r: r["file"])
        keep = {r["file"] for r in mine}
        for stray, _ in fs.parquet_files(join(tmp, name)) if fs.exists(join(tmp, name)) else []:
            if stray not in keep:
                logger.info("deleting %s, left by a failed task attempt", stray)
                fs.delete(join(tmp, name, stray))
        got = sum(r["rows"] for r in mine)
        if got != rows:
            raise OSError(f"split '{name}': {got} rows written, {rows} expected; the write did not complete")
        splits[name] = SplitInfo(path=name, rows=rows, files=len(mine), bytes=sum(r["bytes"] for r in mine),
                                 row_groups=[g for r in mine for g in r["row_groups"]])
    return splits
