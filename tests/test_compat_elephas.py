"""Elephas-style programs (SparkModel on an RDD, ElephasEstimator in a Pipeline) on scikit-learn's digits."""

import numpy as np
import pytest

from sparkdl_kit.compat import CompatWarning
from sparkdl_kit.errors import ConfigError, DatasetExistsError

from compat_helpers import BATCH, EPOCHS, LR, build_mlp, digits_split, native_baseline, scratch_dir


def compiled_model():
    import tensorflow as tf

    model = build_mlp()
    model.compile(optimizer=tf.keras.optimizers.Adam(learning_rate=LR), loss="categorical_crossentropy",
                  metrics=["acc"])
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
        SparkModel(build_mlp())
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
def test_spark_model_program_trains_predicts_saves_and_loads(spark, tmp_path):
    import tensorflow as tf

    from sparkdl_kit.compat.elephas import SparkModel, load_spark_model, to_simple_rdd

    x, y, x_test, y_test = digits_split()
    sc = spark.sparkContext
    # --- the Elephas program, as its README writes it
    rdd = to_simple_rdd(sc, x, tf.keras.utils.to_categorical(y, 10))
    spark_model = SparkModel(compiled_model(), mode="synchronous", num_workers=2,
                             store=f"file://{scratch_dir()}/elephas")
    spark_model.fit(rdd, epochs=EPOCHS, batch_size=BATCH, verbose=0, validation_split=0.1)
    loss, acc = spark_model.master_network.evaluate(x_test, tf.keras.utils.to_categorical(y_test, 10), verbose=0)
    # ---
    native, _ = native_baseline(spark)
    assert abs(acc - native) <= 0.02, (acc, native)
    assert len(spark_model.history["loss"]) == len(spark_model.history["val_loss"]) == EPOCHS

    predicted = spark_model.predict(x_test)
    assert predicted.shape == (len(x_test), 10)
    assert abs(float((predicted.argmax(axis=1) == y_test).mean()) - acc) < 1e-6
    from_rdd = spark_model.predict(sc.parallelize(list(x_test[:50]), 2))
    np.testing.assert_allclose(from_rdd, predicted[:50], atol=1e-5)
    assert spark_model.evaluate(x_test, tf.keras.utils.to_categorical(y_test, 10))[1] == pytest.approx(acc)

    path = str(tmp_path / "digits.h5")
    spark_model.save(path)
    with pytest.raises(DatasetExistsError, match="already exists; pass overwrite=True"):
        spark_model.save(path)
    again = load_spark_model(path)
    np.testing.assert_allclose(again.predict(x_test[:20]), predicted[:20], atol=1e-5)
    assert again.num_workers == 2 and again.batch_size == 32


@pytest.mark.slow
@pytest.mark.horovod
def test_elephas_estimator_in_a_pipeline(spark):
    import tensorflow as tf
    from pyspark.ml import Pipeline

    from sparkdl_kit.compat.elephas import ElephasEstimator, to_data_frame

    x, y, x_test, y_test = digits_split()
    sc = spark.sparkContext
    # --- the Elephas ML-pipeline program, as its docs write it
    train_df = to_data_frame(sc, x, tf.keras.utils.to_categorical(y, 10), categorical=True)
    test_df = to_data_frame(sc, x_test, tf.keras.utils.to_categorical(y_test, 10), categorical=True)
    estimator = ElephasEstimator(store=f"file://{scratch_dir()}/elephas-estimator")
    estimator.set_keras_model_config(build_mlp().to_json())
    estimator.set_optimizer_config(tf.keras.optimizers.serialize(tf.keras.optimizers.legacy.Adam(LR)))
    estimator.set_mode("synchronous")
    estimator.set_loss("categorical_crossentropy")
    estimator.set_metrics(["acc"])
    estimator.set_epochs(EPOCHS)
    estimator.set_batch_size(BATCH)
    estimator.set_validation_split(0.1)
    estimator.set_categorical_labels(True)
    estimator.set_nb_classes(10)
    estimator.set_num_workers(2)
    fitted = Pipeline(stages=[estimator]).fit(train_df)
    prediction = fitted.transform(test_df)
    pnl = prediction.select("label", "prediction").collect()
    acc = float(np.mean([r.label == r.prediction for r in pnl]))
    # ---
    native, _ = native_baseline(spark)
    assert abs(acc - native) <= 0.02, (acc, native)
    assert len(pnl) == len(x_test)
