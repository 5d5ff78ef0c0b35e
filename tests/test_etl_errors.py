"""Bad input: a typed error naming the column/file/setting, raised before anything is written."""

from __future__ import annotations

import math

import pytest
from pyspark.sql import functions as F

import sparkdl_kit as sdk
from sparkdl_kit import etl
from sparkdl_kit.errors import (ConfigError, DataError, DatasetExistsError, DatasetNotFoundError, SchemaError)


def nothing_written(out):
    """Neither the dataset nor a temporary sibling of it exists."""
    return not out.exists() and not list(out.parent.glob(out.name + ".__tmp-*"))


@pytest.fixture(scope="module")
def good(spark):
    return spark.createDataFrame([([1.0, 2.0], 0.5, "a"), ([3.0, 4.0], 1.5, "b")] * 4, ["x", "s", "y"])


def test_missing_column(good, tmp_path):
    out = tmp_path / "ds"
    with pytest.raises(SchemaError, match=r"column 'lable' not found; the DataFrame has: x, s, y"):
        sdk.materialize(good, str(out), ["x"], "lable")
    with pytest.raises(SchemaError, match="column 'z' not found"):
        sdk.materialize(good, str(out), ["x", "z"], "y")
    assert nothing_written(out)


def test_unsupported_column_types(spark, tmp_path):
    df = spark.createDataFrame([("t", {"k": 1}, [1.0], b"\x00")], ["text", "m", "x", "raw"])
    out = tmp_path / "ds"
    with pytest.raises(SchemaError, match=r"feature column 'text' has type string.*expected a numeric scalar"):
        sdk.materialize(df, str(out), ["text"])
    with pytest.raises(SchemaError, match=r"feature column 'm' has type map<string,bigint>"):
        sdk.materialize(df, str(out), ["m"])
    with pytest.raises(SchemaError, match=r"'raw' has type binary.*decode_images"):
        sdk.materialize(df, str(out), ["raw"])
    with pytest.raises(SchemaError, match=r"label column 'x' has type array<double>"):
        sdk.materialize(df.withColumn("f", F.lit(1.0)), str(out), ["f"], "x")
    assert nothing_written(out)


def test_nulls_and_nan_raise_by_default_and_drop_with_a_count(spark, tmp_path):
    df = spark.createDataFrame([([1.0, 2.0], 0.5, "a"), ([1.0, math.nan], 0.5, "a"), (None, 1.0, "b"),
                                ([1.0, 2.0], math.nan, "b"), ([5.0, 6.0], 2.0, None), ([7.0, 8.0], 3.0, "b")],
                               ["x", "s", "y"])
    out = tmp_path / "ds"
    with pytest.raises(DataError, match=r"column 'x': 2 row\(s\); column 's': 1 row\(s\); column 'y': 1 row") as e:
        sdk.materialize(df, str(out), ["x", "s"], "y")
    assert "drop_invalid=True" in str(e.value)
    assert nothing_written(out)
    ds = sdk.materialize(df, str(out), ["x", "s"], "y", drop_invalid=True, num_shards=1)
    assert ds.row_count("train") == 2 and ds.info.dropped["invalid_rows"] == 4


def test_ragged_arrays(spark, tmp_path):
    df = spark.createDataFrame([([1.0, 2.0], 0), ([1.0, 2.0, 3.0], 1)], ["x", "y"])
    out = tmp_path / "ds"
    with pytest.raises(DataError, match=r"column 'x' holds arrays of different lengths \(from 2 to 3\)"):
        sdk.materialize(df, str(out), ["x"], "y")
    assert nothing_written(out)


def test_empty_dataframe(good, tmp_path):
    out = tmp_path / "ds"
    with pytest.raises(DataError, match=r"the DataFrame is empty \(0 rows\)"):
        sdk.materialize(good.where(F.lit(False)), str(out), ["x"], "y")
    assert nothing_written(out)


def test_split_with_zero_rows(good, tmp_path):
    out = tmp_path / "ds"
    df = good.withColumn("v", F.lit(0))
    with pytest.raises(DataError, match=r"split 'validation' would have 0 rows \(of 8\).*column 'v'"):
        sdk.materialize(df, str(out), ["x"], "y", validation="v")
    with pytest.raises(DataError, match=r"split 'train' would have 0 rows"):
        sdk.materialize(df.withColumn("v", F.lit(True)), str(out), ["x"], "y", validation="v")
    with pytest.raises(DataError, match=r"null or NaN values found: column 'v'.*must hold 0/1"):
        sdk.materialize(df.withColumn("v", F.lit(2)), str(out), ["x"], "y", validation="v")
    assert nothing_written(out)


def test_output_exists_without_overwrite_keeps_the_dataset(good, tmp_path):
    out = tmp_path / "ds"
    first = sdk.materialize(good, str(out), ["x"], "y", num_shards=1)
    before = sorted(p.name for p in (out / "train").iterdir())
    with pytest.raises(DatasetExistsError, match=r"already exists.*mode='overwrite'"):
        sdk.materialize(good.limit(2), str(out), ["x"], "y")
    assert sorted(p.name for p in (out / "train").iterdir()) == before
    assert sdk.Dataset.load(str(out)).row_count("train") == first.row_count("train") == 8
    second = sdk.materialize(good.limit(2), str(out), ["x", "s"], "y", mode="overwrite", num_shards=1)
    assert second.row_count("train") == 2 and sdk.Dataset.load(str(out)).feature_cols == ["x", "s"]
    assert not list(tmp_path.glob("ds.__tmp-*"))


def test_bad_settings(good, tmp_path):
    out = tmp_path / "ds"
    with pytest.raises(ConfigError, match="mode='append'"):
        sdk.materialize(good, str(out), ["x"], "y", mode="append")
    with pytest.raises(ConfigError, match="row_group_size_mb=0"):
        sdk.materialize(good, str(out), ["x"], "y", row_group_size_mb=0)
    with pytest.raises(ConfigError, match="validation=1.5"):
        sdk.materialize(good, str(out), ["x"], "y", validation=1.5)
    with pytest.raises(ConfigError, match="both the label and a feature"):
        sdk.materialize(good, str(out), ["x", "y"], "y")
    assert nothing_written(out)


def test_input_path_that_does_not_exist(spark, tmp_path):
    missing = str(tmp_path / "nope")
    with pytest.raises(DatasetNotFoundError, match=r"input path '.*nope/\*.csv' does not exist"):
        etl.read_table(spark, missing + "/*.csv", "csv")
    with pytest.raises(DatasetNotFoundError, match=r"input path '.*nope' does not exist"):
        etl.read_images(spark, missing, size=8)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetNotFoundError, match="no image files"):
        etl.read_images(spark, str(tmp_path / "empty"), size=8)
    with pytest.raises(DatasetNotFoundError, match="no sparkdl_kit dataset at"):
        sdk.Dataset.load(missing)
