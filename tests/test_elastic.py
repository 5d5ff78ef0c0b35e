"""Elastic training: a worker killed mid-run is replaced, and training finishes every epoch.

Spark replaces a lost worker by retrying its task, which local mode does only with a ``local[N,F]``
master; the session fixture is ``local[2]``, so the elastic run happens in a child process with its own
``local[2,4]`` session (``elastic_run_in_child`` below), on the digits dataset of the parent.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import sparkdl_kit as sdk
from sparkdl_kit.errors import ConfigError
from sparkdl_kit.store import RunStore
from support import python_env
from test_train import BATCH, LR, digits, store  # noqa: F401 -- the digits dataset and store fixtures

EPOCHS, KILL_EPOCH = 6, 3
#: run id -> the ranks killed (once each) at batch 3 of epoch KILL_EPOCH
SCENARIOS = {"one-lost": (1,), "all-lost": (0, 1)}


def elastic_runs_in_child(dataset_url: str, store_url: str, folder: str) -> None:
    """Child process: on local[2,4], one elastic training per scenario; writes ``<folder>/<run id>.json``."""
    from horovod.spark.driver import job_id

    from test_resume import KillInEpoch

    sdk.log_to_stderr()         # the workers' lines, for the assertion messages of the parent
    spark = sdk.get_session("elastic-test", master="local[2,4]", conf={"spark.ui.enabled": "false"})
    tracker = spark.sparkContext.statusTracker()
    try:
        for run_id, ranks in SCENARIOS.items():
            first_launch = job_id.JOB_ID + 1
            kills = [KillInEpoch(rank=r, epoch=KILL_EPOCH, marker=f"{folder}/{run_id}-killed-{r}") for r in ranks]
            result = sdk.train("train_helpers:build_digits_mlp", dataset_url, num_proc=2, store=store_url,
                               run_id=run_id, epochs=EPOCHS, batch_size=BATCH, learning_rate=LR, elastic=True,
                               callbacks=kills, timeout=900)
            tasks = {"completed": 0, "failed": 0}      # of the Spark job of the last launch
            for job in tracker.getJobIdsForGroup(f"horovod.spark.run.{job_id.JOB_ID}"):
                for stage in tracker.getJobInfo(job).stageIds:
                    info = tracker.getStageInfo(stage)
                    tasks["completed"] += info.numCompletedTasks
                    tasks["failed"] += info.numFailedTasks
            with open(f"{folder}/{run_id}.json", "w", encoding="utf-8") as f:
                json.dump({"history": result.history, "initial_epoch": result.initial_epoch, "tasks": tasks,
                           "launches": job_id.JOB_ID + 1 - first_launch}, f)
    finally:
        spark.stop()


def _finished_every_epoch(store_url: str, run_id: str, got: dict) -> None:
    assert {k: len(v) for k, v in got["history"].items()} == {
        "loss": EPOCHS, "accuracy": EPOCHS, "val_loss": EPOCHS, "val_accuracy": EPOCHS}
    assert got["history"]["val_accuracy"][-1] > 0.9, got["history"]
    run = RunStore(store_url, run_id)
    assert run.latest_checkpoint()[0] == EPOCHS
    assert run.read_history() == got["history"]


@pytest.mark.slow
@pytest.mark.horovod
def test_lost_workers_are_replaced_or_resumed_and_training_finishes_every_epoch(digits, store, tmp_path):  # noqa: F811
    code = f"from test_elastic import elastic_runs_in_child; elastic_runs_in_child({digits.url!r}, {store!r}, " \
           f"{str(tmp_path)!r})"
    child = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=1500,
                           env=python_env())
    output = child.stdout[-3000:] + child.stderr[-20000:]
    assert child.returncode == 0, output
    assert sorted(p.name for p in tmp_path.glob("*-killed-*")) == [
        "all-lost-killed-0", "all-lost-killed-1", "one-lost-killed-1"]

    # One worker lost: replaced in the same launch.
    got = json.loads((tmp_path / "one-lost.json").read_text())
    if got["launches"] == 1:
        # The lost worker's Spark task failed once and its retry ran the replacement worker.
        assert got["tasks"] == {"completed": 2, "failed": 1}, output
        assert got["initial_epoch"] == 0
    else:
        # The survivor died too (Horovod's Gloo abort, horovod issue 2907): as when all are lost, below.
        assert got["launches"] == 2 and got["initial_epoch"] >= KILL_EPOCH - 1, output
    _finished_every_epoch(store, "one-lost", got)

    # Every worker lost: nothing can hand the state over, so a second launch resumes from the checkpoint.
    got = json.loads((tmp_path / "all-lost.json").read_text())
    assert got["launches"] == 2, output
    assert got["tasks"] == {"completed": 2, "failed": 0}, output
    assert got["initial_epoch"] == KILL_EPOCH - 1, output
    assert "every elastic worker was lost" in child.stderr
    _finished_every_epoch(store, "all-lost", got)


def test_estimator_elastic_param_reaches_the_training_settings():
    estimator = sdk.KerasEstimator(model="train_helpers:build_digits_mlp", feature_cols=["features"], elastic=True)
    assert estimator.train_config().elastic is True
    assert "elastic: Elastic Horovod" in estimator.explainParams()
    with pytest.raises(ConfigError, match="elastic='yes': expected True or False"):
        sdk.TrainConfig(elastic="yes")


def test_run_elastic_with_a_static_launcher_is_refused(spark):
    from sparkdl_kit.launch import HorovodSparkLauncher

    with pytest.raises(ConfigError, match="elastic=True with launcher='horovod-spark', which is not elastic"):
        sdk.run(print, num_proc=1, elastic=True, launcher=HorovodSparkLauncher())
