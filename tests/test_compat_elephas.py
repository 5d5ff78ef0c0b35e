"""Elephas-style programs (SparkModel on an RDD, ElephasEstimator in a Pipeline) on scikit-learn's digits."""

import numpy as np
import pytest

from sparkdl_kit.compat import CompatWarning
from sparkdl_kit.errors import ConfigError, DatasetExistsError

from compat_helpers import ELEPHAS, NATIVE, accuracy, migrating_examples, native_accuracy


def small_model():
    import tensorflow as tf

    return tf.keras.Sequential([tf.keras.layers.Input((4,)), tf.keras.layers.Dense(3, activation="softmax")])


def compiled_model():
    model = small_model()
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["acc"])
    return model


def test_parameter_server_settings_warn_and_say_why():
    from sparkdl_kit.compat.elephas import SparkModel

    with pytest.warns(CompatWarning, match=r"mode='asynchronous' is ignored by sparkdl_kit: training is "
                                           r"synchronous allreduce \(Horovod\)"):
        SparkModel(compiled_model(), mode="asynchronous")
    with pytest.warns(CompatWarning, match="frequency='batch' is ignored by sparkdl_kit: there is no parameter "
                                           "server"):
        SparkModel(compiled_model(), frequency="batch")
    with pytest.warns(CompatWarning, match="parameter_server_mode='socket' is ignored"):
        SparkModel(compiled_model(), parameter_server_mode="socket")
    with pytest.warns(CompatWarning, match="elephas_option=1 is ignored by sparkdl_kit: not an argument"):
        SparkModel(compiled_model(), elephas_option=1)


def test_bad_models_and_modes_are_refused_with_the_fix():
    from sparkdl_kit.compat.elephas import SparkModel

    with pytest.raises(ConfigError, match=r"the model is not compiled.*model.compile\(optimizer="):
        SparkModel(small_model())
    with pytest.raises(ConfigError, match="mode='fast': expected one of synchronous, asynchronous, hogwild"):
        SparkModel(compiled_model(), mode="fast")


def test_estimator_refuses_unknown_settings_and_a_missing_model(spark):
    from sparkdl_kit.compat.elephas import ElephasEstimator

    with pytest.raises(ConfigError, match="unknown setting.*nb_epoch"):
        ElephasEstimator(nb_epoch=3)
    train = spark.createDataFrame([([0.0] * 64, 1)], ["features", "label"])
    with pytest.raises(ConfigError, match=r"no model; call set_keras_model_config\(model.to_json\(\)\)"):
        ElephasEstimator().set_loss("categorical_crossentropy").fit(train)


@pytest.mark.slow
@pytest.mark.horovod
def test_spark_model_trains_predicts_saves_and_loads_like_the_native_estimator(spark, tmp_path):
    import tensorflow as tf

    ns = migrating_examples(spark, ELEPHAS)     # docs/migrating.md: SparkModel(...).fit(to_simple_rdd(...)), save, load
    spark_model, x_test, y_test = ns["spark_model"], ns["x_test"], ns["y_test"]
    assert abs(ns["acc"] - native_accuracy(spark)) <= 0.02, (ns["acc"], native_accuracy(spark))
    assert len(spark_model.history["loss"]) == len(spark_model.history["val_loss"]) == 15

    predicted = ns["probabilities"]
    assert predicted.shape == (len(x_test), 10)
    assert float((predicted.argmax(axis=1) == y_test).mean()) == pytest.approx(ns["acc"], abs=1e-6)
    from_rdd = spark_model.predict(spark.sparkContext.parallelize(list(x_test[:50]), 2))
    np.testing.assert_allclose(from_rdd, predicted[:50], atol=1e-5)
    from_frame = spark_model.predict(migrating_examples(spark, NATIVE)["test_df"])
    assert accuracy(from_frame) == pytest.approx(ns["acc"], abs=1e-6)
    assert spark_model.evaluate(x_test, tf.keras.utils.to_categorical(y_test, 10))[1] == pytest.approx(ns["acc"])

    np.testing.assert_allclose(ns["again"].predict(x_test[:20]), predicted[:20], atol=1e-5)
    assert ns["again"].num_workers == 2 and ns["again"].batch_size == 32
    path = str(tmp_path / "digits.h5")
    spark_model.save(path)
    with pytest.raises(DatasetExistsError, match="already exists; pass overwrite=True"):
        spark_model.save(path)


@pytest.mark.slow
@pytest.mark.horovod
def test_elephas_estimator_in_a_pipeline_like_the_native_estimator(spark):
    ns = migrating_examples(spark, ELEPHAS)     # docs/migrating.md: Pipeline(stages=[ElephasEstimator ...]).fit(...)
    acc = accuracy(ns["elephas_predictions"])
    assert abs(acc - native_accuracy(spark)) <= 0.02, (acc, native_accuracy(spark))
    assert ns["elephas_predictions"].count() == len(ns["x_test"])
