"""The sharded reader: every row once across ranks, equal steps per rank on uneven files, tf.data output."""

from __future__ import annotations

import numpy as np
import pytest
from pyspark.sql import functions as F

import sparkdl_kit as sdk
from sparkdl_kit.errors import ConfigError


@pytest.fixture(scope="module")
def uneven(spark, tmp_path_factory):
    """Three files of 10, 150 and 500 rows (several row groups in the big one): id, x = [id, -id], y = id % 4."""
    parts = [spark.range(a, b, numPartitions=1) for a, b in ((0, 10), (10, 160), (160, 660))]
    df = parts[0].union(parts[1]).union(parts[2])
    df = df.select(F.array(F.col("id").cast("float"), (-F.col("id")).cast("float")).alias("x"),
                   F.col("id").cast("float").alias("id"), (F.col("id") % 4).alias("y"))
    url = str(tmp_path_factory.mktemp("uneven") / "ds")
    return sdk.materialize(df, url, ["x", "id"], "y", num_shards=3, row_group_size_mb=0.002)


def ids_of(ds, shard, **kw):
    kw = {"batch_size": 16, "shuffle": False, "num_epochs": 1, "drop_remainder": False, **kw}
    with ds.numpy_batches("train", shard=shard, **kw) as it:
        return [int(i) for b in it for i in b["id"]]


def test_files_are_uneven(uneven):
    groups = uneven.info.splits["train"].row_groups
    assert uneven.info.splits["train"].files == 3 and len(groups) >= 3 and max(groups) > 5 * min(groups)


@pytest.mark.parametrize("size", [1, 2, 3])
def test_shards_of_all_ranks_hold_every_row_exactly_once(uneven, size):
    seen = []
    for rank in range(size):
        seen += ids_of(uneven, (rank, size), shuffle=True, seed=5)
    assert sorted(seen) == list(range(660))


def test_equal_steps_per_rank_on_uneven_files(uneven):
    steps = uneven.steps_per_epoch("train", batch_size=16, num_shards=3)
    assert steps == 660 // 48
    shard_rows = [len(ids_of(uneven, (r, 3))) for r in range(3)]
    assert len(set(shard_rows)) > 1          # the shards really are uneven
    for rank in range(3):
        with uneven.numpy_batches("train", batch_size=16, shard=(rank, 3), seed=1, num_epochs=2) as it:
            sizes = [len(b["y"]) for b in it]
        assert sizes == [16] * (2 * steps), rank


def test_endless_stream_keeps_going_past_a_small_shard(uneven):
    with uneven.numpy_batches("train", batch_size=64, shard=(0, 3), seed=2) as it:
        batches = [next(it) for _ in range(30)]            # far more rows than any shard holds
    assert all(len(b["y"]) == 64 for b in batches)


def test_values_match_and_shuffle_is_seeded(uneven):
    def first_ids(seed):
        with uneven.numpy_batches("train", batch_size=32, seed=seed, num_epochs=1) as it:
            batch = next(it)
        np.testing.assert_array_equal(batch["x"], np.stack([batch["id"], -batch["id"]], 1))
        np.testing.assert_array_equal(batch["y"], batch["id"].astype(np.int64) % 4)
        return batch["id"].tolist()

    assert first_ids(11) == first_ids(11)
    assert first_ids(11) != first_ids(12)
    assert first_ids(11) != sorted(first_ids(11))


def test_tf_dataset_yields_features_dict_and_labels(uneven):
    import tensorflow as tf

    with uneven.tf_dataset("train", batch_size=20, shard=(1, 3), seed=3, num_epochs=1) as tfds:
        batches = list(tfds)
        assert tfds.element_spec[0]["x"].shape.as_list() == [20, 2]
    assert len(batches) == uneven.steps_per_epoch("train", 20, 3)
    features, labels = batches[0]
    assert set(features) == {"x", "id"} and labels.dtype == tf.int64
    np.testing.assert_array_equal(features["x"][:, 0].numpy(), features["id"].numpy())


def test_tf_dataset_single_feature_transform_and_endless(spark, tmp_path):
    import tensorflow as tf

    df = spark.range(100).select(F.array(F.col("id").cast("float")).alias("x"), (F.col("id") % 2).alias("y"))
    ds = sdk.materialize(df, str(tmp_path / "ds"), ["x"], "y", num_shards=2)
    with ds.tf_dataset("train", batch_size=8, shard=(0, 2), seed=1,
                       transform_fn=lambda x, y: (x * 2.0, tf.one_hot(y, 2))) as tfds:
        taken = list(tfds.take(40))                         # num_epochs=None: repeats forever
    assert len(taken) == 40
    x, y = taken[0]
    assert x.shape == (8, 1) and y.shape == (8, 2)
    assert float(tf.reduce_max(x)) % 2 == 0


def test_exact_pass_with_a_smaller_last_batch(uneven):
    with uneven.tf_dataset("train", batch_size=100, shuffle=False, num_epochs=1, drop_remainder=False) as tfds:
        sizes = [int(y.shape[0]) for _, y in tfds]
    assert sum(sizes) == 660 and sizes[-1] == 60


def test_more_shards_than_row_groups_stride_rows_and_an_empty_shard_is_refused(spark, tmp_path):
    df = spark.range(10, numPartitions=1).select(F.col("id").cast("float").alias("x"))
    ds = sdk.materialize(df, str(tmp_path / "ds"), ["x"], num_shards=1)
    assert len(ds.info.splits["train"].row_groups) == 1
    seen = []
    for rank in range(4):
        with ds.numpy_batches("train", batch_size=2, shard=(rank, 4), num_epochs=1, drop_remainder=False) as it:
            seen += [int(v) for b in it for v in b["x"]]
    assert sorted(seen) == list(range(10))
    with pytest.raises(ConfigError, match=r"shard 11 of 12 of .* holds no rows"):
        with ds.numpy_batches("train", batch_size=2, shard=(11, 12)) as it:
            next(it)


def test_bad_reader_arguments(uneven):
    with pytest.raises(ConfigError, match=r"split 'test' is not in dataset .*it has: train"):
        uneven.row_count("test")
    with pytest.raises(ConfigError, match=r"shard=\(3, 3\); expected \(rank, size\)"):
        with uneven.tf_dataset(shard=(3, 3)):
            pass
    with pytest.raises(ConfigError, match="batch_size=0"):
        uneven.steps_per_epoch("train", 0)
    with pytest.raises(ConfigError, match="transform_fn="):
        with uneven.tf_dataset(transform_fn="double"):
            pass


def test_batches_are_handed_to_tensorflow_without_a_copy_when_aligned():
    tf = pytest.importorskip("tensorflow")
    from sparkdl_kit.dataset.reader.batching import ALIGNMENT, aligned_empty
    from sparkdl_kit.dataset.reader.tf_data import as_tensor

    owned = aligned_empty((3, 4, 5), np.float32)
    assert owned.ctypes.data % ALIGNMENT == 0 and owned.shape == (3, 4, 5)
    owned[...] = np.arange(60, dtype=np.float32).reshape(3, 4, 5)
    adopted = as_tensor(owned, tf)
    owned[0, 0, 0] = -1.0                      # the tensor reads the array's own buffer
    assert adopted.dtype == tf.float32 and adopted.numpy()[0, 0, 0] == -1.0
    frozen = np.arange(6, dtype=np.int64)
    frozen.flags.writeable = False             # e.g. a view of an Arrow buffer: copied instead
    copied = as_tensor(frozen, tf)
    assert copied.numpy().tolist() == list(range(6))
