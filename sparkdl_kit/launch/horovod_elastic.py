"""The Elastic Horovod launcher: ``horovod.spark.run_elastic``, so a lost worker is replaced.

Each worker is a Spark task, as with :class:`~sparkdl_kit.launch.HorovodSparkLauncher`; this launcher
runs the same path (live output, bound servers, typed failures, timeouts) with Horovod's elastic driver
underneath. When a worker process dies, its Spark task fails and Spark retries it; the retried task
registers as a new host, and Horovod starts a replacement worker there. The surviving workers restore
their last committed state and meet it (the function must use ``hvd.elastic.run`` and a state object,
as :func:`sparkdl_kit.train.elastic.fit_elastic` does).

Spark must retry a failed task for any of this to happen: ``spark.task.maxFailures`` (default 4) on a
cluster; in local mode only the ``local[N,F]`` master form allows F attempts (``local[N]`` allows one).
"""

from __future__ import annotations

import contextlib
import inspect
import logging
import re
import threading
from typing import Any, Iterator

from sparkdl_kit._deps import require
from sparkdl_kit.errors import ConfigError
from sparkdl_kit.launch.base import LaunchSpec
from sparkdl_kit.launch.horovod_spark import HorovodSparkLauncher

logger = logging.getLogger(__name__)

_LOCAL_WITH_FAILURES = re.compile(r"^local\[(\*|\d+)\s*,\s*(\d+)\]$")
_REDIRECT_LOCK = threading.Lock()


def task_attempts(sc) -> int:
    """How many times Spark runs a task before failing its job (``spark.task.maxFailures``).

    Local masters ignore that setting: ``local`` and ``local[N]`` allow one attempt, ``local[N,F]``
    allows F.

    Example:
        >>> task_attempts(spark.sparkContext)       # master local[2,4]    # doctest: +SKIP
        4
    """
    master = sc.master
    m = _LOCAL_WITH_FAILURES.match(master)
    if m:
        return int(m.group(2))
    if master == "local" or master.startswith("local["):
        return 1
    return int(sc.getConf().get("spark.task.maxFailures", "4"))


@contextlib.contextmanager
def _elastic_run_in_this_thread(**elastic_settings: Any) -> Iterator[None]:
    """Makes ``horovod.spark.run`` called from this thread run ``horovod.spark.run_elastic`` instead.

    The static launcher's whole path is reused unchanged; calls from other threads still get the
    static ``run``. Elastic runs of one driver process run one at a time.
    """
    horovod_spark = require("horovod.spark")
    owner = threading.get_ident()
    with _REDIRECT_LOCK:
        static_run = horovod_spark.run

        def dispatch(*args, **kwargs):
            if threading.get_ident() != owner:
                return static_run(*args, **kwargs)
            # Options run_elastic also has go along; the static-only ones (use_gloo: elastic is always Gloo,
            # use_mpi, extra_mpi_args) do not.
            accepted = inspect.signature(horovod_spark.run_elastic).parameters
            shared = {k: v for k, v in kwargs.items() if k in accepted}
            return horovod_spark.run_elastic(*args, **shared, **elastic_settings)

        horovod_spark.run = dispatch
        try:
            yield
        finally:
            horovod_spark.run = static_run


class HorovodElasticLauncher(HorovodSparkLauncher):
    """Runs the workers with ``horovod.spark.run_elastic``: lost workers are replaced, up to a limit.

    Args:
        min_num_proc: the fewest workers training continues with while a lost one is being replaced;
            default: ``num_proc`` (the others wait for the replacement, so the global batch stays the same).
        max_num_proc: the most workers; default ``num_proc``. Horovod starts this many Spark tasks.
        elastic_timeout: seconds to wait for ``min_num_proc`` workers after a loss before failing.
        reset_limit: how many times the set of workers may change before the run fails (default: no limit).

    Example:
        >>> import sparkdl_kit as sdk
        >>> sdk.run(train_fn, num_proc=2, launcher=HorovodElasticLauncher(min_num_proc=1))   # doctest: +SKIP
    """

    name = "horovod-spark-elastic"
    #: ``run(elastic=True)`` accepts this launcher
    elastic = True

    def __init__(self, min_num_proc: int | None = None, max_num_proc: int | None = None,
                 elastic_timeout: float = 600, reset_limit: int | None = None):
        # A lost worker is not a reason to stop the others: only the run's timeout stops them.
        super().__init__(failure_grace=float("inf"))
        for name, value in (("min_num_proc", min_num_proc), ("max_num_proc", max_num_proc),
                            ("reset_limit", reset_limit)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise ConfigError(f"{name}={value!r}: expected an integer >= 1 or None.")
        if isinstance(elastic_timeout, bool) or not isinstance(elastic_timeout, (int, float)) or elastic_timeout <= 0:
            raise ConfigError(f"elastic_timeout={elastic_timeout!r}: expected a number of seconds > 0, such as 600.")
        self.min_num_proc = min_num_proc
        self.max_num_proc = max_num_proc
        self.elastic_timeout = elastic_timeout
        self.reset_limit = reset_limit

    def check(self, spec: LaunchSpec, spark_context: Any) -> tuple[int, int]:
        """(min, max) workers for ``spec``; raises ConfigError when no worker could ever be replaced."""
        low = self.min_num_proc or spec.num_proc
        high = self.max_num_proc or spec.num_proc
        if not low <= spec.num_proc <= high:
            raise ConfigError(f"elastic: min_num_proc={low}, num_proc={spec.num_proc}, max_num_proc={high}: "
                              "expected min_num_proc <= num_proc <= max_num_proc.")
        attempts = task_attempts(spark_context)
        if attempts < 2:
            raise ConfigError(
                f"elastic training replaces a lost worker by retrying its Spark task, but master "
                f"{spark_context.master!r} runs each task once (local[N] allows 1 attempt, "
                "spark.task.maxFailures is ignored in local mode). Fix: use master 'local[N,F]' with F >= 2 "
                "attempts, e.g. local[2,4]; on a cluster keep spark.task.maxFailures >= 2 (default 4); "
                "or run with elastic=False.")
        return low, high

    def launch(self, spec: LaunchSpec, spark_context: Any) -> list[Any]:
        low, high = self.check(spec, spark_context)
        logger.info("run %s: elastic, %d to %d worker(s), Spark task attempts %d", spec.run_id, low, high,
                    task_attempts(spark_context))
        with _elastic_run_in_this_thread(min_num_proc=low, max_num_proc=high,
                                         elastic_timeout=int(self.elastic_timeout), reset_limit=self.reset_limit):
            return super().launch(spec, spark_context)
