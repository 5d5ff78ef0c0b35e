"""Launching distributed workers on Spark: ``run`` and, inside the workers, ``worker_context``.

Example:
    >>> import sparkdl_kit as sdk
    >>> def fn():
    ...     return sdk.worker_context().rank
    >>> sdk.run(fn, num_proc=2)      # doctest: +SKIP
    [0, 1]
"""

from sparkdl_kit.launch.api import run
from sparkdl_kit.launch.base import Launcher, LaunchSpec
from sparkdl_kit.launch.context import WorkerContext, worker_context
from sparkdl_kit.launch.horovod_local import HorovodLocalLauncher
from sparkdl_kit.launch.horovod_spark import HorovodSparkLauncher
from sparkdl_kit.launch.output import WORKER_LOGGER
from sparkdl_kit.launch.slots import TaskSlots, task_slots

__all__ = ["run", "worker_context", "WorkerContext", "Launcher", "LaunchSpec", "HorovodSparkLauncher",
           "HorovodLocalLauncher", "WORKER_LOGGER", "TaskSlots", "task_slots"]
