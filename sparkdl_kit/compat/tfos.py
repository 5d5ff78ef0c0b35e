"""TensorFlowOnSpark's ``TFCluster.run(sc, map_fun, tf_args, num_executors, ...)`` over :func:`sparkdl_kit.run`.

``map_fun(args, ctx)`` runs on ``num_executors`` Horovod workers (one Spark task each); ``ctx`` carries
TFoS' fields (``worker_num``, ``num_workers``, ``task_index``, ``job_name``, ``executor_id``). Training
is synchronous allreduce: inside ``map_fun`` call ``hvd.init()`` and wrap the optimizer in
``hvd.DistributedOptimizer``, instead of TFoS' ``TF_CONFIG`` and parameter servers.

``InputMode.SPARK`` feeds an RDD or DataFrame to the workers without TFoS' queues: ``train`` and
``inference`` first materialize the data as a dataset (Parquet) under ``store``, then each worker reads
its own shard through :class:`DataFeed` (``next_batch(n)``, ``should_stop()``, ``batch_results(...)``).
No worker waits on a feeder, so feeding cannot deadlock: in training every worker receives the same
number of rows (``num_epochs * (rows // num_workers)``; the rows of a smaller shard are read again), so
synchronous allreduce steps line up; in inference every row is read exactly once.

Example:
    >>> from sparkdl_kit.compat.tfos import TFCluster, TFNode, InputMode
    >>> def map_fun(args, ctx):
    ...     feed = TFNode.DataFeed(ctx.mgr, train_mode=True)
    ...     while not feed.should_stop():
    ...         batch = feed.next_batch(args.batch_size)     # a list of (features, label) tuples
    >>> cluster = TFCluster.run(sc, map_fun, args, num_executors=2, input_mode=InputMode.SPARK)  # doctest: +SKIP
    >>> cluster.train(rdd, num_epochs=5)                                                          # doctest: +SKIP
    >>> cluster.shutdown()                                                                        # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import threading
from typing import Any, Callable

import numpy as np

from sparkdl_kit.compat._common import ARRAY, INT, active_spark, records_to_frame, scratch_url, warn_ignored
from sparkdl_kit.errors import ConfigError, WorkerFailedError

logger = logging.getLogger(__name__)

PROJECT = "TensorFlowOnSpark"
#: Rows a worker reads from its shard at a time (the feed hands them out in ``next_batch(n)`` pieces).
FEED_CHUNK_ROWS = 256


class InputMode:
    """How ``map_fun`` gets its data: ``TENSORFLOW`` (it reads files itself) or ``SPARK`` (fed from an RDD)."""

    TENSORFLOW = 0
    SPARK = 1


@dataclasses.dataclass(frozen=True)
class FeedSource:
    """What a worker needs to read its part of the fed data: plain values only."""

    dataset_url: str
    names: tuple[str, ...]
    kinds: tuple[str, ...]
    train_mode: bool
    num_epochs: int
    seed: int


class FeedManager:
    """One worker's access to the fed data (``ctx.mgr``): its shard reader and the results it returns."""

    def __init__(self, source: FeedSource, rank: int, size: int):
        self.source = source
        self.rank, self.size = rank, size
        self.results: list[Any] = []
        self._stack = contextlib.ExitStack()
        self._batches = None

    def batches(self):
        """The iterator of ``{column: array}`` chunks of this worker's shard (opened on first use)."""
        if self._batches is None:
            from sparkdl_kit.dataset import Dataset

            ds = Dataset.load(self.source.dataset_url)
            if self.source.train_mode:
                per_rank = ds.row_count("train") // self.size
                if per_rank < 1:
                    raise ConfigError(f"the fed data has {ds.row_count('train')} row(s), fewer than the "
                                      f"{self.size} workers: expected at least one row per worker.")
                chunk = max(1, min(FEED_CHUNK_ROWS, per_rank))
                opened = ds.numpy_batches("train", batch_size=chunk, shard=(self.rank, self.size), shuffle=True,
                                          seed=self.source.seed, num_epochs=None)
                self._batches = _capped(self._stack.enter_context(opened), per_rank * self.source.num_epochs)
            else:
                opened = ds.numpy_batches("train", batch_size=FEED_CHUNK_ROWS, shard=(self.rank, self.size),
                                          shuffle=False, num_epochs=1, drop_remainder=False)
                self._batches = self._stack.enter_context(opened)
        return self._batches

    def close(self) -> None:
        self._stack.close()


def _capped(chunks, rows: int):
    """The first ``rows`` rows of an endless iterator of column chunks."""
    left = rows
    for chunk in chunks:
        if left <= 0:
            return
        n = len(next(iter(chunk.values())))
        yield chunk if n <= left else {k: v[:left] for k, v in chunk.items()}
        left -= n


