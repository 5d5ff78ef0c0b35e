"""Inside a task: Arrow columns -> numpy model inputs, with the rows that cannot be predicted marked.

Numeric arrays are read without a per-row Python loop (the list's flat values, reshaped); images are
decoded and resized by :func:`sparkdl_kit.etl.images.decode_one`, the ETL's own decoder.

Example:
    >>> import pyarrow as pa
    >>> spec = InputSpec("x", "x", FLOAT, (2,), "float32")
    >>> values, valid, _ = column_to_numpy(pa.array([[1.0, 2.0], None], pa.list_(pa.float32())), spec, None)
    >>> values.shape, valid.tolist()
    ((1, 2), [True, False])
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from sparkdl_kit.errors import DataError, SchemaError
from sparkdl_kit.inference.plan import AUTO, FLOAT, IMAGE_ENCODED, IMAGE_PATH, IMAGE_RAW, InputSpec

_DECODE_ERRORS = (OSError, ValueError, SyntaxError)    # what PIL raises for unreadable files


def resolve_kind(arr: pa.Array, spec: InputSpec) -> str:
    """The spec's kind, or for AUTO the kind the Arrow type implies (binary: encoded images, string: paths)."""
    if spec.kind != AUTO:
        return spec.kind
    t = arr.type
    if pa.types.is_binary(t) or pa.types.is_large_binary(t):
        return IMAGE_ENCODED
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return IMAGE_PATH
    if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_integer(t) or pa.types.is_floating(t) \
            or pa.types.is_boolean(t):
        return FLOAT
    raise SchemaError(f"input column '{spec.source}' arrives as Arrow type {t}; expected numbers, arrays of numbers, "
                      "image bytes (binary) or image paths (string).")


def column_to_numpy(arr: pa.Array, spec: InputSpec, paths: pa.Array | None) -> tuple[np.ndarray, np.ndarray, list]:
    """Converts one Arrow column for one model input.

    Returns:
        ``(values, valid, problems)``: the model input for the valid rows only (shape
        ``(valid.sum(), *row_shape)``), a boolean mask over all rows, and one text per invalid row
        (``"row 3: null"``, ``"/x/a.png: OSError: ..."``).

    Raises:
        DataError: arrays of the wrong length (always an error: the column does not fit the model).
    """
    kind = resolve_kind(arr, spec)
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if kind == FLOAT:
        if pa.types.is_list(arr.type) or pa.types.is_large_list(arr.type):
            return _numeric_lists(arr, spec)
        return _numeric_scalars(arr, spec)
    if kind == IMAGE_RAW:
        return _raw_images(arr, spec)
    return _encoded_images(arr, spec, kind, paths)


def _null_rows(valid: np.ndarray) -> list[str]:
    return [f"batch row {i}: null" for i in np.flatnonzero(~valid)]


def _numeric_scalars(arr: pa.Array, spec: InputSpec):
    if spec.size not in (1, None) or len(spec.shape) > 1:
        raise SchemaError(f"input column '{spec.source}' holds one number per row, but the model input expects "
                          f"shape {spec.shape}. Pass an array or vector column of {spec.size} values.")
    valid = np.ones(len(arr), bool) if arr.null_count == 0 else ~arr.is_null().to_numpy(zero_copy_only=False)
    values = arr.to_numpy(zero_copy_only=False).astype(np.float32, copy=False)[valid]
    return values.reshape((len(values), *[d or 1 for d in spec.shape])), valid, _null_rows(valid)


def _numeric_lists(arr: pa.Array, spec: InputSpec):
    n = len(arr)
    valid = np.ones(n, bool) if arr.null_count == 0 else ~arr.is_null().to_numpy(zero_copy_only=False)
    lengths = np.diff(np.asarray(arr.offsets))
    kept_lengths = lengths[valid]
    expected = spec.size
    if expected is None:   # a free dimension: every row of the batch must have the same length
        expected = int(kept_lengths[0]) if len(kept_lengths) else 0
    wrong = np.flatnonzero(valid & (lengths != expected))
    if len(wrong):
        i = int(wrong[0])
        raise DataError(
            f"input column '{spec.source}': row {i} of a batch holds {int(lengths[i])} values, but the model input "
            f"expects {expected} (shape {spec.shape}); {len(wrong)} row(s) of this batch have a wrong length. "
            "Fix: pass the column the model was trained on, or a model whose input matches it.")
    flat = arr.flatten()
    values = flat.to_numpy(zero_copy_only=False).astype(np.float32, copy=False)
    values = values.reshape((int(valid.sum()), *[d if d is not None else expected for d in spec.shape]))
    problems = _null_rows(valid)
    if flat.null_count:     # null elements inside arrays: those rows are invalid too
        bad_values = ~flat.is_valid().to_numpy(zero_copy_only=False)
        row_of_value = np.repeat(np.arange(len(values)), expected)
        bad_kept = np.zeros(len(values), bool)
        bad_kept[row_of_value[bad_values]] = True
        rows = np.flatnonzero(valid)[bad_kept]
        valid = valid.copy()
        valid[rows] = False
        values = values[~bad_kept]
        problems += [f"batch row {i}: null element in the array" for i in rows]
    return values, valid, problems


def _raw_images(arr: pa.Array, spec: InputSpec):
    h, w, c = spec.image_hwc
    size = h * w * c
    items = arr.to_pylist()
    valid = np.array([v is not None for v in items], bool)
    for i, v in enumerate(items):
        if v is not None and len(v) != size:
            raise DataError(f"image column '{spec.source}': row {i} holds {len(v)} bytes, but the model input "
                            f"expects {h}x{w}x{c} = {size}. Fix: decode images to the model's input size.")
    data = np.frombuffer(b"".join(v for v in items if v is not None), dtype=np.uint8)
    return data.reshape((int(valid.sum()), *spec.shape)), valid, _null_rows(valid)


def _encoded_images(arr: pa.Array, spec: InputSpec, kind: str, paths: pa.Array | None):
    from sparkdl_kit.etl.images import decode_one

    h, w, c = spec.image_hwc
    items = arr.to_pylist()
    names = paths.to_pylist() if paths is not None else [None] * len(items)
    valid = np.zeros(len(items), bool)
    decoded, problems = [], []
    for i, (item, name) in enumerate(zip(items, names)):
        where = (item if kind == IMAGE_PATH else name) or f"batch row {i}"
        if item is None:
            problems.append(f"{where}: null")
            continue
        try:
            if kind == IMAGE_PATH:
                decoded.append(decode_one(None, item, h, w, c))
            else:
                decoded.append(decode_one(item, name, h, w, c))
        except _DECODE_ERRORS as e:
            problems.append(f"{where}: {type(e).__name__}: {e}")
            continue
        valid[i] = True
    data = np.frombuffer(b"".join(decoded), dtype=np.uint8)
    return data.reshape((len(decoded), *spec.shape)), valid, problems
