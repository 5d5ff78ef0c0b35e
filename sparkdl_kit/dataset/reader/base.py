"""The reader interface: one shard of one split, streamed as chunks of numpy arrays.

A :class:`Reader` yields dicts ``{column: array}`` whose arrays all have the same number of rows
(usually one Parquet row group). Values arrive flat: ``(rows,)`` for scalars and ``(rows, n)``
for fixed-length lists and fixed-size binaries; :func:`sparkdl_kit.dataset.reader.batching.batches`
reshapes them to each column's shape. Implementations differ in how they find, shard and read row
groups; everything above them (batching, shuffling, tf.data) is shared. :class:`PetastormReader` is
the one on the pinned stack; a ``pyarrow.dataset`` implementation can be added next to it.

Example:
    >>> with PetastormReader(url, ["x", "y"], shard=(0, 2), shuffle=True, seed=1) as reader:   # doctest: +SKIP
    ...     for chunk in reader:
    ...         chunk["x"].shape                                                               # (rows, 64)
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Iterator

import numpy as np


class Reader(ABC):
    """Streams the row groups of one shard of a Parquet folder as ``{column: flat numpy array}``.

    Args:
        url: the Parquet folder (one split of a dataset).
        columns: the columns to read.
        shard: ``(rank, size)``; this reader reads every ``size``-th row group starting at ``rank``
            (after a seeded shuffle that is the same on every rank when ``seed`` is given).
        shuffle: visit row groups in a random order (a new order each epoch).
        seed: makes the order reproducible; must be the same on every rank.
        num_epochs: passes over the shard, or ``None`` for an endless stream.
        workers: reading threads.
    """

    def __init__(self, url: str, columns: list[str], shard: tuple[int, int] = (0, 1), shuffle: bool = True,
                 seed: int | None = None, num_epochs: int | None = 1, workers: int = 2):
        self.url = url
        self.columns = list(columns)
        self.shard = shard
        self.shuffle = shuffle
        self.seed = seed
        self.num_epochs = num_epochs
        self.workers = workers

    @abstractmethod
    def __iter__(self) -> Iterator[dict[str, np.ndarray]]:
        """Yields chunks until ``num_epochs`` passes are done (never, when it is ``None``)."""

    @abstractmethod
    def close(self) -> None:
        """Stops reading and releases threads/processes; safe to call twice."""

    def __enter__(self) -> "Reader":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