class DataFeed:
    """TFoS' ``TFNode.DataFeed``: the rows fed to this worker, ``n`` at a time.

    Args:
        mgr: ``ctx.mgr`` inside ``map_fun``.
        train_mode: accepted for compatibility (whether rows repeat is decided by ``train``/``inference``).
        qname_in, qname_out: accepted for compatibility; there are no queues.
        input_mapping: ``{column: name}``; when given, ``next_batch`` returns ``{name: [values]}``.

    Example:
        >>> feed = DataFeed(ctx.mgr, train_mode=False)             # doctest: +SKIP
        >>> while not feed.should_stop():                           # doctest: +SKIP
        ...     rows = feed.next_batch(64)
        ...     feed.batch_results([predict(r) for r in rows])
    """

    def __init__(self, mgr: FeedManager, train_mode: bool = True, qname_in: str = "input",
                 qname_out: str = "output", input_mapping: dict[str, str] | None = None):
        if not isinstance(mgr, FeedManager):
            raise ConfigError("DataFeed(mgr): mgr is not a feed; it exists only in InputMode.SPARK, inside the "
                              "map_fun run by cluster.train(...) or cluster.inference(...). Pass ctx.mgr.")
        self.mgr = mgr
        self.train_mode = train_mode
        self.input_mapping = dict(input_mapping) if input_mapping else None
        if self.input_mapping:
            unknown = sorted(set(self.input_mapping) - set(mgr.source.names))
            if unknown:
                raise ConfigError(f"input_mapping names column(s) {', '.join(unknown)}, but the fed data has: "
                                  f"{', '.join(mgr.source.names)}.")
        self._chunk: dict[str, np.ndarray] | None = None
        self._offset = 0
        self._done = False

    def _next_chunk(self) -> bool:
        try:
            self._chunk = next(self.mgr.batches())
        except StopIteration:
            self._done = True
            self.mgr.close()
            return False
        self._offset = 0
        return True

    def next_batch(self, batch_size: int):
        """Up to ``batch_size`` rows as a list of tuples (fields in the fed records' order; arrays as 1-D
        float32 numpy arrays, integers as ``int``, other numbers as ``float``), or ``{name: [values]}`` with
        ``input_mapping``. Fewer rows (possibly none) at the end of the feed."""
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ConfigError(f"next_batch(batch_size={batch_size!r}): expected an integer >= 1.")
        names, kinds = self.mgr.source.names, self.mgr.source.kinds
        columns: dict[str, list] = {n: [] for n in names}
        taken = 0
        while taken < batch_size and not self._done:
            if self._chunk is None or self._offset >= len(self._chunk[names[0]]):
                if not self._next_chunk():
                    break
            stop = min(self._offset + batch_size - taken, len(self._chunk[names[0]]))
            for name, kind in zip(names, kinds):
                values = self._chunk[name][self._offset:stop]
                columns[name].extend(list(values) if kind == ARRAY else
                                     (values.astype(np.int64) if kind == INT else values.astype(np.float64)).tolist())
            taken += stop - self._offset
            self._offset = stop
        if self.input_mapping:
            return {alias: columns[name] for name, alias in self.input_mapping.items()}
        return list(zip(*(columns[n] for n in names)))

    def should_stop(self) -> bool:
        """True once every row fed to this worker was returned by ``next_batch`` (or after ``terminate``)."""
        if not self._done and (self._chunk is None or self._offset >= len(self._chunk[self.mgr.source.names[0]])):
            self._next_chunk()
        return self._done

    def batch_results(self, results) -> None:
        """Returns results (one per row, in the order the rows came) to ``cluster.inference``."""
        self.mgr.results.extend(results)

    def terminate(self) -> None:
        """Stops reading: ``should_stop()`` is True from now on."""
        self._done = True
        self.mgr.close()


class TFNode:
    """The ``TFNode`` names ``map_fun`` code uses: ``TFNode.DataFeed``."""

    DataFeed = DataFeed


@dataclasses.dataclass
class TFNodeContext:
    """What ``map_fun(args, ctx)`` gets as ``ctx``.

    Attributes:
        worker_num: this worker's index, 0..num_workers-1 (the Horovod rank).
        num_workers: the number of workers.
        task_index: the index within ``job_name`` (with ``master_node``, the chief is 0 and workers count from 0).
        job_name: ``"worker"``, or ``master_node`` (e.g. ``"chief"``) on worker 0 when one was asked for.
        executor_id: the worker's index (one worker per Spark task).
        default_fs: the default filesystem URL (``file://`` locally).
        working_dir: the worker's current directory.
        log_dir: ``log_dir`` given to ``TFCluster.run``, for TensorBoard event files.
        mgr: the feed (``InputMode.SPARK`` inside ``train``/``inference``), else ``None``.
    """

    worker_num: int
    num_workers: int
    task_index: int
    job_name: str
    executor_id: int
    default_fs: str
    working_dir: str
    log_dir: str | None
    mgr: FeedManager | None

    @property
    def defaultFS(self) -> str:  # noqa: N802 -- TFoS' name
        return self.default_fs

    def absolute_path(self, path: str) -> str:
        """``path`` as a URL: kept when it has a scheme, else under ``default_fs`` / ``working_dir``."""
        if "://" in path:
            return path
        return self.default_fs.rstrip("/") + os.path.join(self.working_dir, path)

    def get_data_feed(self, train_mode: bool = True, qname_in: str = "input", qname_out: str = "output",
                      input_mapping: dict[str, str] | None = None) -> DataFeed:
        """``TFNode.DataFeed(ctx.mgr, ...)``."""
        return DataFeed(self.mgr, train_mode, qname_in, qname_out, input_mapping)


