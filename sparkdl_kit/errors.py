"""The exception types users catch.

Every error raised on purpose by the toolkit derives from :class:`SparkDLError`, and each typed
subclass also derives from the matching builtin, so ``except ValueError`` keeps working::

    try:
        sdk.materialize(df, url, label_col="lable")
    except sdk.errors.SchemaError as e:      # also a ValueError
        message = str(e)   # column 'lable' not found; the DataFrame has: label, features. ...

Messages say what was received, what was expected, and how to fix it.
"""

from __future__ import annotations


class SparkDLError(Exception):
    """Base class of every error the toolkit raises on purpose."""


class ConfigError(SparkDLError, ValueError):
    """A setting or argument has a value the toolkit cannot use."""


class SchemaError(SparkDLError, ValueError):
    """A column is missing, has an unsupported type, or does not match what a model expects."""


class DataError(SparkDLError, ValueError):
    """The values themselves are unusable: nulls, NaN, ragged arrays, empty splits, bad images."""


class DatasetExistsError(SparkDLError, FileExistsError):
    """The output location already holds data and overwriting was not asked for."""


class DatasetNotFoundError(SparkDLError, FileNotFoundError):
    """An input path or dataset URL holds nothing the toolkit can read."""


class MissingDependencyError(SparkDLError, ImportError):
    """An optional heavy dependency (TensorFlow, Horovod, Petastorm) is not importable."""


class EnvironmentProblemError(SparkDLError, RuntimeError):
    """The environment (Java, executor Python, library builds) cannot run the toolkit."""


class DriverOnlyError(SparkDLError, RuntimeError):
    """A driver-side function was called inside a Spark task."""


class LaunchError(SparkDLError, RuntimeError):
    """Distributed workers could not be started (for example: not enough task slots)."""


class WorkerFailedError(SparkDLError, RuntimeError):
    """A distributed worker raised or died.

    Attributes:
        rank: the Horovod rank of the first worker that failed (``None`` if unknown).
        exc_type: the name of the exception type raised in the worker, or a description
            such as ``"killed by signal 9"``.
        exc_message: the exception's message.
        log_tail: the last lines that worker wrote to stdout/stderr.
    """

    def __init__(self, rank: int | None, exc_type: str, exc_message: str, log_tail: str = ""):
        self.rank = rank
        self.exc_type = exc_type
        self.exc_message = exc_message
        self.log_tail = log_tail
        who = f"worker rank {rank}" if rank is not None else "a worker"
        text = f"{who} failed: {exc_type}: {exc_message}"
        if log_tail:
            text += "\n--- last lines of its output ---\n" + log_tail.rstrip()
        super().__init__(text)

    def __reduce__(self):
        return (type(self), (self.rank, self.exc_type, self.exc_message, self.log_tail))


__all__ = [
    "SparkDLError",
    "ConfigError",
    "SchemaError",
    "DataError",
    "DatasetExistsError",
    "DatasetNotFoundError",
    "MissingDependencyError",
    "EnvironmentProblemError",
    "DriverOnlyError",
    "LaunchError",
    "WorkerFailedError",
]
