"""The Horovod-on-Spark launcher: ``horovod.spark.run`` with Gloo, plus live logs, failures and timeouts."""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from typing import Any, Iterator

from sparkdl_kit._deps import require
from sparkdl_kit.errors import LaunchError
from sparkdl_kit.launch.base import Launcher, LaunchSpec
from sparkdl_kit.launch.failures import failure_error
from sparkdl_kit.launch.horovod_services import horovod_services_bound, is_wildcard, local_address_towards
from sparkdl_kit.launch.output import HorovodStreamSink, OutputServer, WorkerOutput
from sparkdl_kit.launch.slots import local_cores
from sparkdl_kit.launch.worker import IN_WORKER_ENV, WorkerSpec, horovod_entry, thread_env

logger = logging.getLogger(__name__)

_PATCH_LOCK = threading.Lock()


def driver_addresses(sc) -> tuple[str, str]:
    """(address to bind, address workers connect to) for the servers the driver opens for a run.

    Local mode binds to the loopback interface; on a cluster, to ``spark.driver.bindAddress`` if set,
    else ``spark.driver.host``, never to all interfaces: a wildcard bind address (``0.0.0.0``, as in
    some Kubernetes setups) is replaced by the driver's own address on the route to ``spark.driver.host``.
    """
    if local_cores(sc.master) is not None:
        return "127.0.0.1", "127.0.0.1"
    conf = sc.getConf()
    advertised = conf.get("spark.driver.host", "127.0.0.1")
    bind = conf.get("spark.driver.bindAddress", advertised)
    if is_wildcard(bind):
        bind = local_address_towards(advertised)
    return bind, advertised


@contextlib.contextmanager
def horovod_abort_event() -> Iterator[threading.Event]:
    """An event that aborts every worker command of the Horovod run started inside this block.

    Horovod's Gloo launcher creates its abort event in ``register_shutdown_event``, which also replaces
    the process's SIGINT/SIGTERM handlers for good and only works in the main thread. This block hands
    it an event of ours instead: the handlers stay as they were, ``run`` works from any thread, and
    setting the event stops the workers (terminate, then kill after 5 s) through Horovod's own path.
    """
    gloo_run = require("horovod.runner.gloo_run")
    event = threading.Event()
    with _PATCH_LOCK:
        original = gloo_run.register_shutdown_event
        gloo_run.register_shutdown_event = lambda: event
        try:
            yield event
        finally:
            gloo_run.register_shutdown_event = original


@contextlib.contextmanager
def _horovod_spark_job_errors(output: WorkerOutput) -> Iterator[list[BaseException]]:
    """Collects, instead of printing, the error of Horovod's Spark-job thread; yields the list of them.

    When a run fails, that thread re-raises the Spark job's error; the run's own error says what
    happened, and the printed traceback would only bury it. A Spark job that fails while the workers
    still run (an executor died) counts as a problem of the run, so the watchdog stops the workers.
    """
    previous = threading.excepthook
    errors: list[BaseException] = []

    def hook(args: threading.ExceptHookArgs) -> None:
        if args.thread is not None and "run_spark" in args.thread.name:
            logger.debug("Horovod's Spark job ended with %s: %s", args.exc_type.__name__, args.exc_value)
            errors.append(args.exc_value)
            output.problem.set()
            return
        previous(args)

    threading.excepthook = hook
    try:
        yield errors
    finally:
        threading.excepthook = previous


class _Watchdog(threading.Thread):
    """Stops a run whose workers failed without the others noticing, or that exceeded its time limit."""

    def __init__(self, sc, job_group: str, output: WorkerOutput, abort: threading.Event,
                 timeout: float | None, grace: float):
        super().__init__(name="sparkdl_kit-watchdog", daemon=True)
        self._sc = sc
        self._job_group = job_group
        self._output = output
        self._abort = abort
        self._timeout = timeout
        self._grace = grace
        self._stop_event = threading.Event()
        self.timed_out: float | None = None

    def run(self) -> None:
        start = time.monotonic()
        aborted_at: float | None = None
        problem_at: float | None = None
        while not self._stop_event.wait(0.5):
            now = time.monotonic()
            if aborted_at is None:
                if self._output.problem.is_set():
                    problem_at = problem_at or now
                # A failure that will stop the run is its cause; an elastic run (no grace limit) waits
                # for a replacement, and its time limit still holds.
                failure_pending = problem_at is not None and self._grace != float("inf")
                if failure_pending and now - problem_at >= self._grace:
                    logger.info("a worker failed and the others are still running: stopping them")
                    aborted_at = self._stop_workers(now)
                elif not failure_pending and self._timeout is not None and now - start >= self._timeout:
                    logger.warning("the run exceeded timeout=%g s: stopping its workers", self._timeout)
                    self.timed_out = self._timeout
                    aborted_at = self._stop_workers(now)
            elif now - aborted_at >= 15:
                logger.warning("workers did not stop: cancelling Spark job group %s", self._job_group)
                self._sc.cancelJobGroup(self._job_group)
                return

    def _stop_workers(self, now: float) -> float:
        self._abort.set()
        return now

    def stop(self) -> None:
        self._stop_event.set()
        self.join(timeout=5)


