"""The bad-input catalog: every input the data, training and inference layers reject, in one table.

Each row calls the public API with one bad input and checks that the typed error names the culprit
(column, file or setting) and says how to fix it, and that nothing was written where the call would
have written (a dataset, a run store, a saved model or a DataFrame's output). All of them fail before
any Spark job writes or any Horovod worker starts, so the table is cheap.
"""

from __future__ import annotations

import dataclasses
import os
import re
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd
import pytest
from pyspark.sql import functions as F

import sparkdl_kit as sdk
from sparkdl_kit import etl
from sparkdl_kit.errors import (ConfigError, DataError, DatasetExistsError, DatasetNotFoundError, LaunchError,
                                SchemaError)
from sparkdl_kit.train.models import mlp
from test_inference_models import classifier, rows


@dataclasses.dataclass
class Inputs:
    """Good inputs the bad cases start from."""

    spark: Any
    df: Any            # features (array of 8 floats), label (0..2), name (string), raw (binary)
    dataset: Any       # df materialized, with a validation split
    model: Any         # a Keras classifier of 8 features, 3 classes
    saved: str         # a KerasModel folder written by save()
    missing: str       # a path where nothing exists


@pytest.fixture(scope="module")
def inputs(spark, tmp_path_factory) -> Inputs:
    root = tmp_path_factory.mktemp("catalog")
    pdf = pd.DataFrame({"features": list(rows(40, seed=1)), "label": np.arange(40) % 3, "name": ["a"] * 40,
                        "raw": [b"\x00"] * 40})
    df = spark.createDataFrame(pdf)
    dataset = sdk.materialize(df.select("features", "label"), f"file://{root}/dataset", ["features"], "label",
                              validation=0.25, num_shards=1)
    model = classifier()
    saved = f"{root}/saved-model"
    sdk.KerasModel.from_keras(model, feature_cols=["features"]).save(f"file://{saved}")
    return Inputs(spark, df, dataset, model, saved, f"{root}/nothing-here")


def train(i: Inputs, out: str, model: Any = None, dataset: Any = None, **settings):
    """sdk.train on the good inputs with the run store at ``out`` and ``settings`` changed."""
    return sdk.train(classifier() if model is None else model, i.dataset if dataset is None else dataset,
                     **{"num_proc": 2, "store": f"file://{out}", "run_id": "r", **settings})


def transform(i: Inputs, out: str, cols=("features",), **params):
    """KerasModel.transform of the good DataFrame, written as Parquet to ``out``."""
    keras_model = sdk.KerasModel.from_keras(i.model, feature_cols=list(cols), **params)
    keras_model.transform(i.df).write.parquet(out)


def materialize(i: Inputs, out: str, feature_cols=("features",), label_col="label", df=None, **options):
    return sdk.materialize(i.df if df is None else df, out, list(feature_cols), label_col, **options)


def write_notes(path: str) -> str:
    Path(path).write_text("not a model")
    return path


@dataclasses.dataclass(frozen=True)
class Bad:
    """One rejected input: what to call, the error type, and what its message must say."""

    id: str
    call: Callable[[Inputs, str], Any]      # (inputs, output location) -> raises
    error: type
    culprit: str                            # regex: the column, file or setting named
    fix: str                                # regex: how to fix it
    at: str = "out"                         # the output location: "out" (new), "dataset" or "saved" (existing)


