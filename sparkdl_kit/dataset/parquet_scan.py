"""Plain Parquet inputs read by the writing tasks with pyarrow, instead of through Spark's rows.

When ``df`` is nothing but a scan of Parquet files (``spark.read.parquet(...)``, optionally a
selection of its columns), :func:`sparkdl_kit.materialize` has each task read its share of the
files' row groups with pyarrow, stage them (:class:`~sparkdl_kit.etl.arrow_stage.ArrowStage`) and
write them. The rows skip Spark's Parquet reader, its row format and its conversion to Arrow,
which cost more than the whole Parquet write. The result is the same dataset, row for row and
split for split. Anything else (other sources, filters, joins, partitioned folders, files whose
schema differs from the DataFrame's) goes through Spark.

Example:
    >>> scan = plan_scan(df, stage, min_tasks=4)      # doctest: +SKIP
    >>> stats = scan.write(spark.sparkContext, body)  # doctest: +SKIP
"""

from __future__ import annotations

import functools
import logging
import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

logger = logging.getLogger(__name__)

#: Rows per Arrow batch read from a row group (bounds a task's memory on large row groups).
READ_BATCH_ROWS = 65536
#: Bytes of input per task, at most: a task streams its row groups, so this bounds its time, not its memory.
TASK_BYTES = 512 << 20


def plain_parquet_files(df) -> list[str] | None:
    """The files ``df`` reads when it is a plain scan of unpartitioned Parquet files, else ``None``."""
    try:
        node = df._jdf.queryExecution().optimizedPlan()
        if node.getClass().getSimpleName() == "Project":
            items = node.projectList()
            if any(items.apply(i).getClass().getSimpleName() != "AttributeReference" for i in range(items.size())):
                return None
            node = node.child()
        if node.getClass().getSimpleName() != "LogicalRelation":
            return None
        relation = node.relation()
        if relation.getClass().getSimpleName() != "HadoopFsRelation" \
                or relation.fileFormat().getClass().getSimpleName() != "ParquetFileFormat" \
                or relation.partitionSchema().length() != 0:
            return None
        return [_url(f) for f in df.inputFiles()]
    except Exception as exc:   # any other plan shape: Spark reads it
        logger.debug("not a plain Parquet scan (%s)", exc)
        return None


def _url(path: str) -> str:
    """Hadoop's ``file:/x`` as ``file:///x`` (the form pyarrow's filesystems resolve)."""
    return "file://" + path[len("file:"):] if path.startswith("file:/") and not path.startswith("file://") else path


def _same_type(found, expected) -> bool:
    import pyarrow as pa

    if pa.types.is_list(found) and pa.types.is_list(expected):
        return _same_type(found.value_type, expected.value_type)
    return found == expected


def _open(url: str):
    """A readable file for ``url``: memory-mapped when local, else through Petastorm's filesystem."""
    import pyarrow as pa

    from sparkdl_kit.dataset.urls import reader_filesystem

    if url.startswith("file://"):
        return pa.memory_map(url[len("file://"):])
    fs, path = reader_filesystem(url)
    return fs.open(path, "rb")


def _footer(url: str):
    import pyarrow.parquet as pq

    with _open(url) as f:
        return pq.ParquetFile(f).metadata


@dataclass(frozen=True)
class ParquetScan:
    """The row groups each task reads (``tasks[i]``: ``(file url, [row group indexes])`` pairs) and
    how it stages them."""

    tasks: list
    stage: object

    def write(self, sc, write_batches) -> list[dict]:
        """Runs one task per entry of ``tasks``; ``write_batches(batches)`` is the writer's ``mapInArrow`` body."""
        job = functools.partial(_read_stage_write, self.stage, write_batches)
        return sc.parallelize(self.tasks, len(self.tasks)).mapPartitions(job).collect()


def plan_scan(df, stage, min_tasks: int, parallelism: int = 1) -> ParquetScan | None:
    """Reads the footers of ``df``'s files and splits their row groups into balanced tasks: at least
    ``min_tasks``, at most 512 MB of input each, and a multiple of ``parallelism``, row groups permitting.

    Returns ``None`` (Spark reads the data) when ``df`` is not a plain Parquet scan, a file lacks a
    column or stores it with another type than the DataFrame's, or there are fewer row groups
    than ``min_tasks``.
    """
    from pyspark.sql.pandas.types import to_arrow_type

    files = plain_parquet_files(df)
    if not files:
        return None
    columns = stage.source_columns
    expected = {c: to_arrow_type(df.schema[c].dataType) for c in columns}
    with ThreadPoolExecutor(max_workers=min(8, len(files))) as pool:
        footers = list(pool.map(_footer, files))
    groups = []
    for url, meta in zip(files, footers):
        schema = meta.schema.to_arrow_schema()
        for column, arrow_type in expected.items():
            if schema.get_field_index(column) < 0 or not _same_type(schema.field(column).type, arrow_type):
                logger.info("%s stores column '%s' differently from the DataFrame; Spark reads the input", url,
                            column)
                return None
        groups += [(meta.row_group(i).total_byte_size, url, i) for i in range(meta.num_row_groups)
                   if meta.row_group(i).num_rows]
    if len(groups) < max(1, min_tasks):
        return None
    total = sum(size for size, _, _ in groups)
    waves = math.ceil(max(min_tasks, math.ceil(total / TASK_BYTES)) / max(1, parallelism))
    count = min(len(groups), waves * max(1, parallelism))       # whole waves: no core idles in the last
    loads, tasks = [0] * count, [dict() for _ in range(count)]
    for size, url, index in sorted(groups, key=lambda g: -g[0]):      # largest first, to the lightest task
        lightest = loads.index(min(loads))
        loads[lightest] += size
        tasks[lightest].setdefault(url, []).append(index)
    return ParquetScan(tasks=[sorted((url, sorted(ix)) for url, ix in t.items()) for t in tasks], stage=stage)


def _read_stage_write(stage, write_batches, tasks):
    """RDD partition body: reads, stages and writes this task's row groups; yields the writer's report rows."""
    for task in tasks:
        for report in write_batches(_staged_batches(stage, task)):
            yield from report.to_pylist()


def _staged_batches(stage, task):
    import pyarrow as pa
    import pyarrow.parquet as pq

    for url, row_groups in task:
        with _open(url) as f:
            # One thread: the task's core is the unit of parallelism (threads measured slower here).
            for batch in pq.ParquetFile(f).iter_batches(batch_size=READ_BATCH_ROWS, row_groups=row_groups,
                                                         columns=stage.source_columns, use_threads=False):
                yield from stage.stage(pa.Table.from_batches([batch])).to_batches()
