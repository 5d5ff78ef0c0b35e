"""Bad input to inference: typed errors naming the culprit, before the job runs where the schema tells."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pyspark.errors import PythonException

import sparkdl_kit as sdk
from sparkdl_kit.errors import ConfigError, DatasetNotFoundError, SchemaError
from test_inference_models import FEATURES, classifier, image_model, rows


@pytest.fixture(scope="module")
def model():
    return classifier()


@pytest.fixture(scope="module")
def df(spark):
    x = rows(40, seed=5)
    return spark.createDataFrame(pd.DataFrame({"id": np.arange(40), "features": list(x), "name": ["a"] * 40}))


def _jobs(spark):
    return spark.sparkContext.statusTracker().getJobIdsForGroup()


def test_missing_feature_column_before_any_job(spark, model, df):
    before = len(_jobs(spark))
    with pytest.raises(SchemaError, match="column 'featurs' not found; the DataFrame has: id, features, name"):
        sdk.KerasModel.from_keras(model, feature_cols=["featurs"]).transform(df)
    assert len(_jobs(spark)) == before


def test_mistyped_feature_columns(spark, model, df):
    with pytest.raises(SchemaError, match="feature column 'name' has type string.*expects numbers of shape"):
        sdk.KerasModel.from_keras(model, feature_cols=["name"]).transform(df)
    with pytest.raises(SchemaError, match="'id' holds one number per row.*expects shape \\(8,\\)"):
        sdk.KerasModel.from_keras(model, feature_cols=["id"]).transform(df)
    with pytest.raises(SchemaError, match="1 input\\(s\\) but feature_cols names 2 column"):
        sdk.KerasModel.from_keras(model, feature_cols=["features", "id"])
    from sparkdl_kit.etl import decode_images

    images = spark.createDataFrame([("x", bytearray(b"\x00"))], "path string, content binary")
    small = decode_images(images, "content", size=(4, 4), path_col="path", output="image")
    with pytest.raises(SchemaError, match="image column 'image' holds images of shape \\(4, 4, 3\\).*\\(6, 5, 3\\)"):
        sdk.KerasModel.from_keras(image_model(), feature_cols=["image"]).transform(small)


def test_arrays_of_the_wrong_length_name_the_column(spark, model):
    short = spark.createDataFrame(pd.DataFrame({"f": list(rows(5)[:, :FEATURES - 2])}))
    out = sdk.KerasModel.from_keras(model, feature_cols=["f"]).transform(short)
    with pytest.raises(PythonException) as info:
        out.collect()
    text = str(info.value)
    assert "DataError" in text and "input column 'f'" in text and "holds 6 values" in text and "expects 8" in text


def test_nulls_error_by_default_or_are_skipped_and_counted(spark, model):
    x = rows(10, seed=6)
    values = [list(map(float, r)) for r in x]
    values[3] = None
    values[7] = values[7][:4] + [None] + values[7][5:]    # a null inside an array
    df = spark.createDataFrame([(i, v) for i, v in enumerate(values)], "id long, features array<float>").coalesce(1)
    with pytest.raises(PythonException) as info:
        sdk.KerasModel.from_keras(model, feature_cols=["features"]).transform(df).collect()
    assert "DataError" in str(info.value) and "'features': 2 row(s) of a batch" in str(info.value)
    assert "batch row 3: null" in str(info.value)
    assert "handle_invalid='skip'" in str(info.value)

    skip = sdk.KerasModel.from_keras(model, feature_cols=["features"], handle_invalid="skip")
    got = skip.transform(df).orderBy("id").toPandas()
    assert got["id"].tolist() == [0, 1, 2, 4, 5, 6, 8, 9] and skip.invalid_rows == 2
    keep = sdk.KerasModel.from_keras(model, feature_cols=["features"], handle_invalid="keep")
    got = keep.transform(df).orderBy("id").toPandas()
    assert len(got) == 10 and got["prediction"].isna().tolist() == [i in (3, 7) for i in range(10)]
    assert got["probability"][3] is None and keep.invalid_rows == 2
    ok = [i for i in range(10) if i not in (3, 7)]
    np.testing.assert_allclose(np.stack(got["probability"][ok]), model.predict(x[ok], verbose=0), rtol=1e-5, atol=1e-6)


def test_unreadable_image_names_the_file(spark, tmp_path):
    from PIL import Image

    Image.fromarray(np.zeros((6, 5, 3), np.uint8)).save(tmp_path / "good.png")
    (tmp_path / "broken.png").write_bytes(b"\x89PNG not really")
    raw = spark.read.format("binaryFile").load(str(tmp_path))
    with pytest.raises(PythonException, match="broken.png"):
        sdk.KerasModel.from_keras(image_model(), feature_cols=["content"]).transform(raw).collect()
    skip = sdk.KerasModel.from_keras(image_model(), feature_cols=["content"], handle_invalid="skip")
    assert [p.split("/")[-1] for p, in skip.transform(raw).select("path").collect()] == ["good.png"]
    assert skip.invalid_rows == 1


def test_model_paths_that_do_not_exist_or_hold_no_model(tmp_path):
    with pytest.raises(DatasetNotFoundError, match="model path '.*nowhere.keras' does not exist"):
        sdk.KerasModel.from_keras(str(tmp_path / "nowhere.keras"), feature_cols=["features"])
    (tmp_path / "notes.keras").write_text("not a model")
    with pytest.raises(ConfigError, match="model path '.*notes.keras' holds no Keras model"):
        sdk.KerasModel.from_keras(str(tmp_path / "notes.keras"), feature_cols=["features"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match="'.*empty' holds no Keras model"):
        sdk.predict_udf(str(tmp_path / "empty"))
    with pytest.raises(ConfigError, match="got int"):
        sdk.predict_udf(42)


def test_bad_settings_and_taken_output_names(model, df):
    with pytest.raises(ConfigError, match="handle_invalid='drop'"):
        sdk.KerasModel.from_keras(model, feature_cols=["features"], handle_invalid="drop")
    with pytest.raises(ConfigError, match="batch_size=0"):
        sdk.KerasModel.from_keras(model, feature_cols=["features"], batch_size=0)
    with pytest.raises(ConfigError, match="unknown param\\(s\\) predictionCol"):
        sdk.KerasModel.from_keras(model, feature_cols=["features"], predictionCol="p")
    with pytest.raises(SchemaError, match="output column 'name' already exists"):
        sdk.KerasModel.from_keras(model, feature_cols=["features"], prediction_col="name").transform(df)
    with pytest.raises(ConfigError, match="output='probability', but the model is a regressor"):
        sdk.predict_udf(model, "probability", task="regressor")
