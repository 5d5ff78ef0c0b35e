"""Training with Horovod workers on Spark: accuracy, failures, resume, the estimator, persistence, the job."""

import json

import numpy as np
import pytest

import sparkdl_kit as sdk
from sparkdl_kit.errors import ConfigError, DatasetNotFoundError, SchemaError, WorkerFailedError
from support import REPO, run_spark_submit

EPOCHS, BATCH, LR = 10, 32, 0.002


@pytest.fixture(scope="module")
def digits(spark, tmp_path_factory):
    import pandas as pd
    from sklearn.datasets import load_digits

    d = load_digits()
    pdf = pd.DataFrame({"features": list((d.data / 16.0).astype("float32")), "label": d.target})
    url = f"file://{tmp_path_factory.mktemp('digits')}/ds"
    return sdk.materialize(spark.createDataFrame(pdf), url, feature_cols=["features"], label_col="label",
                           validation=0.2, seed=7)


@pytest.fixture
def store(tmp_path):
    return f"file://{tmp_path}/runs"


@pytest.mark.slow
@pytest.mark.horovod
def test_two_workers_match_single_process_keras_fit(digits, store):
    from train_helpers import build_digits_mlp, split_arrays

    result = sdk.train("train_helpers:build_digits_mlp", digits, num_proc=2, store=store, run_id="two",
                       epochs=EPOCHS, batch_size=BATCH, learning_rate=LR)
    distributed = result.history["val_accuracy"][-1]

    import tensorflow as tf

    x, y = split_arrays(digits, "train")
    xv, yv = split_arrays(digits, "validation")
    single = build_digits_mlp()    # same seed, same global batch (2 x 32) and the same scaled rate
    single.compile(tf.keras.optimizers.legacy.Adam(LR * 2), "sparse_categorical_crossentropy", ["accuracy"])
    single.fit(x, y, batch_size=2 * BATCH, epochs=EPOCHS, shuffle=True, verbose=0)
    reference = single.evaluate(xv, yv, verbose=0)[1]

    assert len(result.history["val_accuracy"]) == EPOCHS
    assert reference > 0.9
    assert abs(distributed - reference) <= 0.02, (distributed, reference)
    # the model on the driver is the trained one
    predicted = result.model.predict(xv, verbose=0).argmax(axis=1)
    assert (predicted == yv).mean() > 0.9


@pytest.mark.slow
@pytest.mark.horovod
def test_worker_raising_in_epoch_2_gives_worker_failed_error(digits, store):
    from train_helpers import FailInEpoch

    with pytest.raises(WorkerFailedError) as info:
        sdk.train("train_helpers:build_digits_mlp", digits, num_proc=2, store=store, run_id="fails",
                  epochs=3, batch_size=BATCH, callbacks=[FailInEpoch(rank=1, epoch=2)])
    assert info.value.rank == 1
    assert "injected failure in epoch 2 on rank 1" in str(info.value)


@pytest.mark.slow
@pytest.mark.horovod
def test_fit_again_with_the_same_run_id_resumes(digits, store, tmp_path):
    first = sdk.train("train_helpers:build_digits_mlp", digits, num_proc=2, store=store, run_id="resume",
                      epochs=2, batch_size=BATCH, learning_rate=LR)
    assert first.initial_epoch == 0 and len(first.history["loss"]) == 2
    latest = (tmp_path / "runs" / "resume" / "checkpoints" / "LATEST").read_text().strip()
    assert latest == "epoch-0002"

    second = sdk.train("train_helpers:build_digits_mlp", digits, num_proc=2, store=store, run_id="resume",
                       epochs=4, batch_size=BATCH, learning_rate=LR)
    assert second.initial_epoch == 2
    assert len(second.history["loss"]) == 4
    assert second.history["loss"][:2] == pytest.approx(first.history["loss"])
    # continuing from the checkpoint: the third epoch starts from where the second ended, not from scratch
    assert second.history["loss"][2] < first.history["loss"][0]


