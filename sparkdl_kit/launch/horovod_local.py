"""The local launcher: Horovod's own Gloo launcher on this machine, without Spark.

For testing a training function on the driver machine before running it on Spark tasks (Databricks'
``HorovodRunner(np=-N)``). Workers get the same setup as on Spark (output forwarding, thread limits,
failures by rank), and Horovod's servers listen on the loopback interface only.
"""

from __future__ import annotations

from typing import Any

from sparkdl_kit._deps import require
from sparkdl_kit.launch.base import Launcher, LaunchSpec
from sparkdl_kit.launch.failures import failure_error
from sparkdl_kit.launch.horovod_services import horovod_services_bound
from sparkdl_kit.launch.horovod_spark import horovod_abort_event
from sparkdl_kit.launch.output import OutputServer, WorkerOutput
from sparkdl_kit.launch.worker import WorkerSpec, horovod_entry, thread_env

LOOPBACK = "127.0.0.1"


class HorovodLocalLauncher(Launcher):
    """Starts the workers as local processes with ``horovod.runner.run`` (Gloo on ``localhost``).

    The Spark context is not used (it may be ``None``).

    Example:
        >>> from sparkdl_kit.launch.base import run_folder
        >>> with run_folder() as (run_id, run_dir):                                  # doctest: +SKIP
        ...     HorovodLocalLauncher().launch(LaunchSpec(fn=main, num_proc=2, run_id=run_id,
        ...                                              run_dir=run_dir))
    """

    name = "horovod-local"

    def launch(self, spec: LaunchSpec, spark_context: Any = None) -> list[Any]:
        horovod_runner = require("horovod.runner")
        output = WorkerOutput(spec.log_tail_lines)
        with OutputServer(output) as server:
            worker_spec = WorkerSpec.for_run(spec, server, {**spec.env, **thread_env(spec.cpu_threads_per_worker)})
            error: BaseException | None = None
            results: list[Any] = []
            with horovod_abort_event(), horovod_services_bound(LOOPBACK, LOOPBACK):
                try:
                    results = horovod_runner.run(
                        horovod_entry, args=(worker_spec,), num_proc=spec.num_proc,
                        hosts=f"localhost:{spec.num_proc}", use_gloo=True, start_timeout=int(spec.start_timeout),
                        verbose=spec.verbose, disable_cache=True)
                except Exception as e:  # Horovod raises bare RuntimeError: translated below
                    error = e
            server.wait_connections_closed(timeout=5)
        if error is None:
            return list(results)
        raise failure_error(output, error, spec.num_proc) from error
