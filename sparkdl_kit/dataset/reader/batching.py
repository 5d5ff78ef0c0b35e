"""Chunks of rows -> fixed-size batches, in numpy, with rows mixed across several row groups.

When shuffling, the batcher keeps ``open_chunks`` chunks (row groups) open, each with a random
row order, and builds every batch from all of them, in proportion to the rows each has left, so a
batch holds rows of several row groups and every open row group drains at the same pace: a
shuffle within a buffer of ``open_chunks`` row groups that costs one copy per row (the gather into
the batch itself). Without shuffling, batches are views of one chunk, except where a batch
straddles two chunks.

Example:
    >>> import numpy as np
    >>> chunks = [{"x": np.arange(10, dtype=np.float32).reshape(5, 2)}] * 3
    >>> [b["x"].shape for b in batches(chunks, {"x": (2,)}, {"x": "float32"}, batch_size=4, shuffle=False)]
    [(4, 2), (4, 2), (4, 2)]
"""

from __future__ import annotations

from typing import Iterable, Iterator

import numpy as np


#: Byte alignment of the arrays the batcher allocates: what TensorFlow needs to adopt a buffer without a copy.
ALIGNMENT = 64


def aligned_empty(shape: tuple, dtype) -> np.ndarray:
    """``np.empty(shape, dtype)`` whose data starts on an :data:`ALIGNMENT`-byte boundary.

    Example:
        >>> aligned_empty((3, 5), np.float32).ctypes.data % ALIGNMENT
        0
    """
    dtype = np.dtype(dtype)
    nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    raw = np.empty(nbytes + ALIGNMENT, np.uint8)
    start = -raw.ctypes.data % ALIGNMENT
    return raw[start:start + nbytes].view(dtype).reshape(shape)


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


def _shares(left: list[int], want: int) -> list[int]:
    """Splits ``want`` rows over chunks in proportion to the rows they have ``left`` (sum(left) >= want)."""
    total = sum(left)
    take = [want * n // total for n in left]
    short = want - sum(take)
    for i in sorted(range(len(left)), key=lambda i: left[i] - take[i], reverse=True):
        if short == 0:
            break
        if take[i] < left[i]:
            take[i] += 1
            short -= 1
    return take


def batches(chunks: Iterable[dict], shapes: dict[str, tuple], dtypes: dict[str, str], batch_size: int,
            shuffle: bool = True, open_chunks: int = 2, drop_remainder: bool = True,
            group: int = 1, rng: np.random.Generator | None = None) -> Iterator[dict[str, np.ndarray]]:
    """Re-cuts chunks into batches.

    Args:
        chunks: dicts ``{column: array}`` of flat arrays, as a Reader yields them.
        shapes: the shape of one row per column (``()`` for scalars); other columns are dropped.
        dtypes: the numpy dtype per column.
        batch_size: rows per batch.
        shuffle: visit each chunk's rows in a random order and mix rows of ``open_chunks`` chunks
            in every batch (otherwise read in order).
        open_chunks: how many chunks feed each batch when shuffling.
        drop_remainder: drop the last batch if it is smaller than ``batch_size``.
        group: yield up to ``group`` batches at a time, stacked as arrays of shape
            ``(g, batch_size, *row_shape)`` (fewer Python -> TensorFlow hand-offs); with ``group=1``
            arrays are ``(batch_size, *row_shape)``.
        rng: the random generator of the row order (seed it for a reproducible order).
    """
    rng = rng if rng is not None else np.random.default_rng()
    source = iter(chunks)
    width = max(1, open_chunks if shuffle else 1)
    live: list[list] = []          # [chunk, position, row order or None]
    exhausted = False
    while True:
        available = sum(_rows(c) - p for c, p, _ in live)
        while not exhausted and (len(live) < width or available < batch_size * group):
            chunk = next(source, None)
            if chunk is None:
                exhausted = True
            elif chunk and _rows(chunk):
                shaped = _shaped(chunk, shapes, dtypes)
                live.append([shaped, 0, rng.permutation(_rows(shaped)) if shuffle else None])
                available += _rows(shaped)
        if available == 0:
            return
        full = min(group, available // batch_size)
        want = full * batch_size if full else available
        if not full and drop_remainder:
            return
        take = _shares([_rows(c) - p for c, p, _ in live], want)
        parts = [(entry, t) for entry, t in zip(live, take) if t]
        if len(parts) == 1 and parts[0][0][2] is None:
            (c, p, _), t = parts[0]
            out = {k: v[p:p + t] for k, v in c.items()}
        else:
            out = {k: aligned_empty((want, *v.shape[1:]), v.dtype) for k, v in live[0][0].items()}
            at = 0
            for (c, p, order), t in parts:
                for k, v in c.items():
                    if order is None:
                        out[k][at:at + t] = v[p:p + t]
                    else:
                        np.take(v, order[p:p + t], axis=0, out=out[k][at:at + t])
                at += t
        for entry, t in zip(live, take):
            entry[1] += t
        live = [e for e in live if e[1] < _rows(e[0])]
        if group > 1:
            rows = batch_size if full else want
            out = {k: v.reshape((max(full, 1), rows, *v.shape[1:])) for k, v in out.items()}
        yield out
