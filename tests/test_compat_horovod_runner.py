"""HorovodRunner: np<0 local processes on the driver, np>0 Spark tasks; rank 0's result; failures."""

import numpy as np
import pytest

from sparkdl_kit.compat import HorovodRunner
from sparkdl_kit.errors import ConfigError, WorkerFailedError

from compat_helpers import BATCH, EPOCHS, LR, build_mlp, digits_split, native_baseline


def _test_accuracy(weights) -> float:
    model = build_mlp()
    model.set_weights(weights)
    _, _, x_test, y_test = digits_split()
    return float((model.predict(x_test, verbose=0).argmax(axis=1) == y_test).mean())


@pytest.mark.parametrize("np_value, message", [
    (0, "expected a non-zero integer"), (2.0, "expected a non-zero integer"), (True, "expected a non-zero integer")])
def test_np_must_be_a_non_zero_integer(np_value, message):
    with pytest.raises(ConfigError, match=message):
        HorovodRunner(np=np_value)


def test_main_must_be_callable():
    with pytest.raises(ConfigError, match="is not callable"):
        HorovodRunner(np=-2).run("train_hvd")


@pytest.mark.slow
@pytest.mark.horovod
def test_local_processes_train_and_return_rank_0_result(spark):
    from compat_helpers import train_hvd

    result = HorovodRunner(np=-2).run(train_hvd, learning_rate=LR, epochs=EPOCHS, batch_size=BATCH)
    assert result["rank"] == 0 and result["size"] == 2
    native, _ = native_baseline(spark)
    assert abs(_test_accuracy(result["weights"]) - native) <= 0.02, (_test_accuracy(result["weights"]), native)


@pytest.mark.slow
@pytest.mark.horovod
def test_spark_tasks_train_and_return_rank_0_result(spark):
    from compat_helpers import train_hvd

    result = HorovodRunner(np=2).run(train_hvd, learning_rate=LR, epochs=EPOCHS, batch_size=BATCH)
    assert result["rank"] == 0 and result["size"] == 2
    native, _ = native_baseline(spark)
    accuracy = _test_accuracy(result["weights"])
    assert abs(accuracy - native) <= 0.02, (accuracy, native)
    assert all(isinstance(w, np.ndarray) for w in result["weights"])


@pytest.mark.slow
@pytest.mark.horovod
def test_local_failure_names_the_rank_and_the_error():
    from compat_helpers import fail_on_rank_1

    with pytest.raises(WorkerFailedError) as info:
        HorovodRunner(np=-2).run(fail_on_rank_1)
    assert info.value.rank == 1
    assert "rank 1 gives up on purpose" in str(info.value)