CATALOG = [
    # --- data: ETL and materialize ---------------------------------------------------------------
    Bad("missing-label-column", lambda i, o: materialize(i, o, label_col="lable"), SchemaError,
        r"column 'lable' not found", r"Fix: pass one of those names"),
    Bad("string-feature-column", lambda i, o: materialize(i, o, feature_cols=["name"]), SchemaError,
        r"feature column 'name' has type string", r"cast\('double'\)"),
    Bad("image-bytes-not-decoded", lambda i, o: materialize(i, o, feature_cols=["raw"]), SchemaError,
        r"feature column 'raw' has type binary", r"decode_images\(df, 'raw'"),
    Bad("null-labels", lambda i, o: materialize(
        i, o, df=i.df.withColumn("label", F.when(F.col("label") > 0, F.col("label")))), DataError,
        r"column 'label': \d+ row", r"drop_invalid=True"),
    Bad("ragged-arrays", lambda i, o: materialize(
        i, o, df=i.df.withColumn("features", F.when(F.col("label") == 0, F.slice("features", 1, 4))
                                 .otherwise(F.col("features")))), DataError,
        r"column 'features' holds arrays of different lengths \(from 4 to 8\)", r"Fix: pad or truncate"),
    Bad("empty-dataframe", lambda i, o: materialize(i, o, df=i.df.where(F.lit(False))), DataError,
        r"the DataFrame is empty \(0 rows\)", r"Fix: check the input path and any filters"),
    Bad("empty-validation-split", lambda i, o: materialize(i, o, df=i.df.withColumn("v", F.lit(0)), validation="v"),
        DataError, r"split 'validation' would have 0 rows", r"check the values of column 'v'|validation=None"),
    Bad("label-is-also-a-feature", lambda i, o: materialize(i, o, feature_cols=["features", "label"]), ConfigError,
        r"column 'label' is both the label and a feature", r"Fix: remove it from feature_cols"),
    Bad("validation-fraction", lambda i, o: materialize(i, o, validation=1.5), ConfigError,
        r"validation=1\.5", r"a fraction strictly between 0 and 1 \(e\.g\. 0\.2\)"),
    Bad("write-mode", lambda i, o: materialize(i, o, mode="append"), ConfigError,
        r"mode='append'", r"'error' .* or 'overwrite'"),
    Bad("row-group-size", lambda i, o: materialize(i, o, row_group_size_mb=0), ConfigError,
        r"row_group_size_mb=0", r"e\.g\. 16"),
    Bad("compression", lambda i, o: materialize(i, o, compression="lzma"), ConfigError,
        r"compression='lzma'", r"one of none, snappy"),
    Bad("dataset-already-exists", lambda i, o: materialize(i, i.dataset.url), DatasetExistsError,
        r"'file://.*/dataset' already exists", r"mode='overwrite'", at="dataset"),
    Bad("input-path-missing", lambda i, o: etl.read_table(i.spark, i.missing + "/*.csv", "csv"),
        DatasetNotFoundError, r"input path '.*nothing-here/\*\.csv' does not exist", r"check the spelling"),
    # --- training ----------------------------------------------------------------------------------
    Bad("dataset-url-missing", lambda i, o: train(i, o, dataset=f"file://{i.missing}"), DatasetNotFoundError,
        r"no sparkdl_kit dataset at 'file://.*nothing-here'", r"sparkdl_kit\.materialize\(df, url"),
    Bad("model-module-missing", lambda i, o: train(i, o, model="no_such_pkg:build"), ConfigError,
        r"model='no_such_pkg:build': cannot import module 'no_such_pkg'", r"PYTHONPATH, --py-files"),
    Bad("model-function-not-a-model", lambda i, o: train(i, o, model="train_helpers:build_not_a_model"),
        ConfigError, r"'build_not_a_model' returned str, not a tf\.keras\.Model", r"Pass a tf\.keras\.Model"),
    Bad("model-input-shape", lambda i, o: train(i, o, model=mlp((5,), 3)), SchemaError,
        r"feature column 'features' holds values of shape \(8,\).*expects \(5,\)", r"Input\(shape=\(8,\)\)"),
    Bad("one-hot-loss-on-class-ids", lambda i, o: train(i, o, loss="categorical_crossentropy"), SchemaError,
        r"loss='categorical_crossentropy' expects one-hot labels.*label column 'label'",
        r"Use loss='sparse_categorical_crossentropy'"),
    Bad("binary-loss-on-3-classes", lambda i, o: train(i, o, loss="binary_crossentropy"), SchemaError,
        r"loss='binary_crossentropy' is for two classes.*\(3 classes\)", r"Use loss='sparse_categorical_crossentropy'"),
    Bad("too-few-output-units", lambda i, o: train(i, o, model=classifier(classes=2)), SchemaError,
        r"label column 'label'.*model outputs 2 value", r"Dense\(3, activation='softmax'\)"),
    Bad("epochs", lambda i, o: train(i, o, epochs=0), ConfigError, r"epochs=0", r"such as 5"),
    Bad("learning-rate", lambda i, o: train(i, o, learning_rate=-1), ConfigError, r"learning_rate=-1",
        r"such as 0\.001"),
    Bad("lr-scaling", lambda i, o: train(i, o, lr_scaling="sqrt"), ConfigError, r"lr_scaling='sqrt'",
        r"one of linear, none"),
    Bad("unknown-training-setting", lambda i, o: train(i, o, epocks=3), ConfigError,
        r"unknown training setting\(s\): epocks", r"Known settings: .*epochs"),
    Bad("unknown-optimizer", lambda i, o: train(i, o, optimizer="adamm"), ConfigError,
        r"optimizer='adamm': unknown", r"one of adadelta, .*adam, .*sgd"),
    Bad("more-workers-than-slots", lambda i, o: train(i, o, num_proc=3), LaunchError,
        r"num_proc=3 needs 3 Spark tasks.*2 task slot", r"Fix: pass num_proc<=2"),
    Bad("elastic-without-task-retries", lambda i, o: train(i, o, elastic=True), ConfigError,
        r"master 'local\[2\]' runs each task once", r"use master 'local\[N,F\]' with F >= 2"),
    Bad("store-scheme", lambda i, o: train(i, o, store="s3a://bucket/runs"), ConfigError,
        r"store='s3a://bucket/runs'.*scheme 's3a'", r"store='file:///mnt/shared/runs'"),
    Bad("run-id", lambda i, o: train(i, o, run_id="a/b"), ConfigError, r"run_id='a/b'", r"such as 'digits-1'"),
    Bad("run-timeout", lambda i, o: train(i, o, timeout=-5), ConfigError, r"timeout=-5",
        r"Fix: pass e\.g\. timeout=60"),
    Bad("estimator-feature-cols-unset",
        lambda i, o: sdk.KerasEstimator(model=i.model, store=f"file://{o}").fit(i.df),
        ConfigError, r"feature_cols is not set", r"Pass feature_cols=\['col', \.\.\.\]"),
    Bad("estimator-unknown-param", lambda i, o: sdk.KerasEstimator(model=i.model, featureCols=["features"]),
        ConfigError, r"unknown param\(s\) featureCols", r"Known: .*feature_cols"),
    # --- inference ---------------------------------------------------------------------------------
    Bad("transform-missing-column", lambda i, o: transform(i, o, cols=["featurs"]), SchemaError,
        r"column 'featurs' not found", r"Fix: pass one of those names"),
    Bad("transform-string-column", lambda i, o: transform(i, o, cols=["name"]), SchemaError,
        r"feature column 'name' has type string.*input 'features' expects numbers of shape \(8,\)",
        r"Pass a numeric, array or vector column"),
    Bad("transform-scalar-for-array-input", lambda i, o: transform(i, o, cols=["label"]), SchemaError,
        r"feature column 'label' holds one number per row.*expects shape \(8,\)",
        r"Pass the array or vector column the model was trained on"),
    Bad("transform-output-column-taken", lambda i, o: transform(i, o, prediction_col="name"), SchemaError,
        r"output column 'name' already exists", r"choose another name \(prediction_col="),
    Bad("transform-columns-vs-inputs", lambda i, o: transform(i, o, cols=["features", "label"]), SchemaError,
        r"1 input\(s\) but feature_cols names 2 column\(s\) \(features, label\)", r"one column per model input"),
    Bad("handle-invalid", lambda i, o: transform(i, o, handle_invalid="drop"), ConfigError,
        r"handle_invalid='drop'", r"one of error, skip, keep"),
    Bad("inference-batch-size", lambda i, o: transform(i, o, batch_size=0), ConfigError, r"batch_size=0",
        r"such as 1024"),
    Bad("model-path-missing", lambda i, o: sdk.KerasModel.from_keras(i.missing + ".keras", feature_cols=["f"]),
        DatasetNotFoundError, r"model path '.*nothing-here\.keras' does not exist", r"Fix: pass the path of a Keras"),
    Bad("model-file-not-a-model",
        lambda i, o: sdk.KerasModel.from_keras(write_notes(os.path.dirname(o) + "/notes.keras"), feature_cols=["f"]),
        ConfigError, r"model path '.*notes\.keras' holds no Keras model", r"Fix: pass a file saved by model\.save"),
    Bad("probability-of-a-regressor", lambda i, o: sdk.predict_udf(i.model, "probability", task="regressor"),
        ConfigError, r"output='probability', but the model is a regressor", r"Use output='prediction'"),
    Bad("saved-model-exists", lambda i, o: sdk.KerasModel.load(i.saved).save(i.saved), DatasetExistsError,
        r"saved-model already exists", r"write\(\)\.overwrite\(\)\.save\(path\)", at="saved"),
    Bad("saved-model-missing", lambda i, o: sdk.KerasModel.load(i.missing), DatasetNotFoundError,
        r"nothing-here: no saved KerasModel here \(no metadata\.json\)", r"Save one with keras_model\.save\(path\)"),
]


