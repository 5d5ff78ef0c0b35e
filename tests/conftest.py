"""Shared fixtures: a local[2] Spark session, a real standalone cluster on 127.0.0.1, spark-submit."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from pathlib import Path
from typing import NamedTuple

import pytest

from support import REPO, free_port, python_env

CLUSTER_SCRIPTS = REPO / "cluster" / "local-standalone"

# Spark's Python workers and Horovod's processes unpickle functions defined in test modules by
# reference: they need the tests folder (and the repo) on their path too.
os.environ["PYTHONPATH"] = os.pathsep.join(
    [str(REPO / "tests"), str(REPO)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p])


@pytest.fixture(scope="session")
def spark():
    """A session-scoped local[2] SparkSession with the UI off."""
    import sparkdl_kit as sdk

    session = sdk.get_session("sparkdl_kit-tests", master="local[2]", conf={
        "spark.ui.enabled": "false",
        "spark.sql.shuffle.partitions": "4",
        "spark.driver.memory": "2g",
    })
    yield session
    session.stop()


class StandaloneCluster(NamedTuple):
    """A running cluster started by cluster/local-standalone/start.sh."""

    master: str         # spark://127.0.0.1:PORT
    webui_port: int     # the master's web UI (its JSON status at http://127.0.0.1:PORT/json/)
    workdir: Path       # pids, logs, worker settings


@contextlib.contextmanager
def _standalone(workdir: Path, *options: str):
    """Starts a standalone cluster with start.sh (2 workers of 1 core, 2g), yields it, stops it with stop.sh."""
    webui_port = free_port()
    cmd = ["bash", str(CLUSTER_SCRIPTS / "start.sh"), "--workers", "2", "--cores", "1", "--memory", "2g",
           "--port", str(free_port()), "--webui-port", str(webui_port), "--dir", str(workdir), *options]
    started = subprocess.run(cmd, capture_output=True, text=True, timeout=240,
                             env=python_env(PYTHON=sys.executable))
    try:
        if started.returncode != 0:
            logs = "\n".join(f"--- {p.name}\n{p.read_text()[-3000:]}" for p in (workdir / "logs").glob("*.log"))
            pytest.fail(f"standalone cluster did not start: {started.stderr}\n{logs}")
        yield StandaloneCluster(started.stdout.strip().splitlines()[-1], webui_port, workdir)
    finally:
        subprocess.run(["bash", str(CLUSTER_SCRIPTS / "stop.sh"), "--dir", str(workdir)],
                       capture_output=True, timeout=120)


@pytest.fixture(scope="session")
def standalone_cluster(tmp_path_factory):
    """A real Spark standalone cluster on 127.0.0.1: one master and two 1-core workers. Yields its URL."""
    with _standalone(tmp_path_factory.mktemp("standalone")) as cluster:
        yield cluster.master


@pytest.fixture(scope="session")
def fake_gpu_cluster(tmp_path_factory):
    """Like ``standalone_cluster``, with one fake GPU per worker (addresses "0" and "1"); yields a StandaloneCluster.

    Jobs that want the GPUs submit with ``spark.executor.resource.gpu.amount=1`` and
    ``spark.task.resource.gpu.amount=1``; TensorFlow on CPU ignores the CUDA_VISIBLE_DEVICES they lead to.
    """
    with _standalone(tmp_path_factory.mktemp("standalone_gpu"), "--fake-gpus-per-worker", "1") as cluster:
        yield cluster