def _check_gloo_built(verbose: int) -> None:
    """Horovod's check that it has Gloo, done before the run opens any socket.

    The check forks the driver process once (Horovod caches its answer); done later, inside the run,
    the forked child would inherit the run's listening sockets.
    """
    if not require("horovod.common.util").gloo_built(verbose=verbose >= 2):  # the arguments Horovod caches on
        raise LaunchError("Horovod was built without Gloo, which sparkdl_kit.run needs. Fix: reinstall it with "
                          "HOROVOD_WITH_GLOO=1 pip install --no-build-isolation --no-cache-dir horovod[spark]")


def _wait_for(condition, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.1)
    return True


class HorovodSparkLauncher(Launcher):
    """Runs the workers with ``horovod.spark.run(..., use_gloo=True)``, one Spark task per rank.

    Args:
        failure_grace: seconds the other workers get to stop by themselves after one failed, before
            they are terminated.

    Example:
        >>> import sparkdl_kit as sdk
        >>> sdk.run(fn, num_proc=2, launcher=HorovodSparkLauncher(failure_grace=5))   # doctest: +SKIP
    """

    name = "horovod-spark"

    def __init__(self, failure_grace: float = 5.0):
        self.failure_grace = failure_grace

    def launch(self, spec: LaunchSpec, spark_context: Any) -> list[Any]:
        horovod_spark = require("horovod.spark")
        job_id = require("horovod.spark.driver.job_id")
        _check_gloo_built(spec.verbose)
        output = WorkerOutput(spec.log_tail_lines)
        bind, advertised = driver_addresses(spark_context)
        with OutputServer(output, host=bind, advertised_host=advertised) as server:
            worker_spec = WorkerSpec.for_run(spec, server, spec.env)
            # The run id in the workers' initial environment marks their processes as this run's.
            env = {**spec.env, **thread_env(spec.cpu_threads_per_worker), IN_WORKER_ENV: spec.run_id}
            sinks = (HorovodStreamSink(output, "stdout"), HorovodStreamSink(output, "stderr"))
            error: BaseException | None = None
            results: list[Any] = []
            with _horovod_spark_job_errors(output) as spark_errors, horovod_abort_event() as abort, \
                    horovod_services_bound(bind, advertised):
                watchdog = _Watchdog(spark_context, f"horovod.spark.run.{job_id.JOB_ID + 1}", output, abort,
                                     spec.timeout, self.failure_grace)
                watchdog.start()
                try:
                    results = horovod_spark.run(
                        horovod_entry, args=(worker_spec,), num_proc=spec.num_proc,
                        start_timeout=int(spec.start_timeout), use_gloo=True, env=env,
                        stdout=sinks[0], stderr=sinks[1], verbose=spec.verbose)
                except Exception as e:  # Horovod raises bare Exception/RuntimeError: translated below
                    error = e
                except BaseException:  # KeyboardInterrupt: stop the workers, then let it through
                    abort.set()
                    raise
                finally:
                    watchdog.stop()
            server.wait_connections_closed(timeout=5)
            for sink in sinks:
                sink.flush()
        if error is not None and output.first_problem() is None:
            _wait_for(lambda: output.first_problem() is not None, seconds=3)  # records via Horovod's stream
        if error is None and watchdog.timed_out is None:
            return list(results)
        raise failure_error(output, error, spec.num_proc, watchdog.timed_out,
                            spark_error=spark_errors[0] if spark_errors else None) from error
