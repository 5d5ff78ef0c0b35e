"""ETL conversions through materialize() and back: scalars, arrays, vectors, labels, splits, images."""

from __future__ import annotations

import numpy as np
import pytest
from pyspark.ml.linalg import Vectors
from pyspark.sql import functions as F

import sparkdl_kit as sdk
from sparkdl_kit import etl


def read_all(ds, split="train"):
    """Every row of a split, in file order, as {column: array}."""
    with ds.numpy_batches(split, batch_size=64, shuffle=False, num_epochs=1, drop_remainder=False) as it:
        parts = list(it)
    return {c: np.concatenate([p[c] for p in parts]) for c in parts[0]}


def test_scalars_arrays_and_vectors_read_back_equal(spark, tmp_path):
    rows = [(i, float(i) / 2, [i, i + 1, i + 2],
             Vectors.dense([i, -i]) if i % 2 else Vectors.sparse(2, {1: float(i)}), f"c{i % 3}") for i in range(40)]
    df = spark.createDataFrame(rows, ["id", "s", "a", "v", "label"])
    ds = sdk.materialize(df, str(tmp_path / "ds"), feature_cols=["id", "s", "a", "v"], label_col="label", num_shards=2)
    assert ds.feature_shapes == {"id": (), "s": (), "a": (3,), "v": (2,)}
    assert ds.feature_dtypes == {"id": "float32", "s": "float32", "a": "float32", "v": "float32"}
    assert ds.label_mapping == ["c0", "c1", "c2"] and ds.num_classes == 3
    got = read_all(ds)
    order = np.argsort(got["id"])
    ids = got["id"][order].astype(int)
    assert list(ids) == list(range(40))
    np.testing.assert_array_equal(got["s"][order], ids / 2)
    np.testing.assert_array_equal(got["a"][order], np.stack([ids, ids + 1, ids + 2], 1).astype(np.float32))
    expected_v = np.array([[i, -i] if i % 2 else [0, i] for i in ids], np.float32)
    np.testing.assert_array_equal(got["v"][order], expected_v)
    assert got["label"].dtype == np.int64
    assert [ds.label_mapping[k] for k in got["label"][order]] == [f"c{i % 3}" for i in ids]


def test_assemble_concatenates_scalars_and_arrays_in_order(spark, tmp_path):
    df = spark.createDataFrame([(1.0, [2.0, 3.0], 4, 0), (5.0, [6.0, 7.0], 8, 1)], ["a", "b", "c", "y"])
    ds = sdk.materialize(df, str(tmp_path / "ds"), ["a", "b", "c"], "y", assemble_as="features", num_shards=1)
    assert ds.feature_cols == ["features"] and ds.feature_shapes == {"features": (4,)}
    got = read_all(ds)
    assert sorted(map(tuple, got["features"].tolist())) == [(1, 2, 3, 4), (5, 6, 7, 8)]
    assert ds.num_classes == 2 and ds.label_mapping is None


def test_integer_and_float_labels(spark):
    df = spark.createDataFrame([(1.0, 3, 0.5), (2.0, 7, 1.5)], ["x", "k", "r"])
    ints = etl.prepare(df, ["x"], "k", cache=False)
    assert ints.label_dtype == "int64" and ints.num_classes == 8 and ints.label_mapping is None
    indexed = etl.prepare(df, ["x"], "k", index_labels=True, cache=False)
    assert indexed.label_mapping == [3, 7] and indexed.num_classes == 2
    assert sorted(r["k"] for r in indexed.df.collect()) == [0, 1]
    reg = etl.prepare(df, ["x"], "r", cache=False)
    assert reg.label_dtype == "float32" and reg.num_classes is None


def test_fraction_split_is_deterministic_across_partitionings(spark):
    df = spark.range(400).select(F.col("id").cast("double").alias("x"), (F.col("id") % 2).alias("y"))

    def validation_ids(frame):
        prep = etl.prepare(frame, ["x"], "y", validation=0.25, seed=3, cache=False)
        ids = sorted(r["x"] for r in prep.df.where(F.col(etl.SPLIT_COL)).collect())
        return prep, ids

    prep, first = validation_ids(df)
    _, second = validation_ids(df.repartition(7))
    assert first == second
    assert 60 < len(first) < 140 and prep.split_rows == {"train": 400 - len(first), "validation": len(first)}
    _, other_seed = validation_ids(df)
    assert other_seed == first
    assert validation_ids(df.repartition(3))[1] == first
    reseeded = etl.prepare(df, ["x"], "y", validation=0.25, seed=4, cache=False)
    assert sorted(r["x"] for r in reseeded.df.where(F.col(etl.SPLIT_COL)).collect()) != first


@pytest.mark.parametrize("kind", ["int", "boolean"])
def test_split_from_an_existing_column(spark, tmp_path, kind):
    df = spark.range(30).select(F.col("id").cast("float").alias("x"), (F.col("id") % 3 == 0).cast(kind).alias("is_val"),
                                (F.col("id") % 2).alias("y"))
    ds = sdk.materialize(df, str(tmp_path / "ds"), ["x"], "y", validation="is_val", num_shards=1)
    assert ds.splits == ["train", "validation"]
    assert ds.row_count("train") == 20 and ds.row_count("validation") == 10
    assert sorted(read_all(ds, "validation")["x"].astype(int)) == list(range(0, 30, 3))


