"""The checks of :func:`sparkdl_kit.etl.prepare`, counted inside the task that writes the rows.

When :func:`sparkdl_kit.materialize` checks and writes in one pass, Spark computes one boolean
per check and row (null/NaN, bad image, bad split value) and the array lengths, exactly as the
separate check pass would; each writing task sums them over its Arrow batches, keeps only the
valid rows, and reports its partial counts. The driver adds them up (:func:`merge_stats`) and
applies the same rules as the check pass; any failure deletes the temporary output.

Example:
    >>> import pyarrow as pa
    >>> layout = CheckLayout(data_cols=("x",), split_col="v", bad_col="b", bad_image_col="i")
    >>> table = pa.table({"x": [1.0, 2.0], "v": [False, True], "b": [False, True], "i": [False, False]})
    >>> kept, stats = count_and_filter(table, layout)
    >>> kept.num_rows, stats["bad_rows"], stats["kept_validation"]
    (1, 1, 0)
"""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class CheckLayout:
    """Names of the helper columns a writing task receives next to the data (plain values only).

    Attributes:
        data_cols: the columns to write, in order (features, label).
        split_col: the boolean column marking validation rows (kept for the writer).
        bad_col: true on rows with a null/NaN (or a bad split value).
        bad_image_col: true on rows whose image could not be decoded.
        check_cols: one boolean column per check, in the check pass's order (``bad0``, ``bad1``...).
        error_cols: one string column per image feature: the decoding error, or null.
        size_cols: one length column per array source (``min``/``max`` over the valid rows).
        label_col: the label column whose min/max is wanted (integer class ids), or ``""``.
    """

    data_cols: tuple
    split_col: str
    bad_col: str
    bad_image_col: str
    check_cols: tuple = ()
    error_cols: tuple = ()
    size_cols: tuple = ()
    label_col: str = ""


_SUMMED = ("total", "kept", "kept_validation", "bad_rows", "bad_only_rows")


def _min_max(column, name: str, stats: dict) -> None:
    import pyarrow.compute as pc

    if len(column) == 0:
        return
    found = pc.min_max(column).as_py()
    stats[f"min{name}"], stats[f"max{name}"] = found["min"], found["max"]


def count_and_filter(table, layout: CheckLayout):
    """``(valid rows of the data and split columns, partial counts)`` of one Arrow table.

    The counts use the check pass's keys: ``total``, ``kept``, ``kept_validation``, ``bad_rows``,
    ``bad_only_rows``, ``bad{i}``, ``imgerr{i}``/``imgfirst{i}``, ``min{i}``/``max{i}`` and
    ``minlabel``/``maxlabel``.
    """
    import pyarrow.compute as pc

    bad, bad_image = table.column(layout.bad_col), table.column(layout.bad_image_col)
    ok = pc.and_not(pc.invert(bad), bad_image)
    is_val = table.column(layout.split_col)

    def count(mask) -> int:
        return int(pc.sum(pc.cast(mask, "int64")).as_py() or 0)

    stats = {"total": table.num_rows, "kept": count(ok), "kept_validation": count(pc.and_(ok, is_val)),
             "bad_rows": count(bad), "bad_only_rows": count(pc.and_not(bad, bad_image))}
    for i, name in enumerate(layout.check_cols):
        stats[f"bad{i}"] = count(table.column(name))
    for i, name in enumerate(layout.error_cols):
        errors = table.column(name).drop_null()
        stats[f"imgerr{i}"] = len(errors)
        stats[f"imgfirst{i}"] = errors[0].as_py() if len(errors) else None
    kept = filter_rows(table, ok) if stats["kept"] < table.num_rows else table
    for i, name in enumerate(layout.size_cols):
        _min_max(kept.column(name), str(i), stats)
    if layout.label_col:
        _min_max(kept.column(layout.label_col), "label", stats)
    return kept.select([*layout.data_cols, layout.split_col]), stats


def filter_rows(table, mask):
    """``table.filter(mask)`` (null = drop), with fixed-length list columns filtered through numpy.

    pyarrow's own filter gathers list rows one by one, which costs more than writing them; the
    ``list<float>`` features of a dataset are fixed-length, so their values can be filtered as one
    ``(rows, length)`` block.
    """
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    keep = np.asarray(pc.fill_null(mask, False), dtype=bool)
    if keep.all():
        return table
    columns = []
    for column in table.columns:
        chunks, start = [], 0
        for chunk in column.chunks:
            chunks.append(_filter_chunk(chunk, keep[start:start + len(chunk)]))
            start += len(chunk)
        columns.append(pa.chunked_array(chunks, type=column.type))
    return pa.Table.from_arrays(columns, schema=table.schema)


def _filter_chunk(array, keep):
    """One Arrow array filtered by a numpy mask of its length."""
    import numpy as np
    import pyarrow as pa

    if pa.types.is_list(array.type) and len(array) and not array.null_count \
            and pa.types.is_primitive(array.type.value_type):
        values = array.flatten()
        offsets = array.offsets.to_numpy()
        width = int(offsets[1] - offsets[0])
        if not values.null_count and width and len(values) == width * len(array) \
                and (np.diff(offsets) == width).all():
            kept = values.to_numpy(zero_copy_only=False).reshape(len(array), width).take(np.flatnonzero(keep), axis=0)
            new_offsets = pa.array(np.arange(0, (len(kept) + 1) * width, width, dtype=np.int32))
            return pa.ListArray.from_arrays(new_offsets, pa.array(kept.ravel(), type=array.type.value_type),
                                            type=array.type)
    return array.filter(pa.array(keep))


def combine(total: dict, part: dict) -> dict:
    """Adds one partial count into ``total`` (sums, first errors, minima and maxima); returns ``total``."""
    for key, value in part.items():
        if key not in total or total[key] is None:
            total[key] = value
        elif value is None:
            continue
        elif key.startswith("min"):
            total[key] = min(total[key], value)
        elif key.startswith("max"):
            total[key] = max(total[key], value)
        elif not key.startswith("imgfirst"):
            total[key] += value
    return total


def merge_stats(parts: list[dict], layout: CheckLayout) -> dict:
    """Adds up the tasks' partial counts into what the check pass's aggregation returns."""
    merged = {key: 0 for key in _SUMMED}
    merged.update({f"bad{i}": 0 for i in range(len(layout.check_cols))})
    for i in range(len(layout.error_cols)):
        merged[f"imgerr{i}"], merged[f"imgfirst{i}"] = 0, None
    for i in range(len(layout.size_cols)):
        merged[f"min{i}"], merged[f"max{i}"] = None, None
    merged["minlabel"], merged["maxlabel"] = None, None
    for part in parts:
        combine(merged, part)
    merged["label_min"], merged["label_max"] = merged.pop("minlabel"), merged.pop("maxlabel")
    return merged
