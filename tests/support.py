"""Helpers the tests share: child-process environments, free ports, spark-submit."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def python_env(**extra: str) -> dict[str, str]:
    """The environment for child processes: this interpreter for Spark's driver and executors."""
    env = dict(os.environ, PYSPARK_PYTHON=sys.executable, PYSPARK_DRIVER_PYTHON=sys.executable,
               PYTHONPATH=os.pathsep.join([str(REPO), str(REPO / "tests")]), TF_CPP_MIN_LOG_LEVEL="2")
    env.update(extra)
    return env


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_spark_submit(script: str | Path, *args: str, master: str = "local[2]", conf: dict | None = None,
                     timeout: float = 600, env: dict | None = None) -> subprocess.CompletedProcess:
    """Runs ``spark-submit --master MASTER script args`` with this interpreter; returns the finished process."""
    cmd = [str(Path(sys.executable).parent / "spark-submit"), "--master", master]
    for key, value in (conf or {}).items():
        cmd += ["--conf", f"{key}={value}"]
    cmd += [str(script), *map(str, args)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=REPO,
                          env=env or python_env())
