"""TensorFlowOnSpark-style programs: InputMode.SPARK training and inference from RDDs, InputMode.TENSORFLOW."""

import glob
import json

import numpy as np
import pytest

from sparkdl_kit.compat import CompatWarning
from sparkdl_kit.compat.tfos import DataFeed, InputMode, TFCluster
from sparkdl_kit.errors import ConfigError, DataError

from compat_helpers import TFOS, migrating_examples, native_accuracy


def test_parameter_servers_are_refused_with_the_allreduce_alternative(spark):
    with pytest.raises(ConfigError) as info:
        TFCluster.run(spark.sparkContext, print, {}, num_executors=3, num_ps=1)
    message = str(info.value)
    assert "num_ps=1): parameter servers are not supported" in message
    assert "synchronous allreduce (Horovod)" in message
    assert "hvd.DistributedOptimizer" in message


def test_bad_arguments_are_refused(spark):
    with pytest.raises(ConfigError, match="input_mode=7: expected InputMode.TENSORFLOW or InputMode.SPARK"):
        TFCluster.run(spark.sparkContext, print, {}, num_executors=2, input_mode=7)
    with pytest.raises(ConfigError, match="num_executors=0: expected the number of workers"):
        TFCluster.run(spark.sparkContext, print, {}, num_executors=0, input_mode=InputMode.SPARK)
    with pytest.raises(ConfigError, match="mgr is not a feed; it exists only in InputMode.SPARK"):
        DataFeed(None)
    cluster = TFCluster.run(spark.sparkContext, print, {}, num_executors=2, input_mode=InputMode.SPARK)
    with pytest.raises(ConfigError, match=r"train\(num_epochs=0\): expected an integer >= 1"):
        cluster.train(spark.sparkContext.parallelize([(np.zeros(2), 1)]), num_epochs=0)
    with pytest.raises(DataError, match=r"field 0 of the first record holds a str \('seven'\); expected numbers"):
        cluster.train(spark.sparkContext.parallelize([("seven", 7)]))
    with pytest.raises(DataError, match="the RDD is empty: expected at least one record"):
        cluster.inference(spark.sparkContext.parallelize([]))


@pytest.mark.slow
@pytest.mark.horovod
def test_spark_input_mode_trains_and_infers_like_the_native_estimator(spark):
    ns = migrating_examples(spark, TFOS)     # docs/migrating.md: cluster.train(rdd, 15), cluster.inference(test_rdd)
    pairs = ns["label_and_prediction"]
    assert len(pairs) == len(ns["x_test"])                           # every row exactly once
    assert sorted(label for label, _ in pairs) == sorted(int(v) for v in ns["y_test"])
    accuracy = float(np.mean([label == predicted for label, predicted in pairs]))
    assert abs(accuracy - native_accuracy(spark)) <= 0.02, (accuracy, native_accuracy(spark))
    assert not glob.glob("/tmp/sparkdl_kit/tfos/tfos-feed-*")         # the fed data is removed after each call


@pytest.mark.slow
@pytest.mark.horovod
def test_tensorflow_input_mode_ctx_fields(spark, tmp_path):
    from compat_helpers import tfos_describe_ctx

    with pytest.warns(CompatWarning, match="tensorboard=True is ignored by sparkdl_kit: no TensorBoard server"):
        cluster = TFCluster.run(spark.sparkContext, tfos_describe_ctx, str(tmp_path), num_executors=2,
                                tensorboard=True, log_dir="/tmp/tb", master_node="chief")
    cluster.shutdown(timeout=600)
    ctx = [json.loads((tmp_path / f"worker-{n}.json").read_text()) for n in (0, 1)]
    assert ctx[0] == {"worker_num": 0, "num_workers": 2, "task_index": 0, "job_name": "chief", "executor_id": 0,
                      "log_dir": "/tmp/tb", "mgr": None}
    assert ctx[1] == {"worker_num": 1, "num_workers": 2, "task_index": 0, "job_name": "worker", "executor_id": 1,
                      "log_dir": "/tmp/tb", "mgr": None}
    with pytest.raises(ConfigError, match="feed data in InputMode.SPARK only"):
        cluster.train(spark.sparkContext.parallelize([(np.zeros(2), 1)]))
