"""``run``: one function on N distributed workers, from the driver."""

from __future__ import annotations

import logging
import time
from typing import Any, Callable, Mapping, Sequence

from sparkdl_kit.errors import ConfigError, DriverOnlyError
from sparkdl_kit.launch.base import Launcher, LaunchSpec, run_folder
from sparkdl_kit.launch.slots import check_num_proc
from sparkdl_kit.launch.worker import in_worker

logger = logging.getLogger(__name__)


def _active_spark_context():
    from pyspark import SparkContext, TaskContext

    if TaskContext.get() is not None or in_worker():
        raise DriverOnlyError(
            "sparkdl_kit.run() was called inside a Spark task or a distributed worker. It starts Spark tasks "
            "itself and must be called on the driver. Fix: call it from the driver program, not from a UDF, "
            "mapPartitions or the function given to run().")
    sc = SparkContext._active_spark_context
    if sc is None:
        raise ConfigError("sparkdl_kit.run() needs an active SparkSession, and there is none. "
                          "Fix: create one first, e.g. spark = sparkdl_kit.get_session().")
    return sc


def _positive(name: str, value: Any, allow_none: bool = False) -> None:
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        expected = "a positive number" + (" or None" if allow_none else "")
        raise ConfigError(f"{name}={value!r} is not usable: expected {expected}. Fix: pass e.g. {name}=60.")


