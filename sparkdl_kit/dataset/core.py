"""The handle on a materialized dataset: its description, row counts, and the sharded tf.data reader.

Example:
    >>> import sparkdl_kit as sdk
    >>> ds = sdk.Dataset.load("file:///data/digits")                       # doctest: +SKIP
    >>> steps = ds.steps_per_epoch("train", batch_size=64, num_shards=2)   # doctest: +SKIP
    >>> with ds.tf_dataset("train", batch_size=64, shard=(rank, 2), seed=1) as tfds:   # doctest: +SKIP
    ...     model.fit(tfds, steps_per_epoch=steps, epochs=5)
"""

from __future__ import annotations

import contextlib
import logging
import threading
from typing import Callable, Iterator

import numpy as np

from sparkdl_kit.dataset.metadata import METADATA_FILE, DatasetInfo
from sparkdl_kit.dataset.reader.base import Reader
from sparkdl_kit.dataset.reader.batching import batches
from sparkdl_kit.dataset.urls import join, normalize_url, read_bytes
from sparkdl_kit.errors import ConfigError, DatasetNotFoundError

logger = logging.getLogger(__name__)

#: Row groups mixed into every batch when shuffling (the shuffle buffer), unless ``shuffle_buffer`` says otherwise.
DEFAULT_OPEN_ROW_GROUPS = 4
#: Bytes handed from Python to tf.data at a time (several batches per hand-off).
TF_HANDOFF_BYTES = 4 << 20


def _default_reader_class():
    from sparkdl_kit.dataset.reader.petastorm import PetastormReader

    return PetastormReader