def snapshot(location: Path) -> dict[str, tuple[int, int]]:
    """Every file at ``location`` or in a sibling whose name starts with its name (temporary writes)."""
    found = {}
    for entry in location.parent.iterdir():
        if not entry.name.lstrip(".").startswith(location.name):
            continue
        files = [entry] if entry.is_file() else [p for p in entry.rglob("*") if p.is_file()]
        for f in files:
            stat = f.stat()
            found[str(f)] = (stat.st_size, stat.st_mtime_ns)
    return found


def test_the_catalog_is_large_and_its_ids_are_unique():
    assert len(CATALOG) >= 20
    assert len({case.id for case in CATALOG}) == len(CATALOG)


@pytest.mark.parametrize("case", CATALOG, ids=[case.id for case in CATALOG])
def test_bad_input_is_rejected_naming_the_culprit_and_the_fix(case: Bad, inputs: Inputs, tmp_path):
    location = {"out": tmp_path / "out", "dataset": Path(inputs.dataset.url.replace("file://", "")),
                "saved": Path(inputs.saved)}[case.at]
    before = snapshot(location)
    with pytest.raises(case.error) as raised:
        case.call(inputs, str(location))
    message = str(raised.value)
    assert re.search(case.culprit, message, re.S), f"the culprit ({case.culprit}) is not named in: {message}"
    assert re.search(case.fix, message, re.S), f"the fix ({case.fix}) is not given in: {message}"
    assert snapshot(location) == before, "something was written at the output location"
    if case.at == "out":
        assert not os.path.exists(location)