def run(fn: Callable[..., Any], args: Sequence[Any] = (), kwargs: Mapping[str, Any] | None = None,
        num_proc: int | None = None, *, env: Mapping[str, str] | None = None,
        cpu_threads_per_worker: int | None = None, start_timeout: float = 120, timeout: float | None = None,
        verbose: int = 0, log_tail_lines: int = 40, launcher: Launcher | None = None,
        elastic: bool = False) -> list[Any]:
    """Runs ``fn(*args, **kwargs)`` on ``num_proc`` distributed workers, one Spark task each.

    The workers are Horovod processes (Gloo) started in Spark tasks: inside ``fn``, ``hvd.init()`` joins
    them, and :func:`sparkdl_kit.worker_context` tells the rank, size and GPUs. Each worker's stdout and
    stderr reach the driver as they are written, as records of the ``sparkdl_kit.worker`` logger
    prefixed with the rank (``[rank 1] ...``). GPUs that Spark assigned to a task are the only ones its
    worker sees (``CUDA_VISIBLE_DEVICES``).

    Args:
        fn: the function each worker runs; it and its arguments must be picklable (cloudpickle). Its
            return value must be picklable too.
        args: positional arguments for ``fn``.
        kwargs: keyword arguments for ``fn``.
        num_proc: the number of workers; ``None`` means one per Spark task slot. Must not exceed the
            slots Spark has (cores / ``spark.task.cpus``), since all workers run at the same time.
        env: extra environment variables for the workers.
        cpu_threads_per_worker: CPU threads of each worker (``OMP_NUM_THREADS``, TensorFlow's intra- and
            inter-op threads); ``None`` means ``spark.task.cpus``, the cores Spark reserves per task.
        start_timeout: seconds for every worker to start before the run fails.
        timeout: seconds for the whole run; past it, the workers are stopped and
            :class:`~sparkdl_kit.errors.WorkerFailedError` names a rank that had not finished.
            ``None`` (the default) means no limit.
        verbose: Horovod's own verbosity, 0 to 2.
        log_tail_lines: how many last output lines of a failed worker its error carries.
        launcher: how to start the workers; the default is
            :class:`~sparkdl_kit.launch.HorovodSparkLauncher`.
        elastic: run with Elastic Horovod (:class:`~sparkdl_kit.launch.horovod_elastic.HorovodElasticLauncher`):
            a lost worker's Spark task is retried and the others continue from their last commit.
            ``fn`` must use ``hvd.elastic.run`` with a state object. Pass
            ``launcher=HorovodElasticLauncher(min_num_proc=..., ...)`` to tune it.

    Returns:
        The return values of ``fn``, one per worker, ordered by rank.

    Raises:
        ConfigError: ``num_proc`` < 1 or another argument is unusable, or there is no SparkSession.
        LaunchError: fewer Spark task slots than ``num_proc``, or the workers could not start.
        DriverOnlyError: called inside a Spark task or a worker.
        WorkerFailedError: a worker raised or died; carries its rank, the exception type and message,
            and the last lines of its output. No worker process is left running.

    Example:
        >>> import sparkdl_kit as sdk
        >>> def allreduce():
        ...     import horovod.tensorflow as hvd, tensorflow as tf
        ...     hvd.init()
        ...     return float(hvd.allreduce(tf.constant(hvd.rank() + 1.0), op=hvd.Sum))
        >>> spark = sdk.get_session(master="local[2]")             # doctest: +SKIP
        >>> sdk.run(allreduce, num_proc=2)                          # doctest: +SKIP
        [3.0, 3.0]
    """
    if not callable(fn):
        raise ConfigError(f"fn={fn!r} is not callable: expected the function each worker runs. "
                          "Fix: pass the function itself, e.g. run(train, args=(...)), not train(...).")
    if isinstance(args, (str, bytes)) or not isinstance(args, Sequence):
        raise ConfigError(f"args={args!r} is not a sequence of arguments: expected a tuple or list. "
                          "Fix: for one argument write args=(x,).")
    if kwargs is not None and not isinstance(kwargs, Mapping):
        raise ConfigError(f"kwargs={kwargs!r} is not a mapping: expected a dict of keyword arguments.")
    _positive("start_timeout", start_timeout)
    _positive("timeout", timeout, allow_none=True)
    _positive("cpu_threads_per_worker", cpu_threads_per_worker, allow_none=True)
    if env is not None and not all(isinstance(k, str) and isinstance(v, str) for k, v in dict(env).items()):
        raise ConfigError(f"env={env!r} is not usable: expected a dict of str to str. Fix: convert the "
                          "values with str().")
    sc = _active_spark_context()
    num_proc = check_num_proc(sc, num_proc, wait_seconds=min(30.0, float(start_timeout)))
    if cpu_threads_per_worker is None:
        cpu_threads_per_worker = int(sc.getConf().get("spark.task.cpus", "1"))
    if elastic is not False and elastic is not True:
        raise ConfigError(f"elastic={elastic!r}: expected True or False.")
    if elastic and launcher is not None and not getattr(launcher, "elastic", False):
        raise ConfigError(f"elastic=True with launcher={launcher.name!r}, which is not elastic. Fix: pass "
                          "launcher=HorovodElasticLauncher(...) alone, or leave launcher out.")
    if launcher is None and elastic:
        from sparkdl_kit.launch.horovod_elastic import HorovodElasticLauncher

        launcher = HorovodElasticLauncher()
    if launcher is None:
        from sparkdl_kit.launch.horovod_spark import HorovodSparkLauncher

        launcher = HorovodSparkLauncher()

    with run_folder() as (run_id, run_dir):
        spec = LaunchSpec(fn=fn, args=tuple(args), kwargs=dict(kwargs or {}), num_proc=num_proc,
                          env=dict(env or {}), cpu_threads_per_worker=int(cpu_threads_per_worker),
                          start_timeout=float(start_timeout), timeout=timeout, verbose=int(verbose),
                          log_tail_lines=int(log_tail_lines), run_id=run_id, run_dir=run_dir)
        logger.info("run %s: starting %d worker(s) with %s (%d CPU thread(s) each)", run_id, num_proc,
                    launcher.name, spec.cpu_threads_per_worker)
        started = time.monotonic()
        results = launcher.launch(spec, sc)
    logger.info("run %s: %d worker(s) finished in %.1f s", run_id, num_proc, time.monotonic() - started)
    return results
