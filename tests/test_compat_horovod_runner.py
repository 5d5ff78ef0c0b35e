"""HorovodRunner: np<0 local processes on the driver, np>0 Spark tasks; rank 0's result; failures."""

import pytest

from sparkdl_kit.compat import HorovodRunner
from sparkdl_kit.errors import ConfigError, WorkerFailedError

from compat_helpers import HOROVOD_RUNNER, migrating_examples, native_accuracy, weights_accuracy


@pytest.mark.parametrize("np_value", [0, 2.0, True, "2"])
def test_np_must_be_a_non_zero_integer(np_value):
    with pytest.raises(ConfigError, match=r"expected a non-zero integer: np=N runs N processes on Spark tasks"):
        HorovodRunner(np=np_value)


def test_main_must_be_callable_and_verbosity_known():
    with pytest.raises(ConfigError, match="is not callable; pass the training function itself"):
        HorovodRunner(np=-2).run("train_hvd")
    with pytest.raises(ConfigError, match="driver_log_verbosity='some': expected one of all, log_callback_only"):
        HorovodRunner(np=2, driver_log_verbosity="some")


@pytest.mark.slow
@pytest.mark.horovod
def test_local_processes_train_like_the_native_estimator(spark):
    ns = migrating_examples(spark, HOROVOD_RUNNER)          # docs/migrating.md: HorovodRunner(np=-2).run(train_hvd, ...)
    accuracy = weights_accuracy(ns, ns["weights"])
    assert abs(accuracy - native_accuracy(spark)) <= 0.02, (accuracy, native_accuracy(spark))


@pytest.mark.slow
@pytest.mark.horovod
def test_spark_tasks_train_like_the_native_estimator(spark):
    ns = migrating_examples(spark, HOROVOD_RUNNER)
    weights = HorovodRunner(np=2).run(ns["train_hvd"], learning_rate=0.002)
    accuracy = weights_accuracy(ns, weights)
    assert abs(accuracy - native_accuracy(spark)) <= 0.02, (accuracy, native_accuracy(spark))


@pytest.mark.slow
@pytest.mark.horovod
def test_local_failure_names_the_rank_and_the_error():
    from compat_helpers import fail_on_rank_1

    with pytest.raises(WorkerFailedError) as info:
        HorovodRunner(np=-2).run(fail_on_rank_1)
    assert info.value.rank == 1
    assert "rank 1 gives up on purpose" in str(info.value)
