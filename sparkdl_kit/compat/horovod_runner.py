"""Databricks' ``HorovodRunner(np=N).run(main, **kwargs)`` over :func:`sparkdl_kit.run`.

``np > 0`` runs ``main`` on ``np`` Spark tasks (one Horovod process each, as ``sdk.run``);
``np < 0`` runs ``-np`` Horovod processes on the driver machine with Horovod's own Gloo launcher
(:class:`~sparkdl_kit.launch.horovod_local.HorovodLocalLauncher`: ``horovod.runner.run`` on
``localhost``, servers on the loopback interface), without Spark: Databricks' mode "for local
testing". Both return rank 0's result, forward the workers' output to the ``sparkdl_kit.worker``
logger, and raise :class:`~sparkdl_kit.errors.WorkerFailedError` naming the rank when a worker fails.

Example:
    >>> from sparkdl_kit.compat import HorovodRunner
    >>> def main(lr):
    ...     import horovod.tensorflow.keras as hvd
    ...     hvd.init()
    ...     return hvd.size() * lr
    >>> HorovodRunner(np=-2).run(main, lr=0.1)     # doctest: +SKIP
    0.2
"""

from __future__ import annotations

import logging
from typing import Any, Callable

from sparkdl_kit.errors import ConfigError
from sparkdl_kit.launch.base import LaunchSpec, run_folder

logger = logging.getLogger(__name__)

VERBOSITIES = ("all", "log_callback_only")


class HorovodRunner:
    """Runs a Horovod training function on ``np`` processes, as Databricks' ``sparkdl.HorovodRunner``.

    Args:
        np: ``> 0``: that many Spark tasks (at most the session's task slots, see
            :func:`sparkdl_kit.run`); ``< 0``: ``-np`` local processes on the driver, without Spark.
        driver_log_verbosity: ``"all"`` or ``"log_callback_only"``; accepted for compatibility. Every
            worker line reaches the ``sparkdl_kit.worker`` logger in both cases.
        start_timeout: seconds for all workers to start.
        timeout: seconds for the whole run (Spark mode only), or ``None`` for no limit.

    Raises:
        ConfigError: ``np`` is 0 or not an integer, or ``driver_log_verbosity`` is unknown.

    Example:
        >>> hr = HorovodRunner(np=2)                      # doctest: +SKIP
        >>> model_path = hr.run(train_hvd, epochs=5)      # doctest: +SKIP
    """

    def __init__(self, np: int, driver_log_verbosity: str = "all", start_timeout: float = 120,
                 timeout: float | None = None):
        if isinstance(np, bool) or not isinstance(np, int) or np == 0:
            raise ConfigError(f"HorovodRunner(np={np!r}): expected a non-zero integer: np=N runs N processes on "
                              "Spark tasks, np=-N runs N processes locally on the driver (for testing).")
        if driver_log_verbosity not in VERBOSITIES:
            raise ConfigError(f"driver_log_verbosity={driver_log_verbosity!r}: expected one of "
                              f"{', '.join(VERBOSITIES)}.")
        self.num_processor = np
        self.driver_log_verbosity = driver_log_verbosity
        self.start_timeout = start_timeout
        self.timeout = timeout

    @property
    def local(self) -> bool:
        """True when the processes run on the driver machine (``np < 0``)."""
        return self.num_processor < 0

    def run(self, main: Callable[..., Any], **kwargs: Any) -> Any:
        """Runs ``main(**kwargs)`` on every process and returns rank 0's return value.

        ``main`` and ``kwargs`` are pickled (cloudpickle) to the processes; inside ``main``,
        ``hvd.init()`` joins them and :func:`sparkdl_kit.worker_context` tells rank and size.

        Raises:
            WorkerFailedError: a process raised or died (with its rank and the tail of its output).
            LaunchError: the processes could not start (Spark mode: fewer task slots than ``np``).
        """
        if not callable(main):
            raise ConfigError(f"HorovodRunner.run: main={main!r} is not callable; pass the training function "
                              "itself, e.g. hr.run(train, lr=0.1).")
        if not self.local:
            from sparkdl_kit.launch import run

            return run(main, kwargs=kwargs, num_proc=self.num_processor, start_timeout=self.start_timeout,
                       timeout=self.timeout)[0]
        from sparkdl_kit.launch.horovod_local import HorovodLocalLauncher

        num_proc = -self.num_processor
        logger.info("HorovodRunner: %d local process(es) on the driver (np=%d)", num_proc, self.num_processor)
        with run_folder() as (run_id, run_dir):
            spec = LaunchSpec(fn=main, kwargs=dict(kwargs), num_proc=num_proc,
                              start_timeout=float(self.start_timeout), run_id=run_id, run_dir=run_dir)
            return HorovodLocalLauncher().launch(spec)[0]