def tfos_worker(map_fun: Callable, tf_args: Any, source: FeedSource | None, log_dir: str | None,
                master_node: str | None) -> list[Any]:
    """Runs ``map_fun(tf_args, ctx)`` on one worker; returns what it passed to ``batch_results``."""
    from sparkdl_kit.launch import worker_context

    w = worker_context()
    chief = master_node is not None and w.rank == 0
    mgr = FeedManager(source, w.rank, w.size) if source is not None else None
    ctx = TFNodeContext(worker_num=w.rank, num_workers=w.size,
                        task_index=w.rank - 1 if master_node is not None and not chief else w.rank,
                        job_name=master_node if chief else "worker", executor_id=w.rank, default_fs="file://",
                        working_dir=os.getcwd(), log_dir=log_dir, mgr=mgr)
    try:
        map_fun(tf_args, ctx)
    finally:
        if mgr is not None:
            mgr.close()
    return mgr.results if mgr is not None else []


@dataclasses.dataclass
class TFCluster:
    """A running (``InputMode.TENSORFLOW``) or ready (``InputMode.SPARK``) set of workers; see :meth:`run`."""

    sc: Any
    map_fun: Callable
    tf_args: Any
    num_executors: int
    input_mode: int
    log_dir: str | None
    master_node: str | None
    store: str
    timeout: float | None
    _thread: threading.Thread | None = dataclasses.field(default=None, init=False, repr=False)
    _error: BaseException | None = dataclasses.field(default=None, init=False, repr=False)

    @staticmethod
    def run(sc, map_fun: Callable, tf_args: Any, num_executors: int, num_ps: int = 0, tensorboard: bool = False,
            input_mode: int = InputMode.TENSORFLOW, log_dir: str | None = None, driver_ps_nodes: bool = False,
            master_node: str | None = None, reservation_timeout: float = 600, queues=None, eval_node: bool = False,
            release_port: bool = True, *, store: str = "file:///tmp/sparkdl_kit/tfos",
            timeout: float | None = None) -> "TFCluster":
        """Starts ``map_fun`` on ``num_executors`` workers (``InputMode.TENSORFLOW``), or prepares them for
        ``train``/``inference`` (``InputMode.SPARK``).

        Args:
            sc: the SparkContext.
            map_fun: ``map_fun(args, ctx)``; picklable, run once per worker and per ``train``/``inference`` call.
            tf_args: passed to ``map_fun`` as ``args``.
            num_executors: the number of workers (at most the Spark task slots).
            num_ps: must be 0: there are no parameter servers (see the error).
            tensorboard: no TensorBoard server is started; point TensorBoard at ``log_dir`` (warns).
            input_mode: ``InputMode.TENSORFLOW`` or ``InputMode.SPARK``.
            log_dir: handed to ``map_fun`` as ``ctx.log_dir``.
            master_node: a job name (e.g. ``"chief"``) for worker 0.
            driver_ps_nodes, eval_node: not supported (warn); reservation_timeout, queues, release_port:
                accepted and unused (there is no reservation server and there are no queues).
            store: a folder URL every worker can read, where ``InputMode.SPARK`` materializes fed data.
            timeout: seconds for each run of the workers before they are stopped with an error.

        Raises:
            ConfigError: ``num_ps > 0``, an unknown ``input_mode``, or ``num_executors < 1``.
        """
        if num_ps:
            raise ConfigError(
                f"TFCluster.run(num_ps={num_ps!r}): parameter servers are not supported. sparkdl_kit trains with "
                "synchronous allreduce (Horovod): every worker holds the whole model and gradients are averaged "
                "across workers each step, so no process holds the variables. Fix: pass num_ps=0 and, inside "
                "map_fun, call hvd.init() and wrap the optimizer in hvd.DistributedOptimizer "
                "(horovod.tensorflow.keras) instead of a ParameterServerStrategy.")
        if input_mode not in (InputMode.TENSORFLOW, InputMode.SPARK):
            raise ConfigError(f"input_mode={input_mode!r}: expected InputMode.TENSORFLOW or InputMode.SPARK.")
        if isinstance(num_executors, bool) or not isinstance(num_executors, int) or num_executors < 1:
            raise ConfigError(f"num_executors={num_executors!r}: expected the number of workers, an integer >= 1.")
        if tensorboard:
            warn_ignored(PROJECT, "tensorboard", tensorboard, "no TensorBoard server is started; write event "
                         "files to ctx.log_dir in map_fun and run `tensorboard --logdir` on them.")
        if driver_ps_nodes:
            warn_ignored(PROJECT, "driver_ps_nodes", driver_ps_nodes, "there are no parameter servers.")
        if eval_node:
            warn_ignored(PROJECT, "eval_node", eval_node, "every node is a training worker; evaluate on the "
                         "driver or on worker 0.")
        cluster = TFCluster(sc, map_fun, tf_args, num_executors, input_mode, log_dir, master_node, store, timeout)
        if input_mode == InputMode.TENSORFLOW:
            cluster._start_in_background()
        return cluster

    def _launch(self, source: FeedSource | None) -> list[list[Any]]:
        from sparkdl_kit.launch import run

        return run(tfos_worker, args=(self.map_fun, self.tf_args, source, self.log_dir, self.master_node),
                   num_proc=self.num_executors, timeout=self.timeout)

    def _start_in_background(self) -> None:
        def body():
            try:
                self._launch(None)
            except BaseException as e:  # noqa: B036 -- re-raised by shutdown() on the caller's thread
                self._error = e

        self._thread = threading.Thread(target=body, name="sparkdl_kit-tfos", daemon=True)
        self._thread.start()

    def _fed(self, data, train_mode: bool, num_epochs: int) -> list[list[Any]]:
        from sparkdl_kit.dataset import materialize
        from sparkdl_kit.dataset.urls import HadoopFS

        if self.input_mode != InputMode.SPARK:
            raise ConfigError("train()/inference() feed data in InputMode.SPARK only; this cluster was started "
                              "with InputMode.TENSORFLOW, where map_fun reads its own data. Fix: pass "
                              "input_mode=InputMode.SPARK to TFCluster.run.")
        spark = active_spark()
        if hasattr(data, "rdd") and hasattr(data, "columns"):
            df, kinds = records_to_frame(spark, data.rdd, names=list(data.columns))
        else:
            df, kinds = records_to_frame(spark, data)
        url = scratch_url(self.store, "tfos-feed")
        try:
            materialize(df, url, feature_cols=list(df.columns))
            logger.info("TFCluster: fed data written to %s; %s runs map_fun on %d worker(s)", url,
                        "train" if train_mode else "inference", self.num_executors)
            source = FeedSource(url, tuple(df.columns), kinds, train_mode, num_epochs, seed=0)
            return self._launch(source)
        finally:
            HadoopFS(spark, url).delete(url)

    def train(self, dataRDD, num_epochs: int = 1, feed_timeout: float = 600,  # noqa: N803 -- TFoS' names
              qname: str = "input") -> None:
        """Runs ``map_fun`` on the workers, feeding them ``dataRDD`` (an RDD of records, or a DataFrame)
        ``num_epochs`` times, shuffled. Returns when every worker's ``map_fun`` has returned.

        Raises:
            WorkerFailedError: a worker raised or died.
        """
        if isinstance(num_epochs, bool) or not isinstance(num_epochs, int) or num_epochs < 1:
            raise ConfigError(f"train(num_epochs={num_epochs!r}): expected an integer >= 1.")
        self._fed(dataRDD, True, num_epochs)

    def inference(self, dataRDD, feed_timeout: float = 600, qname: str = "input"):  # noqa: N803
        """Runs ``map_fun`` on the workers, feeding every row of ``dataRDD`` once, and returns an RDD of what
        they passed to ``feed.batch_results``. Results are grouped by worker (shard), not in input order:
        return the keys (e.g. labels or ids) with the predictions.
        """
        per_worker = self._fed(dataRDD, False, 1)
        return self.sc.parallelize([r for results in per_worker for r in results])

    def shutdown(self, ssc=None, grace_secs: float = 0, timeout: float = 259200) -> None:
        """Waits for the workers started by ``run`` (``InputMode.TENSORFLOW``) and raises their error, if any.

        Raises:
            WorkerFailedError: a worker failed, or they had not finished after ``timeout`` seconds (their
                Spark jobs are then cancelled).
        """
        if self._thread is None:
            return
        self._thread.join(timeout)
        if self._thread.is_alive():
            self.sc.cancelAllJobs()
            raise WorkerFailedError(None, "Timeout", f"map_fun had not finished after shutdown(timeout={timeout:g}) "
                                    "seconds; its Spark jobs were cancelled.")
        if self._error is not None:
            raise self._error
