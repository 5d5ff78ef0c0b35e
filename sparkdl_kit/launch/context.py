"""What a worker knows about itself: :func:`worker_context` inside a function started by ``run``."""

from __future__ import annotations

from dataclasses import dataclass

from sparkdl_kit.errors import LaunchError

_current: WorkerContext | None = None


@dataclass(frozen=True)
class WorkerContext:
    """The place of one worker process in a distributed run.

    Attributes:
        rank: this worker's rank, ``0 <= rank < size``. Rank 0 is the usual place for checkpoints and logs.
        size: the number of workers in the run.
        local_rank: the rank among the workers on the same host.
        local_size: the number of workers on the same host.
        cross_rank: the index of this worker's host among the hosts of the run.
        cross_size: the number of hosts in the run.
        gpus: the GPU addresses Spark assigned to this worker's task (``TaskContext.resources()["gpu"]``),
            empty on CPU-only clusters. They are the physical addresses: the process sees them through
            ``CUDA_VISIBLE_DEVICES``, so TensorFlow numbers them from 0.
        run_id: the identifier of the run, shared by all its workers.
        run_dir: a temporary folder of the run on the driver, removed when the run ends; set only when
            the worker can see it (local mode or a shared filesystem), else ``None``.

    Example:
        >>> ctx = WorkerContext(rank=1, size=2, local_rank=1, local_size=2, cross_rank=0, cross_size=1,
        ...                     gpus=(), run_id="r1", run_dir=None)
        >>> ctx.is_chief
        False
    """

    rank: int
    size: int
    local_rank: int
    local_size: int
    cross_rank: int
    cross_size: int
    gpus: tuple[str, ...]
    run_id: str
    run_dir: str | None

    @property
    def is_chief(self) -> bool:
        """True on rank 0."""
        return self.rank == 0


def worker_context() -> WorkerContext:
    """Returns the :class:`WorkerContext` of the calling worker.

    Only available inside the function given to :func:`sparkdl_kit.run` (in the worker process that
    runs it), not on the driver.

    Raises:
        LaunchError: when called outside a worker started by ``sparkdl_kit.run``.

    Example:
        >>> import sparkdl_kit as sdk
        >>> def train():
        ...     ctx = sdk.worker_context()
        ...     return ctx.rank, ctx.size, ctx.gpus
        >>> sdk.run(train, num_proc=2)          # doctest: +SKIP
        [(0, 2, ()), (1, 2, ())]
    """
    if _current is None:
        raise LaunchError(
            "worker_context() was called outside a distributed worker. It is only available inside the "
            "function passed to sparkdl_kit.run(fn, ...), while that function runs on a worker. "
            "Fix: call it from within fn, or pass what the driver needs as arguments.")
    return _current


def _set_current(ctx: WorkerContext | None) -> None:
    global _current
    _current = ctx