def make_images(root, classes=("cat", "dog"), per_class=3, size=(20, 12)):
    from PIL import Image

    arrays = {}
    rng = np.random.default_rng(0)
    for label in classes:
        (root / label).mkdir(parents=True)
        for i in range(per_class):
            arr = rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)
            ext = "png" if i % 2 == 0 else "jpg"
            path = root / label / f"{i}.{ext}"
            Image.fromarray(arr).save(path)
            arrays[str(path)] = arr
    return arrays


def test_images_decoded_and_resized_in_spark_tasks(spark, tmp_path):
    arrays = make_images(tmp_path / "imgs")
    df = etl.read_images(spark, str(tmp_path / "imgs"), size=(8, 6))
    ds = sdk.materialize(df, str(tmp_path / "ds"), ["image"], "label", num_shards=1)
    assert ds.feature_shapes == {"image": (8, 6, 3)} and ds.feature_dtypes == {"image": "uint8"}
    assert ds.label_mapping == ["cat", "dog"] and ds.row_count("train") == 6
    got = read_all(ds)
    assert got["image"].shape == (6, 8, 6, 3) and got["image"].dtype == np.uint8
    assert sorted(got["label"].tolist()) == [0, 0, 0, 1, 1, 1]
    # the PNG (lossless) images match a local decode + resize exactly
    from PIL import Image

    expected = sorted(np.asarray(Image.fromarray(a).resize((6, 8), Image.BILINEAR)).tobytes()
                      for p, a in arrays.items() if p.endswith(".png"))
    assert set(expected) <= {img.tobytes() for img in got["image"]}


def test_image_paths_column_and_grayscale(spark, tmp_path):
    arrays = make_images(tmp_path / "imgs", classes=("a",), per_class=2)
    df = spark.createDataFrame([(p, i) for i, p in enumerate(sorted(arrays))], ["file", "y"])
    decoded = etl.decode_images(df, "file", size=4, channels=1, output="pixels")
    ds = sdk.materialize(decoded, str(tmp_path / "ds"), ["pixels"], "y", num_shards=1)
    assert ds.feature_shapes == {"pixels": (4, 4, 1)}
    assert read_all(ds)["pixels"].shape == (2, 4, 4, 1)


def test_unreadable_image_is_named_or_skipped_with_a_count(spark, tmp_path):
    make_images(tmp_path / "imgs", per_class=2)
    bad = tmp_path / "imgs" / "cat" / "broken.png"
    bad.write_bytes(b"not a png at all")
    df = etl.read_images(spark, str(tmp_path / "imgs"), size=8)
    out = tmp_path / "ds"
    with pytest.raises(sdk.errors.DataError, match="broken.png") as e:
        sdk.materialize(df, str(out), ["image"], "label", num_shards=1)
    assert "skip_bad_images=True" in str(e.value) and not out.exists()
    ds = sdk.materialize(df, str(out), ["image"], "label", skip_bad_images=True, num_shards=1)
    assert ds.row_count("train") == 4 and ds.info.dropped["unreadable_images"] == 1


def test_row_checks_counted_per_batch_add_up_like_the_check_pass():
    import pyarrow as pa

    from sparkdl_kit.etl.row_checks import CheckLayout, count_and_filter, merge_stats

    layout = CheckLayout(data_cols=("x", "y"), split_col="v", bad_col="bad", bad_image_col="img",
                         check_cols=("c0",), error_cols=("err",), size_cols=("n0",), label_col="y")
    first = pa.table({"x": [[1.0], [2.0], [3.0]], "y": [4, 9, 2], "v": [False, True, False],
                      "bad": [False, False, True], "img": [False, False, False], "c0": [False, False, True],
                      "err": pa.array([None, None, None], pa.string()), "n0": [1, 1, -1]})
    second = pa.table({"x": [[5.0, 6.0], [7.0]], "y": [0, 1], "v": [True, False], "bad": [False, False],
                       "img": [True, False], "c0": [False, False], "err": ["/x/a.png: broken", None],
                       "n0": [2, 1]})
    kept, part1 = count_and_filter(first, layout)
    assert kept.column_names == ["x", "y", "v"] and kept.column("y").to_pylist() == [4, 9]
    kept, part2 = count_and_filter(second, layout)
    assert kept.column("x").to_pylist() == [[7.0]]
    stats = merge_stats([part1, part2], layout)
    assert {k: stats[k] for k in ("total", "kept", "kept_validation", "bad_rows", "bad_only_rows", "bad0")} == \
        {"total": 5, "kept": 3, "kept_validation": 1, "bad_rows": 1, "bad_only_rows": 1, "bad0": 1}
    assert (stats["imgerr0"], stats["imgfirst0"]) == (1, "/x/a.png: broken")
    assert (stats["min0"], stats["max0"]) == (1, 1)          # sizes of valid rows only
    assert (stats["label_min"], stats["label_max"]) == (1, 9)
    assert merge_stats([], layout)["min0"] is None and merge_stats([], layout)["total"] == 0


def test_materialize_checks_in_the_write_and_indexes_string_labels(spark, tmp_path):
    df = spark.createDataFrame([([1.0, 2.0], "b"), ([3.0, 4.0], "a"), ([5.0, 6.0], "c")] * 5, ["x", "y"])
    ds = sdk.materialize(df.repartition(3), str(tmp_path / "ds"), ["x"], "y", num_shards=1)
    assert ds.label_mapping == ["a", "b", "c"] and ds.feature_shapes == {"x": (2,)}
    got = spark.read.parquet(ds.split_url("train")).collect()
    assert sorted((r.x[0], r.y) for r in got) == sorted([(1.0, 1), (3.0, 0), (5.0, 2)] * 5)
