"""KerasModel.transform and predict_udf on local[2]: predictions equal model.predict, columns, SQL, images."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import sparkdl_kit as sdk
from test_inference_models import FEATURES, binary, classifier, image_model, regressor, rows


@pytest.fixture(scope="module")
def data(spark):
    x = rows(300)
    pdf = pd.DataFrame({"id": np.arange(len(x)), "features": list(x), "note": [f"r{i}" for i in range(len(x))]})
    return x, spark.createDataFrame(pdf).repartition(3)


def _sorted(df, *cols):
    return df.orderBy("id").select(*cols).toPandas()


def test_transform_equals_model_predict_and_keeps_columns(data):
    x, df = data
    model = classifier()
    out = sdk.KerasModel.from_keras(model, feature_cols=["features"], batch_size=64).transform(df)
    assert out.columns == ["id", "features", "note", "prediction", "probability"]
    assert dict(out.dtypes)["prediction"] == "double" and dict(out.dtypes)["probability"] == "array<float>"
    got = _sorted(out, "id", "note", "prediction", "probability")
    expected = model.predict(x, verbose=0)
    np.testing.assert_allclose(np.stack(got["probability"]), expected, rtol=1e-5, atol=1e-6)
    assert (got["prediction"].to_numpy() == expected.argmax(axis=1)).all()
    assert got["note"].tolist() == [f"r{i}" for i in range(len(x))]


def test_spark_ml_vectors_and_double_arrays(spark, data):
    from pyspark.ml.functions import array_to_vector
    from pyspark.sql import functions as F

    x, df = data
    model = classifier()
    vectors = df.select("id", array_to_vector(F.col("features").cast("array<double>")).alias("v"))
    km = sdk.KerasModel.from_keras(model, feature_cols=["v"], prediction_col="digit", probability_col="p")
    got = _sorted(km.transform(vectors), "digit", "p")
    np.testing.assert_allclose(np.stack(got["p"]), model.predict(x, verbose=0), rtol=1e-5, atol=1e-6)
    only_pred = km.copy().setParams(probability_col="").transform(vectors)
    assert only_pred.columns == ["id", "v", "digit"]


def test_regressors_and_binary_classifiers(data):
    x, df = data
    df = df.withColumnRenamed("features", "x")
    one, three, sig = regressor(1), regressor(3), binary()
    got = _sorted(sdk.KerasModel.from_keras(one, feature_cols=["x"]).transform(df), "prediction")
    np.testing.assert_allclose(got["prediction"], one.predict(x, verbose=0)[:, 0], rtol=1e-5, atol=1e-6)
    out3 = sdk.KerasModel.from_keras(three, feature_cols=["x"]).transform(df)
    assert "probability" not in out3.columns and dict(out3.dtypes)["prediction"] == "array<float>"
    np.testing.assert_allclose(np.stack(_sorted(out3, "prediction")["prediction"]), three.predict(x, verbose=0),
                               rtol=1e-5, atol=1e-6)
    got = _sorted(sdk.KerasModel.from_keras(sig, feature_cols=["x"]).transform(df), "prediction", "probability")
    p = sig.predict(x, verbose=0)[:, 0]
    np.testing.assert_allclose(np.stack(got["probability"])[:, 1], p, rtol=1e-5, atol=1e-6)
    assert (got["prediction"].to_numpy() == (p >= 0.5)).all()


def test_save_load_and_plain_keras_files(data, tmp_path):
    x, df = data
    model = classifier()
    km = sdk.KerasModel.from_keras(model, feature_cols=["features"], prediction_col="cls", label_mapping=["a", "b", "c"])
    km.save(str(tmp_path / "km"))
    again = sdk.KerasModel.load(str(tmp_path / "km"))
    assert again.getOrDefault("prediction_col") == "cls" and again.label_mapping == ["a", "b", "c"]
    model.save(tmp_path / "plain.keras")
    for source in (f"file://{tmp_path}/plain.keras", str(tmp_path / "km")):
        got = _sorted(sdk.KerasModel.from_keras(source, feature_cols=["features"]).transform(df), "probability")
        np.testing.assert_allclose(np.stack(got["probability"]), model.predict(x, verbose=0), rtol=1e-5, atol=1e-6)
    got = _sorted(again.transform(df), "cls")
    assert (got["cls"].to_numpy() == model.predict(x, verbose=0).argmax(1)).all()


def test_model_loaded_once_per_worker_across_tasks(spark, data):
    from pyspark.sql import functions as F

    _, df = data
    model = classifier()
    km = sdk.KerasModel.from_keras(model, feature_cols=["features"])
    km.transform(df).count()
    key = km._refs[spark.sparkContext.applicationId].key

    def loaded(batches):
        from sparkdl_kit.inference.worker import cached_model_keys

        for _ in batches:
            yield pd.DataFrame({"hit": [key in cached_model_keys()]})
    # a later job's Python workers (SQL workers are reused across tasks) have the model loaded already
    seen = df.mapInPandas(loaded, "hit boolean").toPandas()["hit"].tolist()
    assert any(seen), seen
    assert km.transform(df).filter(F.col("prediction") >= 0).count() == 300


def test_predict_udf_in_select_and_sql(spark, data):
    x, df = data
    model = classifier()
    expected = model.predict(x, verbose=0)
    pred = sdk.predict_udf(model)
    got = df.orderBy("id").select(pred("features").alias("p")).toPandas()
    assert (got["p"].to_numpy() == expected.argmax(1)).all()
    spark.udf.register("classify_rows", sdk.predict_udf(model, "probability", batch_size=50))
    df.createOrReplaceTempView("inference_rows")
    got = spark.sql("SELECT id, classify_rows(features) AS probs FROM inference_rows ORDER BY id").toPandas()
    np.testing.assert_allclose(np.stack(got["probs"]), expected, rtol=1e-5, atol=1e-6)


@pytest.fixture(scope="module")
def image_folder(tmp_path_factory):
    from PIL import Image

    folder = tmp_path_factory.mktemp("inference_images")
    rng = np.random.default_rng(4)
    for i in range(6):   # sizes differ from the model's: decoding resizes, as in the ETL
        Image.fromarray(rng.integers(0, 255, (9 + i, 7, 3), dtype=np.uint8)).save(folder / f"{i}.png")
    return folder


def test_images_as_files_bytes_and_decoded_match_the_etl(spark, image_folder):
    from sparkdl_kit.etl import read_images

    model = image_model()
    decoded = read_images(spark, str(image_folder), size=(6, 5), label_from_dir=False).orderBy("path")
    ref = decoded.toPandas()
    x = np.stack([np.frombuffer(b, np.uint8).reshape(6, 5, 3) for b in ref["image"]])
    expected = model.predict(x, verbose=0)
    raw = spark.read.format("binaryFile").load(str(image_folder))
    as_bytes = sdk.KerasModel.from_keras(model, feature_cols=["content"]).transform(raw)
    as_paths = sdk.KerasModel.from_keras(model, feature_cols=["path"]).transform(raw.select("path"))
    as_decoded = sdk.KerasModel.from_keras(model, feature_cols=["image"]).transform(decoded)
    for out in (as_bytes, as_paths, as_decoded):
        got = out.orderBy("path").select("path", "probability").toPandas()
        assert got["path"].tolist() == ref["path"].tolist()
        np.testing.assert_allclose(np.stack(got["probability"]), expected, rtol=1e-5, atol=1e-6)
    udf = sdk.predict_udf(model, "probability")
    got = raw.orderBy("path").select(udf("content").alias("p")).toPandas()
    np.testing.assert_allclose(np.stack(got["p"]), expected, rtol=1e-5, atol=1e-6)


def test_import_stays_light():
    import subprocess
    import sys

    code = "import sys, sparkdl_kit; print('tensorflow' in sys.modules, 'predict_udf' in sparkdl_kit.__all__)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.stdout.split() == ["False", "True"], done.stderr
