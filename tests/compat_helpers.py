"""Shared pieces of the compat tests: the digits data, the model, the native baseline, worker functions.

Module-level so that Horovod workers and Spark tasks import them by name (tests/ is on their path).
"""

from __future__ import annotations

import atexit
import shutil
import tempfile

import numpy as np

EPOCHS, BATCH, LR, SEED = 15, 32, 0.002, 0
_CACHE: dict = {}


def digits_split():
    """scikit-learn's digits (features scaled to [0, 1]), split 75/25 with a fixed seed: x, y, x_test, y_test."""
    if "split" not in _CACHE:
        from sklearn.datasets import load_digits
        from sklearn.model_selection import train_test_split

        d = load_digits()
        x = (d.data / 16.0).astype("float32")
        _CACHE["split"] = train_test_split(x, d.target, test_size=0.25, random_state=0, stratify=d.target)
    x, x_test, y, y_test = _CACHE["split"]
    return x, y, x_test, y_test


def build_mlp():
    """The model every program trains: the toolkit's MLP (64 -> 64 -> 32 -> 10), seeded."""
    import tensorflow as tf

    from sparkdl_kit.train.models import mlp

    tf.keras.utils.set_random_seed(SEED)
    return mlp((64,), 10)


def frames(spark):
    """(train_df, test_df) with ``features`` (array<float>) and ``label`` (bigint) columns."""
    import pandas as pd

    x, y, x_test, y_test = digits_split()
    train = spark.createDataFrame(pd.DataFrame({"features": list(x), "label": y}))
    test = spark.createDataFrame(pd.DataFrame({"features": list(x_test), "label": y_test}))
    return train, test


def scratch_dir() -> str:
    """A folder for the whole test process, removed when it exits."""
    if "dir" not in _CACHE:
        _CACHE["dir"] = tempfile.mkdtemp(prefix="sparkdl_kit-compat-")
        atexit.register(shutil.rmtree, _CACHE["dir"], True)
    return _CACHE["dir"]


def native_baseline(spark):
    """Our native KerasEstimator on the same data, seed and settings: (test accuracy, fitted KerasModel).

    Computed once per test process and shared by the compat test files.
    """
    if "native" not in _CACHE:
        import sparkdl_kit as sdk

        train, test = frames(spark)
        est = sdk.KerasEstimator(model="compat_helpers:build_mlp", feature_cols=["features"], label_col="label",
                                 epochs=EPOCHS, batch_size=BATCH, learning_rate=LR, num_proc=2, seed=SEED,
                                 validation=0.1, store=f"file://{scratch_dir()}/native", verbose=False)
        model = est.fit(train)
        _CACHE["native"] = (accuracy(model.transform(test)), model)
    return _CACHE["native"]


def accuracy(df, prediction_col: str = "prediction", label_col: str = "label") -> float:
    """The fraction of rows whose prediction equals the label."""
    rows = df.select(label_col, prediction_col).collect()
    return float(np.mean([float(r[0]) == float(r[1]) for r in rows]))


def train_hvd(learning_rate: float, epochs: int, batch_size: int):
    """A HorovodRunner program as Databricks documents it: each rank loads its shard, trains with
    hvd.DistributedOptimizer, rank 0's result (the weights) goes back to the driver."""
    import horovod.tensorflow.keras as hvd
    import tensorflow as tf

    hvd.init()
    x, y, _, _ = digits_split()
    per_rank = len(x) // hvd.size()                 # equal shards: every rank runs the same number of steps
    x = x[hvd.rank() * per_rank:(hvd.rank() + 1) * per_rank]
    y = y[hvd.rank() * per_rank:(hvd.rank() + 1) * per_rank]
    model = build_mlp()
    optimizer = hvd.DistributedOptimizer(tf.keras.optimizers.legacy.Adam(learning_rate * hvd.size()))
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    callbacks = [hvd.callbacks.BroadcastGlobalVariablesCallback(0), hvd.callbacks.MetricAverageCallback()]
    model.fit(x, y, batch_size=batch_size, epochs=epochs, callbacks=callbacks, verbose=0, shuffle=True)
    return {"rank": hvd.rank(), "size": hvd.size(), "weights": model.get_weights()}


def fail_on_rank_1():
    import horovod.tensorflow as hvd

    hvd.init()
    if hvd.rank() == 1:
        raise ValueError("rank 1 gives up on purpose")
    return hvd.rank()


def tfos_main(args, ctx):
    """A TensorFlowOnSpark map_fun in the style of its Keras MNIST example (InputMode.SPARK), with Horovod
    for the allreduce: ``args.mode`` "train" trains from the feed and worker 0 saves the model; "inference"
    loads it and returns (label, prediction) pairs."""
    import horovod.tensorflow.keras as hvd
    import tensorflow as tf

    from sparkdl_kit.compat.tfos import TFNode

    hvd.init()
    tf_feed = TFNode.DataFeed(ctx.mgr, train_mode=args["mode"] == "train")
    if args["mode"] == "train":
        def rdd_generator():
            while not tf_feed.should_stop():
                batch = tf_feed.next_batch(args["batch_size"])
                if len(batch) > 0:
                    yield np.stack([b[0] for b in batch]), np.array([b[1] for b in batch])

        ds = tf.data.Dataset.from_generator(rdd_generator, output_signature=(
            tf.TensorSpec((None, 64), tf.float32), tf.TensorSpec((None,), tf.int64)))
        model = build_mlp()
        optimizer = hvd.DistributedOptimizer(tf.keras.optimizers.legacy.Adam(args["learning_rate"] * ctx.num_workers))
        model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        model.fit(ds, epochs=args["epochs"], steps_per_epoch=args["steps_per_epoch"], verbose=0,
                  callbacks=[hvd.callbacks.BroadcastGlobalVariablesCallback(0)])
        if ctx.worker_num == 0:
            model.save(args["export_dir"])
    else:
        model = tf.keras.models.load_model(args["export_dir"], compile=False)
        while not tf_feed.should_stop():
            batch = tf_feed.next_batch(args["batch_size"])
            if len(batch) > 0:
                predictions = model.predict(np.stack([b[0] for b in batch]), verbose=0).argmax(axis=1)
                tf_feed.batch_results([(int(b[1]), int(p)) for b, p in zip(batch, predictions)])


def tfos_describe_ctx(args, ctx):
    """An InputMode.TENSORFLOW map_fun that writes what its ctx says to ``<args>/worker-<n>.json``."""
    import json
    import os

    fields = {k: getattr(ctx, k) for k in ("worker_num", "num_workers", "task_index", "job_name", "executor_id",
                                          "log_dir")}
    fields["mgr"] = ctx.mgr
    with open(os.path.join(args, f"worker-{ctx.worker_num}.json"), "w") as f:
        json.dump(fields, f)