class Dataset:
    """A dataset written by :func:`sparkdl_kit.materialize`: Parquet splits plus a metadata file.

    Use :meth:`load` to open one; nothing but the small metadata file is read until a reader starts.
    """

    def __init__(self, url: str, info: DatasetInfo):
        self.url = url
        self.info = info

    @classmethod
    def load(cls, url: str) -> "Dataset":
        """Opens the dataset at ``url`` (``file://``, ``hdfs://``, ``s3a://``, ``gs://`` or a local path).

        Raises:
            DatasetNotFoundError: nothing, or no sparkdl_kit dataset, is at ``url``.

        Example:
            >>> ds = Dataset.load("/tmp/digits")     # doctest: +SKIP
        """
        url = normalize_url(url)
        where = join(url, METADATA_FILE)
        try:
            text = read_bytes(where).decode("utf-8")
        except (OSError, ValueError) as e:
            raise DatasetNotFoundError(
                f"no sparkdl_kit dataset at '{url}' (cannot read {where}: {e}). Fix: check the URL, or write "
                "the dataset first with sparkdl_kit.materialize(df, url, ...).") from e
        return cls(url, DatasetInfo.from_json(text, where))

    # --- description -------------------------------------------------------------------------
    @property
    def feature_cols(self) -> list[str]:
        return list(self.info.feature_cols)

    @property
    def label_col(self) -> str | None:
        return self.info.label_col

    @property
    def feature_shapes(self) -> dict[str, tuple[int, ...]]:
        """The shape of one row of each feature column, e.g. ``{"x": (64,)}`` or ``{"image": (32, 32, 3)}``."""
        return {c: tuple(s) for c, s in self.info.feature_shapes.items()}

    @property
    def feature_dtypes(self) -> dict[str, str]:
        return dict(self.info.feature_dtypes)

    @property
    def label_dtype(self) -> str | None:
        return self.info.label_dtype

    @property
    def label_mapping(self) -> list | None:
        """The original label of each class id (``label_mapping[id]``), or ``None`` when labels were not indexed."""
        return None if self.info.label_mapping is None else list(self.info.label_mapping)

    @property
    def num_classes(self) -> int | None:
        return self.info.num_classes

    @property
    def splits(self) -> list[str]:
        return list(self.info.splits)

    def _split(self, split: str):
        if split not in self.info.splits:
            raise ConfigError(f"split '{split}' is not in dataset {self.url}; it has: {', '.join(self.splits)}. "
                              "Fix: pass one of those (materialize(..., validation=0.2) adds 'validation').")
        return self.info.splits[split]

    def split_url(self, split: str) -> str:
        """The URL of the Parquet folder of ``split`` (readable by Spark, pyarrow and Petastorm)."""
        return join(self.url, self._split(split).path)

    def row_count(self, split: str = "train") -> int:
        return self._split(split).rows

    def steps_per_epoch(self, split: str = "train", batch_size: int = 32, num_shards: int = 1) -> int:
        """Batches per epoch that every one of ``num_shards`` ranks can run: ``rows // (batch_size * num_shards)``.

        At least 1. With ``num_epochs=None`` the reader repeats its shard, so a rank whose shard is
        smaller than the others' still yields this many batches; synchronous allreduce never waits.
        """
        _positive("batch_size", batch_size)
        _positive("num_shards", num_shards)
        return max(1, self.row_count(split) // (batch_size * num_shards))

    def __repr__(self) -> str:
        rows = ", ".join(f"{s}={i.rows}" for s, i in self.info.splits.items())
        return (f"Dataset('{self.url}', features={self.feature_shapes}, label={self.label_col!r}, "
                f"num_classes={self.num_classes}, rows: {rows})")

    # --- reading -------------------------------------------------------------------------------
    def _columns(self) -> dict[str, tuple]:
        cols = {c: (self.feature_shapes[c], self.info.feature_dtypes[c]) for c in self.feature_cols}
        if self.label_col is not None:
            cols[self.label_col] = ((), self.info.label_dtype)
        return cols

    @contextlib.contextmanager
    def numpy_batches(self, split: str = "train", batch_size: int = 32, shard: tuple[int, int] = (0, 1),
                      shuffle: bool = True, seed: int | None = None, num_epochs: int | None = None,
                      drop_remainder: bool = True, shuffle_buffer: int | None = None, workers: int = 2,
                      reader_class: type[Reader] | None = None) -> Iterator[Iterator[dict[str, np.ndarray]]]:
        """Like :meth:`tf_dataset`, but yields an iterator of ``{column: numpy array}`` batches (no TensorFlow).

        Example:
            >>> with ds.numpy_batches("train", batch_size=256, num_epochs=1) as it:   # doctest: +SKIP
            ...     for batch in it:
            ...         batch["x"].shape                                          # (256, 64)
        """
        opened: list[Reader] = []
        make = self._batch_factory(split, batch_size, shard, shuffle, seed, num_epochs, drop_remainder,
                                   shuffle_buffer, workers, reader_class, opened)
        try:
            yield make()
        finally:
            _close_all(opened)

    @contextlib.contextmanager
    def tf_dataset(self, split: str = "train", batch_size: int = 32, shard: tuple[int, int] = (0, 1),
                   shuffle: bool = True, seed: int | None = None, num_epochs: int | None = None,
                   prefetch: int | None = None, transform_fn: Callable | None = None, drop_remainder: bool = True,
                   shuffle_buffer: int | None = None, workers: int = 2, reader_class: type[Reader] | None = None):
        """A ``tf.data.Dataset`` of ``(features, labels)`` batches from one shard of ``split``.

        ``features`` is a tensor when there is one feature column and a dict ``{column: tensor}``
        otherwise; without a label column only ``features`` is yielded. Rows are read a row group at
        a time (row groups of this rank: every ``size``-th), converted to numpy in bulk by the reading
        threads, then gathered in a random order into batches that each mix rows of several row
        groups (the shuffle buffer).

        Args:
            split: ``"train"`` or ``"validation"``.
            batch_size: rows per batch.
            shard: ``(rank, size)``: this process reads one shard of ``size``; the shards of all ranks
                together hold every row exactly once.
            shuffle: shuffle row groups (anew each epoch) and rows within the window.
            seed: reproducible order; must be the same on every rank (each rank derives its own row
                shuffle from it).
            num_epochs: ``None`` repeats forever (use :meth:`steps_per_epoch` as Keras'
                ``steps_per_epoch``); ``k`` yields exactly ``k * steps_per_epoch(...)`` batches on every
                rank (or, with ``drop_remainder=False``, each of the rank's rows ``k`` times).
            prefetch: batches prefetched by tf.data (default: autotuned).
            transform_fn: ``fn(features, labels) -> (features, labels)``, run by tf.data's parallel map.
            drop_remainder: full batches only (static batch size); ``False`` for an exact pass, e.g.
                evaluation with ``shard=(0, 1)`` and ``num_epochs=1``.
            shuffle_buffer: rows in the shuffle buffer, rounded up to whole row groups; every batch
                mixes rows of that many row groups (default: 4 row groups).
            workers: reading threads.
            reader_class: a :class:`~sparkdl_kit.dataset.reader.base.Reader` implementation
                (default: :class:`~sparkdl_kit.dataset.reader.petastorm.PetastormReader`).

        Raises:
            ConfigError: a bad argument; or, while iterating, a shard without any row.

        Example:
            >>> with ds.tf_dataset("train", batch_size=64, shard=(0, 2), seed=7) as tfds:   # doctest: +SKIP
            ...     x, y = next(iter(tfds))
        """
        from sparkdl_kit.dataset.reader.tf_data import to_tf_dataset

        if transform_fn is not None and not callable(transform_fn):
            raise ConfigError(f"transform_fn={transform_fn!r}; expected a function (features, labels) -> "
                              "(features, labels), or None.")
        opened: list[Reader] = []
        group = int(min(256, max(2, TF_HANDOFF_BYTES // (batch_size * self._row_bytes()))))
        make = self._batch_factory(split, batch_size, shard, shuffle, seed, num_epochs, drop_remainder,
                                   shuffle_buffer, workers, reader_class, opened, group)
        try:
            yield to_tf_dataset(make, self._columns(), self.feature_cols, self.label_col,
                                batch_size if drop_remainder else None, transform_fn, prefetch)
        finally:
            _close_all(opened)

    def _row_bytes(self) -> int:
        size = 8 if self.label_col else 0
        for col in self.feature_cols:
            itemsize = np.dtype(self.info.feature_dtypes[col]).itemsize
            size += int(np.prod(self.feature_shapes[col], dtype=np.int64)) * itemsize
        return max(size, 1)

    def _batch_factory(self, split, batch_size, shard, shuffle, seed, num_epochs, drop_remainder, shuffle_buffer,
                       workers, reader_class, opened, group=1):
        info = self._split(split)
        _positive("batch_size", batch_size)
        _positive("workers", workers)
        rank, size = _check_shard(shard)
        if num_epochs is not None:
            _positive("num_epochs", num_epochs)
        if seed is not None and not isinstance(seed, (int, np.integer)):
            raise ConfigError(f"seed={seed!r}; expected an integer or None.")
        if shuffle_buffer is not None:
            _positive("shuffle_buffer", shuffle_buffer)
        per_group = max(1, sum(info.row_groups) // len(info.row_groups)) if info.row_groups else batch_size
        open_chunks = DEFAULT_OPEN_ROW_GROUPS if shuffle_buffer is None else -(-shuffle_buffer // per_group)
        reader_class = reader_class or _default_reader_class()
        url, columns = self.split_url(split), self._columns()
        total = None
        if drop_remainder and num_epochs is not None:
            total = num_epochs * self.steps_per_epoch(split, batch_size, size)
        lock = threading.Lock()

        def make() -> Iterator[dict[str, np.ndarray]]:
            reader = reader_class(url, list(columns), shard=(rank, size), shuffle=shuffle,
                                  seed=None if seed is None else int(seed),
                                  num_epochs=None if drop_remainder else num_epochs, workers=workers)
            with lock:
                opened.append(reader)
            try:
                rng = np.random.default_rng(None if seed is None else [int(seed), rank])
                out = batches(reader, {c: s for c, (s, _) in columns.items()}, {c: d for c, (_, d) in columns.items()},
                              batch_size, shuffle, open_chunks, drop_remainder, group, rng)
                done = 0
                for batch in out:
                    if total is not None and done >= total:
                        break
                    count = len(next(iter(batch.values()))) if group > 1 else 1
                    if total is not None and done + count > total:
                        batch = {k: v[:total - done] for k, v in batch.items()}
                        count = total - done
                    done += count
                    yield batch
            finally:
                reader.close()

        return make


def _close_all(readers: list[Reader]) -> None:
    for reader in readers:
        reader.close()


def _positive(name: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ConfigError(f"{name}={value!r}; expected a positive integer.")


def _check_shard(shard) -> tuple[int, int]:
    ok = (isinstance(shard, (tuple, list)) and len(shard) == 2
          and all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in shard))
    if not ok or not (shard[1] >= 1 and 0 <= shard[0] < shard[1]):
        raise ConfigError(f"shard={shard!r}; expected (rank, size) with 0 <= rank < size, e.g. "
                          "(hvd.rank(), hvd.size()).")
    return int(shard[0]), int(shard[1])
