"""The staging projection of :func:`sparkdl_kit.etl.prepare_for_write`, on Arrow tables in a task.

When the writing tasks read Parquet files themselves, they need the columns Spark would have
computed: the converted features and label, the split flag, one flag per check and the array
lengths. :class:`ArrowStage` computes them with pyarrow and numpy, with Spark's semantics: the
same float32 rounding, the same null/NaN rules, and the fraction split from Spark's own
``xxhash64`` (:mod:`sparkdl_kit.etl.spark_hash`), so each row lands in the same split either way.
It covers numeric scalars and arrays (also joined by ``assemble_as``), integer or floating labels
(not indexed) and either kind of split; :func:`describe` returns ``None`` for anything else
(vectors, images, strings, decimals), and Spark does the work.

Example:
    >>> stage = describe(df, feature_specs, label, 0.2, 0, None, layout)   # doctest: +SKIP
    >>> staged = stage.stage(pyarrow_table)                             # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sparkdl_kit.etl import spark_hash
from sparkdl_kit.etl.columns import ARRAY, SCALAR, column_field
from sparkdl_kit.etl.row_checks import CheckLayout
from sparkdl_kit.etl.split import _BUCKETS


@dataclass(frozen=True)
class ArrowStage:
    """What a task needs to stage raw Parquet columns (plain values only; it is pickled to tasks).

    Attributes:
        features: ``(column, kind)`` pairs in order, ``kind`` scalar or array.
        assemble_as: the one array column the features are concatenated into, or ``""``.
        label: the label column, or ``""``.
        label_dtype: ``"int64"`` (class ids) or ``"float32"`` (regression).
        threshold: rows whose hash bucket is below it are validation rows (fraction split), else ``None``.
        seed: the seed of the fraction split.
        split_col: the 0/1 or boolean split column, or ``""``.
        layout: the helper column names the writing task expects.
    """

    features: tuple
    assemble_as: str
    label: str
    label_dtype: str
    threshold: int | None
    seed: int
    split_col: str
    layout: CheckLayout

    @property
    def source_columns(self) -> list[str]:
        """The Parquet columns to read."""
        return [name for name, _ in self.features] + [c for c in (self.label, self.split_col) if c]

    def stage(self, table):
        """The staged columns of one Arrow table of raw rows (names as in ``layout``)."""
        import pyarrow as pa

        rows = table.num_rows
        running = spark_hash.seeded(self.seed, rows) if self.threshold is not None else None
        out, checks, sizes = {}, [], []
        for name, kind in self.features:       # chained in order: the hash of their concatenation
            column = _array_of(table.column(name))
            if kind == SCALAR:
                out[name], bad, running = _scalar(column, running)
            else:
                out[name], bad, length, running = _array(column, running)
                sizes.append(length)
            checks.append(bad)
        if self.assemble_as:
            out = {self.assemble_as: _concatenated(list(out.values()))}
            checks = [np.logical_or.reduce(checks)]
        if self.label:
            out[self.label], bad, running = _label(_array_of(table.column(self.label)), self.label_dtype,
                                                   running)
            checks.append(bad)
        if self.threshold is not None:
            is_val = spark_hash.bucket(running, _BUCKETS) < self.threshold
        elif self.split_col:
            is_val, invalid = _split_column(_array_of(table.column(self.split_col)))
            checks.append(invalid)
        else:
            is_val = np.zeros(rows, dtype=bool)
        layout = self.layout
        out[layout.split_col] = pa.array(is_val)
        out[layout.bad_col] = pa.array(np.logical_or.reduce(checks) if checks else np.zeros(rows, dtype=bool))
        out[layout.bad_image_col] = pa.array(np.zeros(rows, dtype=bool))
        out.update({name: pa.array(flags) for name, flags in zip(layout.check_cols, checks)})
        out.update({name: pa.array(length) for name, length in zip(layout.size_cols, sizes)})
        return pa.table(out)


def _list_of_float():
    """Spark's Arrow type of an ``array<float>`` column."""
    import pyarrow as pa

    return pa.list_(pa.field("element", pa.float32()))


def _array_of(column):
    return column.chunk(0) if column.num_chunks == 1 else column.combine_chunks()


def _valid(column) -> np.ndarray:
    return np.ones(len(column), dtype=bool) if not column.null_count else \
        np.asarray(column.is_valid().to_numpy(zero_copy_only=False), dtype=bool)


def _scalar(column, running):
    import pyarrow as pa
    import pyarrow.compute as pc

    converted = pc.cast(column, pa.float32(), safe=False)
    values = np.asarray(converted.to_numpy(zero_copy_only=False), dtype=np.float32)   # nulls are NaN
    bad = np.isnan(values)
    if running is not None:
        running = np.where(bad, running, spark_hash.hash_floats(np.nan_to_num(values), running))
    return converted, bad, running


def _array(column, running):
    """A numeric list column as ``array<float>``: (converted, bad rows, lengths (-1 if null), hash)."""
    import pyarrow.compute as pc

    converted = pc.cast(column, _list_of_float(), safe=False)
    valid = _valid(converted)
    offsets, values = _offsets_and_values(converted)
    nan = np.isnan(values)
    bad = ~valid
    if nan.any():
        nan_before = np.concatenate([[0], np.cumsum(nan, dtype=np.int64)])
        bad |= nan_before[offsets[1:]] > nan_before[offsets[:-1]]
    length = np.where(valid, np.diff(offsets), -1).astype(np.int32)
    if running is not None:
        running = _hash_rows(values, offsets, length, ~bad, running)
    return converted, bad, length, running


