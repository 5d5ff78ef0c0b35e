"""The stack works end to end: real Horovod processes on Spark, locally and on a standalone cluster."""

import json

import pytest

from support import REPO, run_spark_submit

pytestmark = [pytest.mark.slow, pytest.mark.horovod]


def _allreduce_fn():
    import horovod.tensorflow as hvd
    import tensorflow as tf

    hvd.init()
    total = hvd.allreduce(tf.constant([float(hvd.rank() + 1)]), op=hvd.Sum)
    return hvd.rank(), hvd.size(), float(total.numpy()[0])


def test_gloo_allreduce_across_two_spark_tasks(spark):
    import horovod.spark

    results = horovod.spark.run(_allreduce_fn, num_proc=2, use_gloo=True, start_timeout=120)
    assert sorted(results) == [(0, 2, 3.0), (1, 2, 3.0)]


@pytest.mark.cluster
def test_allreduce_job_through_spark_submit_on_standalone_cluster(standalone_cluster):
    out = run_spark_submit(REPO / "jobs" / "allreduce.py", "--num-proc", "2", master=standalone_cluster,
                           conf={"spark.executor.cores": "1", "spark.task.cpus": "1"}, timeout=600)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-4000:]
    summary = json.loads(out.stdout.strip().splitlines()[-1])
    assert summary["ok"] is True and summary["master"] == standalone_cluster
    assert sorted(r["rank"] for r in summary["results"]) == [0, 1]
    assert {r["sum"] for r in summary["results"]} == {3.0}
