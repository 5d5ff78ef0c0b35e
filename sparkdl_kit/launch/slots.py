"""How many Spark tasks can run at once: the ceiling on the number of workers of a run."""

from __future__ import annotations

import logging
import os
import re
import time
from dataclasses import dataclass

from sparkdl_kit.errors import ConfigError, LaunchError

logger = logging.getLogger(__name__)

_LOCAL = re.compile(r"^local(?:\[(\*|\d+)(?:,\s*\d+)?\])?$")
_LOCAL_CLUSTER = re.compile(r"^local-cluster\[\s*(\d+)\s*,\s*(\d+)\s*,\s*\d+\s*\]$")


@dataclass(frozen=True)
class TaskSlots:
    """The concurrent task slots of a Spark application.

    Attributes:
        slots: how many tasks can run at the same time (cores / ``spark.task.cpus``, GPUs permitting).
        master: the Spark master URL.
        task_cpus: ``spark.task.cpus``.
        dynamic: True when dynamic allocation may add executors on demand.
    """

    slots: int
    master: str
    task_cpus: int
    dynamic: bool

    def describe(self) -> str:
        return f"master {self.master}, spark.task.cpus={self.task_cpus}"


def local_cores(master: str) -> int | None:
    """The cores of a local master URL (local, local[N], local[*], local-cluster[W,C,M]); None otherwise."""
    m = _LOCAL.match(master)
    if m:
        n = m.group(1)
        return 1 if n is None else (os.cpu_count() or 1) if n == "*" else int(n)
    m = _LOCAL_CLUSTER.match(master)
    if m:
        return int(m.group(1)) * int(m.group(2))
    return None


def _concurrent_tasks(sc) -> int | None:
    """Spark's own count (the one barrier mode uses), through the JVM; None if unavailable."""
    try:
        jsc = sc._jsc.sc()
        profile = jsc.resourceProfileManager().defaultResourceProfile()
        return int(jsc.maxNumConcurrentTasks(profile))
    except Exception as e:  # py4j errors vary by Spark version: fall back to the conf-based estimate
        logger.debug("maxNumConcurrentTasks unavailable (%s); estimating slots from the conf", e)
        return None


def task_slots(sc) -> TaskSlots:
    """Counts the task slots of the SparkContext ``sc`` right now.

    Example:
        >>> task_slots(spark.sparkContext).slots      # doctest: +SKIP
        2
    """
    conf = sc.getConf()
    master = sc.master
    task_cpus = int(conf.get("spark.task.cpus", "1"))
    dynamic = conf.get("spark.dynamicAllocation.enabled", "false").lower() == "true"
    slots = _concurrent_tasks(sc)
    if slots is None:
        cores = local_cores(master)
        if cores is None:  # cluster managers: Spark's default parallelism is the executors' total cores
            cores = sc.defaultParallelism
        slots = cores // max(task_cpus, 1)
    return TaskSlots(slots=slots, master=master, task_cpus=task_cpus, dynamic=dynamic)


def check_num_proc(sc, num_proc: int | None, wait_seconds: float = 30.0) -> int:
    """Validates ``num_proc`` against the task slots; returns the number of workers to start.

    ``None`` means one worker per slot. On a cluster, executors may still be registering: the check
    waits up to ``wait_seconds`` for enough slots before failing.

    Raises:
        ConfigError: ``num_proc`` is not a positive integer.
        LaunchError: there are fewer slots than ``num_proc`` (instead of Horovod's start timeout).
    """
    if num_proc is not None and (isinstance(num_proc, bool) or not isinstance(num_proc, int) or num_proc < 1):
        raise ConfigError(
            f"num_proc={num_proc!r} is not a number of workers: expected an integer >= 1 "
            "(or None for one worker per Spark task slot). Fix: pass num_proc=2, for example.")
    info = task_slots(sc)
    local = local_cores(info.master) is not None
    deadline = time.monotonic() + (0 if local else wait_seconds)
    while (num_proc is None and info.slots < 1) or (num_proc is not None and info.slots < num_proc):
        if time.monotonic() >= deadline:
            break
        time.sleep(1.0)
        info = task_slots(sc)
    if num_proc is None:
        if info.slots < 1:
            raise LaunchError(
                f"no Spark task slots are available ({info.describe()}): no executor has registered. "
                "Fix: check that the cluster has workers with free cores, or pass num_proc explicitly.")
        return info.slots
    if info.slots < num_proc:
        if info.dynamic:
            logger.warning("num_proc=%d exceeds the %d task slots available now; dynamic allocation is on, "
                           "so launching and waiting for executors", num_proc, info.slots)
            return num_proc
        raise LaunchError(
            f"num_proc={num_proc} needs {num_proc} Spark tasks running at the same time, but this session "
            f"has {info.slots} task slot(s) ({info.describe()}). Each worker is one Spark task, and all must "
            f"run together. Fix: pass num_proc<={info.slots}, or give Spark more slots "
            "(local[N] with a larger N, more executors or spark.executor.cores, or a smaller spark.task.cpus).")
    return num_proc
