"""Turns what the driver saw of a failed run into one typed error naming the rank and the cause."""

from __future__ import annotations

import re
import signal

from sparkdl_kit.errors import LaunchError, SparkDLError, WorkerFailedError
from sparkdl_kit.launch.output import WorkerOutput

_HOROVOD_EXIT = re.compile(r"Process name:\s*(\d+)\s*\n\s*Exit code:\s*(-?\d+)")
_EXECUTOR_LOST = re.compile(r"ExecutorLostFailure[^\n]*")


def describe_exit(code: int | None) -> str:
    """'killed by signal 9 (SIGKILL)' for exit codes above 128 (the shell's convention), else the code.

    Example:
        >>> describe_exit(137)
        'killed by signal 9 (SIGKILL)'
    """
    if code is None:
        return "died without reporting a result"
    if code > 128 or code < 0:
        num = code - 128 if code > 128 else -code
        try:
            return f"killed by signal {num} ({signal.Signals(num).name})"
        except ValueError:
            return f"killed by signal {num}"
    return f"exited with code {code}"


def horovod_exit(error: BaseException | None) -> tuple[int, int] | None:
    """(rank, exit code) of the first process Horovod saw exit badly, parsed from its RuntimeError."""
    m = _HOROVOD_EXIT.search(str(error)) if error is not None else None
    return (int(m.group(1)), int(m.group(2))) if m else None


def executor_lost(spark_error: BaseException | None) -> str | None:
    """Spark's reason when the run's Spark job failed because an executor was lost, else None.

    Example:
        >>> executor_lost(RuntimeError("Lost task 1.0: ExecutorLostFailure (executor 0 exited) Reason: code 137"))
        'ExecutorLostFailure (executor 0 exited) Reason: code 137'
    """
    m = _EXECUTOR_LOST.search(str(spark_error)) if spark_error is not None else None
    return m.group(0).strip() if m else None


def failure_error(output: WorkerOutput, error: BaseException | None, num_proc: int,
                  timed_out: float | None = None, spark_error: BaseException | None = None) -> SparkDLError:
    """The error to raise for a run that did not succeed.

    Args:
        output: what the workers reported.
        error: the exception the underlying launcher raised, if any.
        num_proc: the number of workers of the run.
        timed_out: the run's time limit when it was exceeded, else None.
        spark_error: the error of the run's Spark job, if it failed; an executor lost is added to the
            message, since the worker errors it causes (a broken allreduce) do not tell it.
    """
    err = _failure_error(output, error, num_proc, timed_out)
    lost = executor_lost(spark_error)
    if lost and isinstance(err, WorkerFailedError):
        return WorkerFailedError(err.rank, err.exc_type,
                                 f"{err.exc_message} [Spark lost an executor of the run: {lost}]", err.log_tail)
    if lost:
        return type(err)(f"{err} [Spark lost an executor of the run: {lost}]")
    return err


def _failure_error(output: WorkerOutput, error: BaseException | None, num_proc: int,
                   timed_out: float | None) -> SparkDLError:
    problem = output.first_problem()
    exited = horovod_exit(error)
    states = output.states()
    if timed_out is not None:  # workers lost after the time limit were stopped by it: not the cause
        pending = sorted(r for r in range(num_proc)
                         if states.get(r) is None or states[r].outcome in (None, "lost"))
        rank = pending[0] if pending else None
        return WorkerFailedError(rank, "Timeout",
                                 f"rank(s) {pending} had not finished after {timed_out:g} s "
                                 "(run(timeout=...)); the run was stopped. Fix: look for a hang in fn "
                                 "(a collective some rank never reached), or raise the timeout",
                                 output.tail(rank) if rank is not None else "")
    if problem is not None:
        rank, state = problem
        if state.outcome == "failed":
            return WorkerFailedError(rank, state.failure.get("type", "Exception"),
                                     state.failure.get("message", ""), output.tail(rank))
        code = exited[1] if exited and exited[0] == rank else None
        return WorkerFailedError(rank, describe_exit(code),
                                 "the worker process ended without reporting a result or an exception "
                                 "(killed, out of memory, or a crash in native code)", output.tail(rank))
    if exited is not None:
        rank, code = exited
        return WorkerFailedError(rank, describe_exit(code), str(error).strip(), output.tail(rank))
    if not any(s.started_at for s in states.values()):
        return LaunchError(f"the {num_proc} workers did not start: {error}. Fix: check the executors' logs "
                           "and that Horovod imports on the executors (PYSPARK_PYTHON points at the "
                           "environment with Horovod).")
    return WorkerFailedError(None, type(error).__name__ if error else "Error", str(error), "")
