"""materialize() output: layout, metadata, Dataset.load, and Parquet that Petastorm and Spark read as is."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from pyspark.sql import functions as F

import sparkdl_kit as sdk
from support import REPO, python_env


@pytest.fixture(scope="module")
def digits(spark, tmp_path_factory):
    from sklearn.datasets import load_digits

    data = load_digits()
    rows = [(x.astype(float).tolist(), str(t)) for x, t in zip(data.data[:300], data.target[:300])]
    df = spark.createDataFrame(rows, ["pixels", "digit"])
    url = "file://" + str(tmp_path_factory.mktemp("digits") / "ds")
    return sdk.materialize(df, url, ["pixels"], "digit", validation=0.2, seed=1, num_shards=2), data


def test_layout_and_metadata(digits):
    ds, _ = digits
    root = ds.url[len("file://"):]
    meta = json.loads(open(f"{root}/_sparkdl_dataset.json").read())
    assert meta["format"] == "sparkdl_kit.dataset" and meta["feature_shapes"] == {"pixels": [64]}
    assert meta["label_mapping"] == [str(i) for i in range(10)] and meta["num_classes"] == 10
    train, val = meta["splits"]["train"], meta["splits"]["validation"]
    assert train["rows"] + val["rows"] == 300 and 30 < val["rows"] < 90
    assert sum(train["row_groups"]) == train["rows"] and len(train["row_groups"]) >= 2
    assert train["files"] >= 2 and train["bytes"] > 0


def test_load_reads_the_same_description(digits):
    ds, _ = digits
    again = sdk.Dataset.load(ds.url)
    assert again.feature_cols == ["pixels"] and again.label_col == "digit"
    assert again.feature_shapes == {"pixels": (64,)} and again.feature_dtypes == {"pixels": "float32"}
    assert again.splits == ["train", "validation"] and again.num_classes == 10
    assert again.row_count("train") == ds.row_count("train")
    assert again.steps_per_epoch("train", 32, 2) == ds.row_count("train") // 64
    assert "pixels" in repr(again)


def test_values_equal_the_source(digits):
    ds, data = digits
    by_row = {tuple(x.astype(np.float32)): str(t) for x, t in zip(data.data[:300], data.target[:300])}
    seen = 0
    for split in ds.splits:
        with ds.numpy_batches(split, batch_size=50, shuffle=False, num_epochs=1, drop_remainder=False) as it:
            for batch in it:
                for x, y in zip(batch["pixels"], batch["digit"]):
                    assert by_row[tuple(x)] == ds.label_mapping[y]
                    seen += 1
    assert seen == 300


def test_petastorm_and_spark_read_the_splits_as_they_are(digits, spark):
    from petastorm import make_batch_reader

    ds, _ = digits
    rows = 0
    # the 'dummy' pool reads in this thread: Petastorm 0.13.1's thread pool can end an epoch early
    with make_batch_reader(ds.split_url("train"), num_epochs=1, reader_pool_type="dummy") as reader:
        for batch in reader:
            assert batch.pixels.shape[1:] == (64,)
            rows += len(batch.digit)
    assert rows == ds.row_count("train")
    assert spark.read.parquet(ds.split_url("validation")).count() == ds.row_count("validation")


def test_local_paths_and_urls_name_the_same_dataset(spark, tmp_path):
    df = spark.range(6).select(F.col("id").cast("float").alias("x"))
    sdk.materialize(df, str(tmp_path / "a"), ["x"], num_shards=1)
    assert sdk.Dataset.load("file://" + str(tmp_path / "a") + "/").url == "file://" + str(tmp_path / "a")


def test_import_stays_light():
    code = ("import sys, sparkdl_kit; "
            "print(sorted(m for m in ('tensorflow', 'petastorm', 'horovod') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, env=python_env())
    assert out.stdout.strip() == "[]", out.stderr
