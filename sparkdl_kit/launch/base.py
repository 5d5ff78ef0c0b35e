"""The launcher interface: one way of starting ``num_proc`` workers that run a function.

``run`` validates its arguments into a :class:`LaunchSpec` and hands it to a :class:`Launcher`. The
Horovod-on-Spark launcher is the only implementation today; a barrier-mode launcher (TensorFlow's
MultiWorkerMirroredStrategy, for Spark 4 / Keras 3) can be added as a second one without changing callers.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import time
import uuid
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Mapping


@dataclass(frozen=True)
class LaunchSpec:
    """Everything a launcher needs for one run, validated by ``run``.

    Attributes:
        fn: the function each worker runs.
        args: positional arguments of ``fn``.
        kwargs: keyword arguments of ``fn``.
        num_proc: the number of workers (one Spark task each).
        env: extra environment variables for the worker processes.
        cpu_threads_per_worker: OMP / TensorFlow intra-op and inter-op threads of each worker.
        start_timeout: seconds for all workers to start.
        timeout: seconds for the whole run, or ``None`` for no limit.
        verbose: Horovod's verbosity (0-2).
        log_tail_lines: how many of a failed worker's last output lines its error carries.
        run_id: the run's identifier.
        run_dir: the run's temporary folder on the driver.
    """

    fn: Callable[..., Any]
    args: tuple = ()
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    num_proc: int = 1
    env: Mapping[str, str] = field(default_factory=dict)
    cpu_threads_per_worker: int = 1
    start_timeout: float = 120.0
    timeout: float | None = None
    verbose: int = 0
    log_tail_lines: int = 40
    run_id: str = ""
    run_dir: str = ""


class Launcher(ABC):
    """Starts the workers of a run and returns their results, ordered by rank.

    Implementations raise :class:`~sparkdl_kit.errors.WorkerFailedError` when a worker raises or dies
    (with its rank, exception and output tail), :class:`~sparkdl_kit.errors.LaunchError` when workers
    cannot start, and leave no worker process running in either case.

    Example:
        >>> class InlineLauncher(Launcher):        # a toy single-process launcher
        ...     name = "inline"
        ...     def launch(self, spec, spark_context):
        ...         return [spec.fn(*spec.args, **spec.kwargs)]
    """

    #: a short name used in logs
    name: str = "launcher"

    @abstractmethod
    def launch(self, spec: LaunchSpec, spark_context: Any) -> list[Any]:
        """Runs ``spec.fn`` on ``spec.num_proc`` workers of ``spark_context``; returns results by rank."""


@contextlib.contextmanager
def run_folder() -> Iterator[tuple[str, str]]:
    """A new run id and the run's temporary folder on the driver, removed when the block ends.

    Example:
        >>> with run_folder() as (run_id, run_dir):
        ...     spec = LaunchSpec(fn=len, run_id=run_id, run_dir=run_dir)
    """
    run_id = time.strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6]
    run_dir = tempfile.mkdtemp(prefix=f"sparkdl_kit-run-{run_id}-")
    try:
        yield run_id, run_dir
    finally:
        shutil.rmtree(run_dir, ignore_errors=True)