def _offsets_and_values(array):
    """A list array's offsets (from 0) and its values as float32 numpy (null values are NaN)."""
    raw = np.asarray(array.offsets.to_numpy(), dtype=np.int64)
    values = array.values.slice(raw[0], raw[-1] - raw[0])       # the rows' values, null rows' included
    return raw - raw[0], np.asarray(values.to_numpy(zero_copy_only=False), dtype=np.float32)


def _concatenated(parts):
    """``F.concat`` of float32 scalars (as one-element arrays) and ``array<float>`` columns, row by row.

    Rows with a null part are invalid (their concatenation is null in Spark) and are never written;
    here they just get the other parts' values.
    """
    import pyarrow as pa

    rows = len(parts[0])
    pieces = [_offsets_and_values(p) if pa.types.is_list(p.type) else
              (np.arange(rows + 1, dtype=np.int64), np.asarray(p.to_numpy(zero_copy_only=False), dtype=np.float32))
              for p in parts]
    lengths = [np.diff(offsets) for offsets, _ in pieces]
    if all(len(n) == 0 or (n == n[0]).all() for n in lengths):          # fixed widths: one block copy
        widths = [int(n[0]) if len(n) else 0 for n in lengths]
        values = np.concatenate([v.reshape(rows, w) for (_, v), w in zip(pieces, widths)], axis=1).ravel()
        offsets = np.arange(rows + 1, dtype=np.int64) * sum(widths)
    else:
        offsets = np.concatenate([[0], np.cumsum(np.sum(lengths, axis=0))])
        values, before = np.empty(offsets[-1], dtype=np.float32), offsets[:-1].copy()
        for (part_offsets, part_values), n in zip(pieces, lengths):
            values[np.arange(len(part_values)) + np.repeat(before - part_offsets[:-1], n)] = part_values
            before += n
    return pa.ListArray.from_arrays(pa.array(offsets.astype(np.int32)), pa.array(values), type=_list_of_float())


def _hash_rows(values, offsets, length, rows_to_hash, running):
    """Chains each hashed row's values into its running hash; rows are grouped by length."""
    running = running.copy()
    for width in np.unique(length[rows_to_hash]):
        rows = np.flatnonzero(rows_to_hash & (length == width))
        if width <= 0:
            continue
        if len(rows) == len(length) and len(values) == width * len(rows):
            block = values.reshape(len(rows), width)
        else:
            block = values[offsets[rows, None] + np.arange(width)]
        running[rows] = spark_hash.hash_floats(block, running[rows])
    return running


def _label(column, dtype: str, running):
    import pyarrow as pa
    import pyarrow.compute as pc

    if dtype == "float32":
        return _scalar(column, running)
    converted = pc.cast(column, pa.int64(), safe=False)
    valid = _valid(converted)
    if running is not None:
        values = np.asarray(pc.fill_null(converted, 0).to_numpy(zero_copy_only=False), dtype=np.int64)
        running = np.where(valid, spark_hash.hash_long(values, running), running)
    return converted, ~valid, running


def _split_column(column):
    """``(is validation, invalid)`` of a 0/1 or boolean column, as ``cast("int")`` then ``== 1`` in Spark."""
    import pyarrow as pa
    import pyarrow.compute as pc

    valid = _valid(column)
    values = np.asarray(pc.fill_null(pc.cast(column, pa.int32(), safe=False), 0).to_numpy(zero_copy_only=False))
    return valid & (values == 1), ~valid | ((values != 0) & (values != 1))


def _supported(field, kind: str) -> bool:
    from pyspark.sql import types as T

    numeric = (T.ByteType, T.ShortType, T.IntegerType, T.LongType, T.FloatType, T.DoubleType)
    dtype = field.dataType
    if kind == SCALAR:
        return isinstance(dtype, numeric + (T.BooleanType,))
    return isinstance(dtype, T.ArrayType) and isinstance(dtype.elementType, numeric)


def describe(df, specs, label, validation, seed, assemble_as, layout: CheckLayout) -> ArrowStage | None:
    """The :class:`ArrowStage` of these feature specs (before ``assemble_as`` joins them), or ``None``
    when one of them needs Spark."""
    from pyspark.sql import types as T

    if any(s.kind not in (SCALAR, ARRAY) or not _supported(column_field(df, s.name), s.kind) for s in specs):
        return None
    names = [s.name for s in specs]
    if label is not None:
        label_type = column_field(df, label.name).dataType
        if label.needs_mapping or isinstance(label_type, T.DecimalType):
            return None
    split_col, threshold = "", None
    if isinstance(validation, str):
        if validation in names or (label is not None and validation == label.name):
            return None
        split_col = validation
    elif validation:
        threshold = int(round(float(validation) * _BUCKETS))
    return ArrowStage(features=tuple((s.name, s.kind) for s in specs), assemble_as=assemble_as or "",
                      label=label.name if label else "",
                      label_dtype=label.dtype if label else "", threshold=threshold, seed=int(seed),
                      split_col=split_col, layout=layout)

