"""Arrow columns -> flat numpy arrays in bulk: no per-row Python, zero-copy where Arrow allows it.

Example:
    >>> import pyarrow as pa
    >>> flat_numpy(pa.array([[1.0, 2.0], [3.0, 4.0]], pa.list_(pa.float32()))).shape
    (2, 2)
"""

from __future__ import annotations

import numpy as np

from sparkdl_kit.errors import DataError


def _fixed_width(offsets: np.ndarray, name: str) -> int:
    rows = len(offsets) - 1
    width = int(offsets[-1] - offsets[0]) // max(rows, 1)
    if rows and (np.diff(offsets) != width).any():
        raise DataError(f"column '{name}' holds values of different lengths in one row group; expected a fixed "
                        "length. Fix: rewrite the dataset with sparkdl_kit.materialize(), which checks lengths.")
    return width


def flat_numpy(column, name: str = "?") -> np.ndarray:
    """Converts one Arrow column (Array or ChunkedArray) to numpy.

    Returns ``(rows,)`` for scalars, ``(rows, n)`` for fixed-length lists (the list's value type)
    and for fixed-size binaries (uint8).

    Raises:
        DataError: nulls, or lists/binaries of different lengths.
    """
    import pyarrow as pa

    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
    if column.null_count:
        raise DataError(f"column '{name}' holds {column.null_count} null(s); expected none. Fix: rewrite the "
                        "dataset with sparkdl_kit.materialize(), which refuses or drops nulls.")
    kind = column.type
    rows = len(column)
    if pa.types.is_list(kind) or pa.types.is_large_list(kind):
        offsets = column.offsets.to_numpy()
        width = _fixed_width(offsets, name)
        values = column.values.slice(int(offsets[0]), int(offsets[-1] - offsets[0]))
        if values.null_count:
            raise DataError(f"column '{name}' holds null elements inside its arrays; expected none.")
        return values.to_numpy(zero_copy_only=False).reshape(rows, width)
    if pa.types.is_binary(kind) or pa.types.is_large_binary(kind):
        bufs = column.buffers()
        offset_type = np.int64 if pa.types.is_large_binary(kind) else np.int32
        offsets = np.frombuffer(bufs[1], dtype=offset_type, count=column.offset + rows + 1)[column.offset:]
        width = _fixed_width(offsets, name)
        data = np.frombuffer(bufs[2], dtype=np.uint8) if bufs[2] is not None else np.empty(0, np.uint8)
        return data[offsets[0]:offsets[-1]].reshape(rows, width)
    if pa.types.is_fixed_size_binary(kind):
        data = np.frombuffer(column.buffers()[1], dtype=np.uint8)
        start = column.offset * kind.byte_width
        return data[start:start + rows * kind.byte_width].reshape(rows, kind.byte_width)
    return column.to_numpy(zero_copy_only=False)


def table_to_numpy(table, columns: list[str]) -> dict[str, np.ndarray]:
    """``{column: flat_numpy(table[column])}`` for the given columns."""
    return {c: flat_numpy(table.column(c), c) for c in columns}
