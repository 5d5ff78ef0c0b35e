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


def elastic_run_in_child(dataset_url: str, store_url: str, marker: str, report: str) -> None:
    """Child process: elastic training on local[2,4] with rank 1 killed once in epoch 3; writes a JSON report."""
    from horovod.spark.driver import job_id

    from test_resume import KillInEpoch

    spark = sdk.get_session("elastic-test", master="local[2,4]", conf={"spark.ui.enabled": "false"})
    try:
        result = sdk.train("train_helpers:build_digits_mlp", dataset_url, num_proc=2, store=store_url,
                           run_id="elastic", epochs=EPOCHS, batch_size=BATCH, learning_rate=LR, elastic=True,
                           callbacks=[KillInEpoch(rank=1, epoch=KILL_EPOCH, marker=marker)], timeout=900)
        tracker = spark.sparkContext.statusTracker()
        tasks = {"completed": 0, "failed": 0}
        for job in tracker.getJobIdsForGroup(f"horovod.spark.run.{job_id.JOB_ID}"):
            for stage in tracker.getJobInfo(job).stageIds:
                info = tracker.getStageInfo(stage)
                tasks["completed"] += info.numCompletedTasks
                tasks["failed"] += info.numFailedTasks
        with open(report, "w", encoding="utf-8") as f:
            json.dump({"history": result.history, "initial_epoch": result.initial_epoch, "tasks": tasks}, f)
    finally:
        spark.stop()


@pytest.mark.slow
@pytest.mark.horovod
def test_a_killed_worker_is_replaced_and_training_finishes_every_epoch(digits, store, tmp_path):  # noqa: F811
    marker, report = tmp_path / "killed", tmp_path / "report.json"
    code = ("from test_elastic import elastic_run_in_child; "
            f"elastic_run_in_child({digits.url!r}, {store!r}, {str(marker)!r}, {str(report)!r})")
    child = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=1200,
                           env=python_env())
    output = child.stdout[-3000:] + child.stderr[-8000:]
    assert child.returncode == 0, output
    assert marker.exists(), "no worker was killed"
    got = json.loads(report.read_text())

    # The lost worker's Spark task failed once and its retry ran the replacement worker.
    assert got["tasks"] == {"completed": 2, "failed": 1}, output
    assert got["initial_epoch"] == 0
    assert {k: len(v) for k, v in got["history"].items()} == {
        "loss": EPOCHS, "accuracy": EPOCHS, "val_loss": EPOCHS, "val_accuracy": EPOCHS}
    assert got["history"]["val_accuracy"][-1] > 0.9, got["history"]
    run = RunStore(store, "elastic")
    assert run.latest_checkpoint()[0] == EPOCHS
    assert run.read_history() == got["history"]


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
