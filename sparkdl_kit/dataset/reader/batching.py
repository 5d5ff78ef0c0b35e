"""Chunks of rows -> fixed-size batches, shuffled within a window of rows, all in numpy.

Example:
    >>> import numpy as np
    >>> chunks = [{"x": np.arange(10, dtype=np.float32).reshape(5, 2)}] * 3
    >>> [b["x"].shape for b in batches(chunks, {"x": (2,)}, {"x": "float32"}, batch_size=4, shuffle=False)]
    [(4, 2), (4, 2), (4, 2)]
"""

from __future__ import annotations

from typing import Iterable, Iterator

import numpy as np


def _shaped(chunk: dict, shapes: dict, dtypes: dict) -> dict:
    out = {}
    for name, shape in shapes.items():
        arr = chunk[name]
        dtype = np.dtype(dtypes[name])
        if arr.dtype != dtype:
            arr = arr.view(dtype) if arr.dtype.itemsize == dtype.itemsize and arr.ndim > 1 else arr.astype(dtype)
        out[name] = arr.reshape((arr.shape[0], *shape))
    return out


def _rows(chunk: dict) -> int:
    return len(next(iter(chunk.values())))


def batches(chunks: Iterable[dict], shapes: dict[str, tuple], dtypes: dict[str, str], batch_size: int,
            shuffle: bool = True, buffer_rows: int = 0, rng: np.random.Generator | None = None,
            drop_remainder: bool = True) -> Iterator[dict[str, np.ndarray]]:
    """Re-cuts chunks into batches of ``batch_size`` rows.

    Rows are gathered into a window of at least ``buffer_rows`` rows (and at least one batch); with
    ``shuffle`` the window is permuted before it is cut, and the leftover rows (fewer than a batch)
    carry over into the next window.

    Args:
        chunks: dicts ``{column: array}`` of flat arrays, as a Reader yields them.
        shapes: the shape of one row per column (``()`` for scalars); columns not listed are dropped.
        dtypes: the numpy dtype per column.
        batch_size: rows per batch.
        shuffle: permute rows within each window.
        buffer_rows: the window size in rows when shuffling.
        rng: the random generator (seed it for reproducible order).
        drop_remainder: drop the last, smaller batch when the chunks run out.
    """
    rng = rng if rng is not None else np.random.default_rng()
    window = max(batch_size, buffer_rows if shuffle else 0)
    pending: list[dict] = []
    pending_rows = 0
    for chunk in chunks:
        if not chunk or not _rows(chunk):
            continue
        pending.append(_shaped(chunk, shapes, dtypes))
        pending_rows += _rows(pending[-1])
        if pending_rows >= window:
            rest = yield from _cut(pending, batch_size, shuffle, rng)
            pending, pending_rows = ([rest], _rows(rest)) if rest else ([], 0)
    if pending:
        rest = yield from _cut(pending, batch_size, shuffle, rng)
        if rest and not drop_remainder:
            yield rest


def _cut(pending: list[dict], batch_size: int, shuffle: bool, rng) -> Iterator[dict]:
    """Yields every full batch of the pending rows; returns the leftover rows (or None)."""
    if len(pending) == 1:
        merged = pending[0]
    else:
        merged = {c: np.concatenate([p[c] for p in pending]) for c in pending[0]}
    total = _rows(merged)
    full = total - total % batch_size
    if shuffle:
        order = rng.permutation(total)
        for start in range(0, full, batch_size):
            idx = order[start:start + batch_size]
            yield {c: a[idx] for c, a in merged.items()}
        left = order[full:]
        return {c: a[left] for c, a in merged.items()} if len(left) else None
    for start in range(0, full, batch_size):
        yield {c: a[start:start + batch_size] for c, a in merged.items()}
    return {c: a[full:].copy() for c, a in merged.items()} if full < total else None
