"""Deep Learning Pipelines and dist-keras inference names, applied to the natively trained digits model."""

import os

import numpy as np
import pytest

from sparkdl_kit.errors import ConfigError

from compat_helpers import NATIVE, accuracy, migrating_examples, native_accuracy


@pytest.fixture(scope="module")
def trained(spark, tmp_path_factory):
    """(native test accuracy, its Keras model saved as .keras, the same model over 8x8x1 images saved)."""
    import tensorflow as tf

    native, fitted = native_accuracy(spark), migrating_examples(spark, NATIVE)["keras_model"]
    folder = str(tmp_path_factory.mktemp("dlp-models"))
    features_path = os.path.join(folder, "digits.keras")
    fitted.keras_model.save(features_path)
    image_model = tf.keras.Sequential([tf.keras.layers.Input((8, 8, 1)), tf.keras.layers.Rescaling(1 / 255.0),
                                       tf.keras.layers.Reshape((64,)), fitted.keras_model])
    image_path = os.path.join(folder, "digits_image.keras")
    image_model.save(image_path)
    return native, features_path, image_path


@pytest.fixture(scope="module")
def image_files(spark, tmp_path_factory):
    """The test digits as 8x8 grayscale PNG files named <index>_<label>.png: (folder, [(uri, label)])."""
    from PIL import Image

    ns = migrating_examples(spark, NATIVE)
    x_test, y_test = ns["x_test"], ns["y_test"]
    folder = tmp_path_factory.mktemp("digit-images")
    rows = []
    for i, (x, label) in enumerate(zip(x_test, y_test)):
        path = folder / f"{i}_{label}.png"
        Image.fromarray(np.round(x.reshape(8, 8) * 255).astype(np.uint8), mode="L").save(path)
        rows.append((str(path), int(label)))
    return folder, rows


def load_digit(uri):
    """An imageLoader as Deep Learning Pipelines' docs write them: the file -> the model's input array."""
    from PIL import Image

    return np.asarray(Image.open(uri), dtype=np.float32).reshape(1, 8, 8, 1)


def vector_argmax(df, column):
    return [float(np.argmax(r[0].toArray())) for r in df.select(column).collect()]


@pytest.mark.slow
@pytest.mark.horovod
def test_dist_keras_model_predictor_and_label_index(spark, trained):
    import tensorflow as tf

    from sparkdl_kit.compat.dlp import LabelIndexTransformer, ModelPredictor

    native, features_path, _ = trained
    test = migrating_examples(spark, NATIVE)["test_df"]
    model = tf.keras.models.load_model(features_path, compile=False)
    predicted = ModelPredictor(keras_model=model, features_col="features").predict(test)
    indexed = LabelIndexTransformer(output_dim=10).transform(predicted)
    assert abs(accuracy(indexed, "prediction_index") - native) <= 0.02
    first = predicted.select("prediction").first()[0]
    assert len(first.toArray()) == 10 and first.toArray().sum() == pytest.approx(1.0, abs=1e-4)


@pytest.mark.slow
@pytest.mark.horovod
def test_dlp_keras_transformer_on_arrays(spark, trained):
    from sparkdl_kit.compat.dlp import KerasTransformer

    native, features_path, _ = trained
    test = migrating_examples(spark, NATIVE)["test_df"]
    out = KerasTransformer(inputCol="features", outputCol="scores", modelFile=features_path).transform(test)
    rows = out.select("label", "scores").collect()
    acc = float(np.mean([int(np.argmax(r.scores)) == r.label for r in rows]))
    assert abs(acc - native) <= 0.02


@pytest.mark.slow
@pytest.mark.horovod
def test_dlp_image_file_transformer_with_and_without_an_image_loader(spark, trained, image_files):
    from sparkdl_kit.compat.dlp import KerasImageFileTransformer

    native, _, image_path = trained
    _, rows = image_files
    uri_df = spark.createDataFrame(rows, ["uri", "label"])
    transformer = KerasImageFileTransformer(inputCol="uri", outputCol="predictions", modelFile=image_path,
                                            imageLoader=load_digit, outputMode="vector")
    scored = transformer.transform(uri_df)
    labels = [r.label for r in scored.select("label").collect()]
    with_loader = vector_argmax(scored, "predictions")
    assert abs(float(np.mean(np.equal(with_loader, labels))) - native) <= 0.02
    assert scored.columns == ["uri", "label", "predictions"]
    decoded = KerasImageFileTransformer(inputCol="uri", outputCol="predictions", modelFile=image_path)
    assert vector_argmax(decoded.transform(uri_df), "predictions") == with_loader


@pytest.mark.slow
@pytest.mark.horovod
def test_register_keras_image_udf_over_image_structs_and_paths(spark, trained, image_files):
    from sparkdl_kit.compat.dlp import registerKerasImageUDF

    native, _, image_path = trained
    folder, rows = image_files
    registerKerasImageUDF("digit_scores", image_path)
    spark.read.format("image").load(str(folder)).createOrReplaceTempView("digit_images")
    scored = spark.sql("SELECT image.origin AS origin, digit_scores(image) AS scores FROM digit_images").collect()
    assert len(scored) == len(rows)
    hits = [int(np.argmax(r.scores)) == int(r.origin.rsplit("_", 1)[1].split(".")[0]) for r in scored]
    assert abs(float(np.mean(hits)) - native) <= 0.02

    registerKerasImageUDF("digit_scores_loaded", image_path, preprocessor=load_digit)
    spark.createDataFrame(rows, ["uri", "label"]).createOrReplaceTempView("digit_uris")
    loaded = spark.sql("SELECT label, digit_scores_loaded(uri) AS scores FROM digit_uris").collect()
    acc = float(np.mean([int(np.argmax(r.scores)) == r.label for r in loaded]))
    assert abs(acc - native) <= 0.02


def test_bad_settings_name_what_to_fix(spark, tmp_path):
    import tensorflow as tf

    from sparkdl_kit.compat.dlp import KerasImageFileTransformer, KerasTransformer, registerKerasImageUDF

    with pytest.raises(ConfigError, match="outputMode='image': expected 'vector'"):
        KerasImageFileTransformer(inputCol="uri", outputCol="p", modelFile="m.h5", outputMode="image")
    df = spark.createDataFrame([([0.0] * 4,)], ["features"])
    with pytest.raises(ConfigError, match=r"KerasTransformer: modelFile not set; pass modelFile=\.\.\."):
        KerasTransformer(inputCol="features", outputCol="out").transform(df)
    flat = tf.keras.Sequential([tf.keras.layers.Input((4,)), tf.keras.layers.Dense(2, activation="softmax")])
    with pytest.raises(ConfigError, match=r"the model takes inputs of shape \(4,\); expected one image input"):
        registerKerasImageUDF("flat", flat)