@pytest.mark.slow
@pytest.mark.horovod
def test_estimator_in_a_pipeline_and_model_save_load(spark, store, tmp_path):
    from pyspark.ml import Pipeline
    from pyspark.ml.feature import VectorAssembler
    from sklearn.datasets import load_digits

    from train_helpers import build_digits_mlp

    d = load_digits(as_frame=True)
    frame = d.frame.rename(columns=lambda c: c.replace("pixel_", "p"))
    df = spark.createDataFrame(frame.rename(columns={"target": "label"}))
    inputs = [c for c in df.columns if c != "label"]
    estimator = sdk.KerasEstimator(model=build_digits_mlp, feature_cols=["features"], label_col="label",
                                   epochs=4, batch_size=BATCH, learning_rate=LR, num_proc=2, store=store,
                                   run_id="pipeline")
    assert "batch_size: rows per step on each worker (default: 32, current: 32)" in estimator.explainParams()
    assert estimator.copy({estimator.epochs: 9}).getOrDefault("epochs") == 9
    pipeline = Pipeline(stages=[VectorAssembler(inputCols=inputs, outputCol="features"), estimator])
    fitted = pipeline.fit(df)
    keras_model = fitted.stages[-1]
    assert isinstance(keras_model, sdk.KerasModel)
    assert len(keras_model.history["val_accuracy"]) == 4 and keras_model.run_id == "pipeline"

    path = f"file://{tmp_path}/saved-model"
    keras_model.save(path)
    with pytest.raises(FileExistsError, match="overwrite"):
        keras_model.save(path)
    loaded = sdk.KerasModel.load(path)
    x = np.random.default_rng(0).random((5, 64), dtype=np.float32)
    np.testing.assert_allclose(loaded.keras_model.predict(x, verbose=0),
                               keras_model.keras_model.predict(x, verbose=0), rtol=1e-5)
    assert (loaded.uid, loaded.feature_cols, loaded.label_col) == (keras_model.uid, ["features"], "label")
    assert loaded.history == keras_model.history


@pytest.mark.slow
@pytest.mark.horovod
def test_train_job_through_spark_submit(digits, tmp_path):
    metrics = tmp_path / "metrics.json"
    out = run_spark_submit(REPO / "jobs" / "train.py", "--dataset", digits.url, "--model", "mlp",
                           "--epochs", "6", "--batch-size", "32", "--learning-rate", "0.002", "--num-proc", "2",
                           "--store", f"file://{tmp_path}/runs", "--run-id", "job",
                           "--output-model", f"file://{tmp_path}/model", "--metrics-json", str(metrics))
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-5000:]
    assert "epoch 6/6:" in out.stderr + out.stdout
    final = json.loads(metrics.read_text())
    assert final["val_accuracy"] > 0.85 and final["epochs"] == 6
    assert sdk.KerasModel.load(f"file://{tmp_path}/model").run_id == "job"


# --- bad input: each fails before any worker starts -------------------------------------------

def test_model_spec_that_cannot_be_imported(digits, store):
    with pytest.raises(ConfigError, match="cannot import module 'no_such_pkg'"):
        sdk.train("no_such_pkg:build", digits, num_proc=2, store=store)


def test_model_function_not_returning_a_keras_model(digits, store):
    with pytest.raises(ConfigError, match="returned str, not a tf.keras.Model"):
        sdk.train("train_helpers:build_not_a_model", digits, num_proc=2, store=store)


def test_feature_shape_not_matching_the_model_input(digits, store):
    from sparkdl_kit.train.models import mlp

    with pytest.raises(SchemaError, match=r"feature column 'features' holds values of shape \(64,\).*expects \(32,\)"):
        sdk.train(mlp((32,), 10), digits, num_proc=2, store=store)


def test_loss_not_matching_the_labels(digits, store):
    with pytest.raises(SchemaError, match="expects one-hot labels.*sparse_categorical_crossentropy"):
        sdk.train("train_helpers:build_digits_mlp", digits, num_proc=2, store=store,
                  loss="categorical_crossentropy")
    with pytest.raises(SchemaError, match="is for two classes"):
        sdk.train("train_helpers:build_digits_mlp", digits, num_proc=2, store=store, loss="binary_crossentropy")


def test_dataset_url_with_no_dataset(tmp_path, store):
    with pytest.raises(DatasetNotFoundError):
        sdk.train("train_helpers:build_digits_mlp", f"file://{tmp_path}/nothing", num_proc=2, store=store)


@pytest.mark.parametrize("settings, match", [
    ({"epochs": 0}, "epochs=0: expected an integer >= 1"),
    ({"batch_size": -1}, "batch_size=-1"),
    ({"lr_scaling": "sqrt"}, "lr_scaling='sqrt'"),
    ({"epocks": 3}, "unknown training setting"),
])
def test_bad_training_settings(digits, store, settings, match):
    with pytest.raises(ConfigError, match=match):
        sdk.train("train_helpers:build_digits_mlp", digits, num_proc=2, store=store, **settings)


def test_optimizer_config_of_a_new_style_keras_optimizer_gives_its_legacy_twin():
    import tensorflow as tf
    from sparkdl_kit.train.worker import build_optimizer

    config = tf.keras.optimizers.serialize(tf.keras.optimizers.Adam(0.5, beta_1=0.8, clipnorm=1.0))
    optimizer = build_optimizer(config, learning_rate=0.01)
    assert isinstance(optimizer, tf.keras.optimizers.legacy.Adam)
    settings = optimizer.get_config()
    assert (settings["learning_rate"], settings["beta_1"], settings["clipnorm"]) == (0.01, 0.8, 1.0)
    with pytest.raises(ConfigError, match=r"optimizer=\{'class_name': 'Lion'.*unknown; expected one of .*adam"):
        build_optimizer({"class_name": "Lion", "config": {}}, learning_rate=0.01)
