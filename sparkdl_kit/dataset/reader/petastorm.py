"""The :class:`~sparkdl_kit.dataset.reader.base.Reader` on Petastorm (the pinned stack).

Petastorm finds the row groups, shards them by rank, orders them (shuffled per epoch, seeded) and
runs the reading threads. What it does not do fast is turning a row group into numpy: its default
path goes through pandas and stacks lists row by row. The worker below replaces only that step: it
converts each row group's Arrow columns to numpy in bulk, inside the reading thread.

Example:
    >>> with PetastormReader("file:///data/x/train", ["x", "label"], shard=(1, 4)) as reader:  # doctest: +SKIP
    ...     chunk = next(iter(reader))
"""

from __future__ import annotations

import logging
import re
from typing import Iterator

import numpy as np

from sparkdl_kit._deps import quiet_legacy_warnings, require
from sparkdl_kit.dataset.reader.arrow import table_to_numpy
from sparkdl_kit.dataset.reader.base import Reader
from sparkdl_kit.errors import ConfigError

logger = logging.getLogger(__name__)
_WORKER_CLASS = None


def _bulk_worker_class():
    """A subclass of Petastorm's ArrowReaderWorker whose rows leave the thread as numpy, converted in bulk."""
    global _WORKER_CLASS
    if _WORKER_CLASS is None:
        arrow_worker = require("petastorm.arrow_reader_worker")

        class BulkArrowReaderWorker(arrow_worker.ArrowReaderWorker):
            """Reads one row group and publishes ``{column: flat numpy array}``, rows permuted when shuffling."""

            def _load_rows(self, pq_file, piece, shuffle_row_drop_range):
                names = [f.name for f in self._schema.fields.values()]
                if piece.row_group is None:
                    table = pq_file.read(columns=names, use_threads=False)
                else:
                    table = pq_file.read_row_group(piece.row_group, columns=names, use_threads=False)
                if not table.num_rows:
                    return {}
                arrays = table_to_numpy(table, names)
                if self._shuffle_rows:
                    order = self._rng.permutation(table.num_rows)
                    arrays = {name: arr[order] for name, arr in arrays.items()}
                return arrays

        _WORKER_CLASS = BulkArrowReaderWorker
    return _WORKER_CLASS


class PetastormReader(Reader):
    """Reads one shard of a Parquet folder with Petastorm's row-group scheduler and bulk conversion.

    See :class:`~sparkdl_kit.dataset.reader.base.Reader` for the arguments.

    Raises:
        ConfigError: the folder has fewer row groups than ``shard[1]`` (some shard would be empty).
    """

    def __init__(self, url: str, columns: list[str], shard: tuple[int, int] = (0, 1), shuffle: bool = True,
                 seed: int | None = None, num_epochs: int | None = 1, workers: int = 2,
                 queue_row_groups: int = 4):
        super().__init__(url, columns, shard, shuffle, seed, num_epochs, workers)
        quiet_legacy_warnings()
        petastorm_reader = require("petastorm.reader")
        thread_pool = require("petastorm.workers_pool.thread_pool")
        from sparkdl_kit.dataset.urls import reader_filesystem

        rank, size = shard
        filesystem, path = reader_filesystem(url)
        pool = thread_pool.ThreadPool(workers, results_queue_size=queue_row_groups * workers)
        try:
            self._reader = petastorm_reader.Reader(
                filesystem, path, schema_fields=[re.escape(c) for c in columns],
                worker_class=_bulk_worker_class(), reader_pool=pool, seed=seed, shuffle_rows=shuffle,
                shuffle_row_groups=shuffle, num_epochs=num_epochs,
                cur_shard=rank if size > 1 else None, shard_count=size if size > 1 else None,
                is_batched_reader=True)
        except require("petastorm.errors").NoDataAvailableError as e:
            raise ConfigError(
                f"'{url}' has fewer row groups than the {size} shards asked for, so some ranks would read "
                f"nothing. Fix: materialize again with num_shards={size} (or more), or use fewer processes."
            ) from e
        self._closed = False

    def __iter__(self) -> Iterator[dict[str, np.ndarray]]:
        for item in self._reader:
            yield item._asdict()

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._reader.stop()
            self._reader.join()
