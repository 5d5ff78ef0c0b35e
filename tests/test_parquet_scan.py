"""Plain Parquet inputs read by the writing tasks: the same dataset as through Spark, row for row."""

from __future__ import annotations

import json

import numpy as np
import pyarrow.parquet as pq
import pytest
from pyspark.sql import functions as F

import sparkdl_kit as sdk
from sparkdl_kit.dataset.parquet_scan import plain_parquet_files
from sparkdl_kit.errors import DataError
from sparkdl_kit.etl import spark_hash


def test_hash_is_sparks_xxhash64_bit_for_bit(spark):
    rng = np.random.default_rng(0)
    rows = 300
    x = rng.standard_normal((rows, 3)).astype(np.float32)
    x[0, 0], x[1, 1], x[2, 2] = -0.0, 0.0, 3e38
    s = rng.standard_normal(rows).astype(np.float32)
    s[3] = -0.0
    y = rng.integers(-2 ** 62, 2 ** 62, rows)
    df = spark.createDataFrame([(x[i].tolist(), float(s[i]), int(y[i])) for i in range(rows)],
                               "x array<float>, s float, y long")
    for seed in (0, 7, -5, 2 ** 40):
        expected = np.array([r[0] for r in df.select(F.xxhash64(F.lit(seed), "x", "s", "y")).collect()])
        running = spark_hash.hash_floats(x, spark_hash.seeded(seed, rows))
        running = spark_hash.hash_long(y, spark_hash.hash_floats(s, running))
        assert (running.view(np.int64) == expected).all(), seed


@pytest.fixture(scope="module")
def source(spark, tmp_path_factory):
    """A Parquet folder (3 files, several row groups each): id, x array<double> (with -0.0), n int, r double,
    y long, v 0/1, and rows with a NaN, a null element, a null label or a null array among the first ten."""
    rng = np.random.default_rng(3)
    rows = []
    for i in range(3000):
        x = rng.standard_normal(4).round(2).tolist()
        if i % 7 == 0:
            x[1] = -0.0
        rows.append((i, x, int(rng.integers(-50, 50)), float(rng.random()), int(i % 5), int(i % 4 == 0)))
    rows[3] = (3, [1.0, float("nan"), 2.0, 3.0], 1, 0.5, 1, 0)
    rows[5] = (5, [1.0, None, 2.0, 3.0], 1, 0.5, 1, 0)
    rows[8] = (8, [1.0, 2.0, 2.0, 3.0], 1, 0.5, None, 0)
    rows[9] = (9, None, 1, 0.5, 1, 0)
    df = spark.createDataFrame(rows, "id long, x array<double>, n int, r double, y long, v int")
    path = tmp_path_factory.mktemp("scan") / "in"
    df.repartition(3).write.option("parquet.block.size", 16384).parquet(str(path))
    return "file://" + str(path)


def read_split(ds, split):
    root = ds.url[len("file://"):]
    table = pq.read_table(f"{root}/{split}")
    return sorted(tuple(json.dumps(v) for v in row.values()) for row in table.to_pylist())


@pytest.mark.parametrize("kwargs", [
    {"feature_cols": ["id", "x", "n"], "label_col": "y", "validation": 0.25, "drop_invalid": True},
    {"feature_cols": ["x", "id"], "label_col": "r", "validation": "v", "drop_invalid": True, "seed": 9},
    {"feature_cols": ["id", "x"], "label_col": "y", "validation": 0.3, "seed": 2 ** 40, "drop_invalid": True},
    {"feature_cols": ["n", "x", "id"], "label_col": "y", "validation": 0.2, "assemble_as": "features",
     "drop_invalid": True},
], ids=["fraction", "column-regression", "long-seed", "assembled"])
def test_the_tasks_write_what_spark_writes(spark, source, tmp_path, kwargs):
    plain = spark.read.parquet(source)
    assert len(plain_parquet_files(plain)) == 3
    direct = sdk.materialize(plain, str(tmp_path / "direct"), num_shards=2, **kwargs)
    through_spark = sdk.materialize(plain.repartition(3), str(tmp_path / "spark"), num_shards=2, **kwargs)
    assert direct.info.created["input_read_by"] == "pyarrow"
    assert through_spark.info.created["input_read_by"] == "spark"
    invalid = 4 if kwargs["label_col"] == "y" else 3   # the NaN, the null element, the null array (null label)
    assert direct.info.dropped == through_spark.info.dropped == {"invalid_rows": invalid, "unreadable_images": 0}
    for split in ("train", "validation"):
        assert direct.row_count(split) == through_spark.row_count(split) > 100
        assert read_split(direct, split) == read_split(through_spark, split)
    assert direct.feature_shapes == through_spark.feature_shapes and direct.num_classes == through_spark.num_classes
    schemas = [pq.read_schema(sorted((tmp_path / name / "train").iterdir())[0]) for name in ("direct", "spark")]
    assert schemas[0].equals(schemas[1]) and schemas[0].names == direct.feature_cols + [direct.label_col]


def test_bad_rows_fail_as_through_spark_and_nothing_is_written(spark, source, tmp_path):
    out = tmp_path / "bad"
    with pytest.raises(DataError, match=r"column 'x': 3 row\(s\); column 'y': 1 row"):
        sdk.materialize(spark.read.parquet(source), str(out), ["x"], "y", validation=0.2)
    assert not out.exists() and not list(tmp_path.iterdir())


def test_ragged_arrays_fail_as_through_spark(spark, tmp_path):
    spark.createDataFrame([([1.0, 2.0], 0), ([1.0], 1)] * 4, "x array<double>, y long") \
        .write.parquet(str(tmp_path / "in"))
    with pytest.raises(DataError, match=r"column 'x' holds arrays of different lengths \(from 1 to 2\)"):
        sdk.materialize(spark.read.parquet(str(tmp_path / "in")), str(tmp_path / "out"), ["x"], "y", num_shards=1)
    assert not (tmp_path / "out").exists()


def test_only_plain_scans_are_read_directly(spark, source, tmp_path):
    plain = spark.read.parquet(source)
    assert plain_parquet_files(plain.select("x", "y")) == plain_parquet_files(plain)
    for changed in (plain.where(F.col("id") > 3), plain.repartition(2), plain.withColumn("x2", F.col("n") * 2),
                    plain.select(F.col("x").alias("features"))):
        assert plain_parquet_files(changed) is None
    spark.createDataFrame([(1, 0), (2, 1)], "a int, part int").write.partitionBy("part").parquet(str(tmp_path / "p"))
    assert plain_parquet_files(spark.read.parquet(str(tmp_path / "p"))) is None
    spark.createDataFrame([(1, 0)], "a int, b int").write.csv(str(tmp_path / "c"))
    assert plain_parquet_files(spark.read.csv(str(tmp_path / "c"))) is None
