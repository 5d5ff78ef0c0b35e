"""Spark's ``xxhash64`` of numeric values, computed with numpy on whole columns.

The fraction split hashes each row's converted values with Spark's ``F.xxhash64``. When the writing
tasks read Parquet themselves (:mod:`sparkdl_kit.dataset.parquet_scan`), they compute the same hash
here, bit for bit, so a row lands in the same split whichever path wrote it. Covered: ``int`` and
``long`` literals, ``float`` scalars, ``long`` scalars and ``array<float>`` (Spark's
``XXH64.hashInt``/``hashLong`` chained element by element, ``-0.0`` hashed as ``0``).

Example:
    >>> import numpy as np
    >>> h = seeded(7, rows=2)
    >>> h = hash_floats(np.array([[1.0, 2.0], [1.0, 2.0]], dtype=np.float32), h)
    >>> bool(h[0] == h[1])
    True
"""

from __future__ import annotations

import numpy as np

_P1 = np.uint64(0x9E3779B185EBCA87)
_P2 = np.uint64(0xC2B2AE3D27D4EB4F)
_P3 = np.uint64(0x165667B19E3779F9)
_P4 = np.uint64(0x85EBCA77C2B2AE63)
_P5 = np.uint64(0x27D4EB2F165667C5)
#: Spark's default seed of ``xxhash64``.
SPARK_SEED = 42
_INT32 = (-(1 << 31), (1 << 31) - 1)
_TRANSPOSE_ROWS = 4096


def _rotl(x, bits: int):
    return (x << np.uint64(bits)) | (x >> np.uint64(64 - bits))


def _fmix(h):
    h ^= h >> np.uint64(33)
    h *= _P2
    h ^= h >> np.uint64(29)
    h *= _P3
    h ^= h >> np.uint64(32)
    return h


def hash_int(words, seed):
    """``XXH64.hashInt(words, seed)`` element-wise: ``words`` uint32, ``seed`` uint64."""
    with np.errstate(over="ignore"):
        return _chain_int(words.astype(np.uint64) * _P1, seed.copy(), np.empty_like(seed))


def _chain_int(premultiplied, running, scratch):
    """``hashInt`` of words already multiplied by PRIME64_1, computed in place in ``running``."""
    running += _P5 + np.uint64(4)
    running ^= premultiplied
    np.right_shift(running, np.uint64(41), out=scratch)
    running <<= np.uint64(23)
    running |= scratch
    running *= _P2
    running += _P3
    for shift, prime in ((33, _P2), (29, _P3)):
        np.right_shift(running, np.uint64(shift), out=scratch)
        running ^= scratch
        running *= prime
    np.right_shift(running, np.uint64(32), out=scratch)
    running ^= scratch
    return running


def hash_long(values, seed):
    """``XXH64.hashLong(values, seed)`` element-wise: ``values`` int64/uint64, ``seed`` uint64."""
    with np.errstate(over="ignore"):
        h = seed + (_P5 + np.uint64(8))
        h ^= _rotl(values.astype(np.int64).view(np.uint64) * _P2, 31) * _P1
        h = _rotl(h, 27) * _P1 + _P4
        return _fmix(h)


def seeded(seed: int, rows: int):
    """The running hash after ``F.xxhash64(F.lit(seed), ...)`` has hashed its literal, one per row."""
    base = np.full(rows, SPARK_SEED, dtype=np.uint64)
    if _INT32[0] <= seed <= _INT32[1]:
        return hash_int(np.array(seed, dtype=np.int64).astype(np.uint32).repeat(rows), base)
    return hash_long(np.array(seed, dtype=np.int64).repeat(rows), base)


def hash_floats(values, running):
    """Chains the float32 values of each row into ``running``: ``values`` is ``(rows,)`` or ``(rows, n)``."""
    words = np.ascontiguousarray(values, dtype=np.float32).view(np.uint32).reshape(len(values), -1)
    columns = np.empty(words.shape[::-1], dtype=np.uint64)            # one contiguous row per position
    for start in range(0, len(words), _TRANSPOSE_ROWS):               # in blocks that stay in cache
        columns[:, start:start + _TRANSPOSE_ROWS] = words[start:start + _TRANSPOSE_ROWS].T
    columns[columns == np.uint64(0x80000000)] = 0                     # -0.0 hashes as 0.0
    with np.errstate(over="ignore"):
        columns *= _P1
        running, scratch = running.copy(), np.empty_like(running)
        for column in columns:
            _chain_int(column, running, scratch)
    return running


def bucket(running, buckets: int):
    """``pmod(hash, buckets)`` for a power-of-two ``buckets``, as Spark computes it on the signed hash."""
    return (running & np.uint64(buckets - 1)).astype(np.int64)
