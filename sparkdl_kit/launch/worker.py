"""What runs in each worker process around the user's function.

Before ``fn``: the worker's context (rank, size, GPUs), GPU pinning with ``CUDA_VISIBLE_DEVICES``, CPU
thread settings, and live output forwarding to the driver. After: a status record, so the driver can say
which rank failed and why. Everything here is module-level and receives plain values only.
"""

from __future__ import annotations

import contextlib
import os
import socket
import traceback
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

from sparkdl_kit.launch import context
from sparkdl_kit.launch.forward import OutputForwarder
from sparkdl_kit.launch.horovod_services import services_bound_towards

#: set in every worker process, so driver-only functions can refuse to run there
IN_WORKER_ENV = "SPARKDL_KIT_RUN_ID"


@dataclass(frozen=True)
class WorkerSpec:
    """What each worker needs, pickled to the executors: the function and plain values only."""

    fn: Callable[..., Any]
    args: tuple
    kwargs: Mapping[str, Any]
    run_id: str
    run_dir: str
    output_address: tuple[str, int] | None
    output_token: str
    cpu_threads: int
    extra_env: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def for_run(cls, spec, server, extra_env: Mapping[str, str]) -> "WorkerSpec":
        """The workers' part of a :class:`~sparkdl_kit.launch.base.LaunchSpec`, reporting to ``server``
        (an :class:`~sparkdl_kit.launch.output.OutputServer`)."""
        return cls(fn=spec.fn, args=tuple(spec.args), kwargs=dict(spec.kwargs), run_id=spec.run_id,
                   run_dir=spec.run_dir, output_address=server.address, output_token=server.token,
                   cpu_threads=spec.cpu_threads_per_worker, extra_env=dict(extra_env))


def thread_env(cpu_threads: int) -> dict[str, str]:
    """The environment variables that cap a worker's CPU threads (OpenMP, MKL, TensorFlow)."""
    n = str(cpu_threads)
    return {"OMP_NUM_THREADS": n, "MKL_NUM_THREADS": n, "TF_NUM_INTRAOP_THREADS": n, "TF_NUM_INTEROP_THREADS": n}


def pin_gpus(gpus: Sequence[str]) -> None:
    """Makes only ``gpus`` visible to CUDA in this process (before TensorFlow initialises CUDA)."""
    if gpus:
        os.environ["CUDA_VISIBLE_DEVICES"] = ",".join(gpus)


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value not in (None, "") else default


class ResultNotPicklableError(TypeError):
    """The value ``fn`` returned cannot travel back to the driver."""


def _check_picklable(result: Any) -> None:
    import cloudpickle

    try:
        cloudpickle.dumps(result)
    except Exception as e:  # pickling raises many types (TypeError, PicklingError, AttributeError...)
        raise ResultNotPicklableError(
            f"fn returned a {type(result).__name__}, which cannot be pickled back to the driver ({e}). "
            "Fix: return plain values (numbers, lists, dicts, numpy arrays); save models to a path and "
            "return the path.") from e


def execute(spec: WorkerSpec, ctx: context.WorkerContext) -> Any:
    """Runs ``spec.fn`` as the worker described by ``ctx``; re-raises its exception as exit status 1.

    The exception itself (type, message, traceback) goes to the driver as a status record.
    """
    os.environ.update(spec.extra_env)
    os.environ.update(thread_env(spec.cpu_threads))
    os.environ[IN_WORKER_ENV] = spec.run_id
    pin_gpus(ctx.gpus)
    context._set_current(ctx)
    try:
        with contextlib.ExitStack() as stack:
            forwarder = None
            if spec.output_address:
                forwarder = stack.enter_context(OutputForwarder(spec.output_address, spec.output_token, ctx.rank))
                forwarder.record({"event": "start", "pid": os.getpid(), "host": socket.gethostname()})
                stack.enter_context(services_bound_towards(spec.output_address[0]))
            try:
                result = spec.fn(*spec.args, **dict(spec.kwargs))
                _check_picklable(result)
            except BaseException as e:  # noqa: B036 -- reported to the driver, then the process exits
                traceback.print_exc()
                if forwarder is not None:
                    forwarder.restore()
                    forwarder.record({"event": "failed", "type": type(e).__name__, "message": str(e),
                                      "traceback": traceback.format_exc()})
                raise SystemExit(1) from e
            if forwarder is not None:
                forwarder.restore()
                forwarder.record({"event": "done"})
            return result
    finally:
        context._set_current(None)


def horovod_entry(spec: WorkerSpec) -> Any:
    """The function ``horovod.spark.run`` starts on every rank: reads Horovod's topology, then ``execute``."""
    from horovod.spark.task import get_available_devices

    rank = _env_int("HOROVOD_RANK", 0)
    ctx = context.WorkerContext(
        rank=rank,
        size=_env_int("HOROVOD_SIZE", 1),
        local_rank=_env_int("HOROVOD_LOCAL_RANK", rank),
        local_size=_env_int("HOROVOD_LOCAL_SIZE", 1),
        cross_rank=_env_int("HOROVOD_CROSS_RANK", 0),
        cross_size=_env_int("HOROVOD_CROSS_SIZE", 1),
        gpus=tuple(str(a) for a in get_available_devices()),
        run_id=spec.run_id,
        run_dir=spec.run_dir if os.path.isdir(spec.run_dir) else None,
    )
    return execute(spec, ctx)


def in_worker() -> bool:
    """True inside a worker process started by ``sparkdl_kit.run``."""
    return bool(os.environ.get(IN_WORKER_ENV)) or context._current is not None
