"""Training overhead, scaling and launch time of sdk.train, against plain Keras and bare Horovod on Spark.

* overhead: steady-state samples/s of the full stack with 1 worker (Spark launch, Petastorm/Parquet
  reader, Horovod optimizer, callbacks) against a plain model.fit on the same rows held in memory,
  both with 1 TensorFlow thread. Target >= 0.9.
* scaling: 2 workers of 1 thread each against 1 worker of 1 thread, same per-worker batch, on a
  compute-bound MLP. Efficiency = samples/s(2) / (2 x samples/s(1)). Target >= 0.9.
* launch: seconds from sdk.train() to the first training step, against a bare horovod.spark.run of an
  empty function on the same session. Target <= 1.2 x.

Steady state = the median epoch after the first. Median of --repeats runs of each.

    .venv/bin/python bench/bench_train.py [--rows 60000] [--batch 1024] [--epochs 4] [--repeats 3]

With a small per-worker batch (--batch 256) each step's allreduce of the 2.2M weights (8.8 MB over
Gloo on loopback) costs about half as much as its compute, and the scaling figure measures that.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ["PYTHONPATH"] = os.pathsep.join([str(REPO / "bench"), str(REPO), os.environ.get("PYTHONPATH", "")])

FEATURES, CLASSES, WIDTH = 64, 10, 1024


def build_model():
    """A compute-bound MLP: ~2.2M weights, so each step is dominated by matrix products."""
    import tensorflow as tf

    tf.keras.utils.set_random_seed(0)
    return tf.keras.Sequential([
        tf.keras.layers.Input(shape=(FEATURES,), name="features"),
        tf.keras.layers.Dense(WIDTH, activation="relu"),
        tf.keras.layers.Dense(WIDTH, activation="relu"),
        tf.keras.layers.Dense(CLASSES, activation="softmax"),
    ])


def timing_callbacks():
    """Records each epoch's seconds and the wall time of the first step into the Keras logs."""
    import tensorflow as tf

    class EpochTimer(tf.keras.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            if not hasattr(self, "first_step"):
                self.first_step = time.time()

        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            logs["epoch_seconds"] = time.perf_counter() - self.start
            logs["first_step_time"] = self.first_step

    return [EpochTimer()]


def make_data(rows: int):
    import numpy as np

    rng = np.random.default_rng(0)
    x = rng.random((rows, FEATURES), dtype=np.float32)
    y = (x[:, :CLASSES].argmax(axis=1)).astype("int64")
    return x, y


def _single_thread_tf():
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    return tf


class _EpochSeconds:
    """A Keras callback factory that appends each epoch's seconds to a list."""

    @staticmethod
    def make(times: list):
        import tensorflow as tf

        class Timer(tf.keras.callbacks.Callback):
            def on_epoch_begin(self, epoch, logs=None):
                self.start = time.perf_counter()

            def on_epoch_end(self, epoch, logs=None):
                times.append(time.perf_counter() - self.start)

        return Timer()


def _plain_fit_child(rows: int, epochs: int, batch: int) -> None:
    tf = _single_thread_tf()
    x, y = make_data(rows)
    model = build_model()
    model.compile(tf.keras.optimizers.legacy.Adam(1e-3), "sparse_categorical_crossentropy", ["accuracy"])
    times: list = []
    model.fit(x, y, batch_size=batch, epochs=epochs, shuffle=True, verbose=0, callbacks=[_EpochSeconds.make(times)])
    sys.stdout.write(json.dumps(times) + "\n")


def plain_fit(rows: int, epochs: int, batch: int) -> float:
    """samples/s of model.fit on in-memory rows, 1 TensorFlow thread, in a fresh process."""
    code = f"import bench_train as b; b._plain_fit_child({rows}, {epochs}, {batch})"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env=dict(os.environ, OMP_NUM_THREADS="1"))
    times = json.loads(out.stdout.strip().splitlines()[-1])
    return rows // batch * batch / statistics.median(times[1:])


def _bare_horovod_worker(rows: int, epochs: int, batch: int) -> list:
    import horovod.tensorflow.keras as hvd

    tf = _single_thread_tf()
    hvd.init()
    x, y = make_data(rows)
    x, y = x[hvd.rank()::hvd.size()], y[hvd.rank()::hvd.size()]
    model = build_model()
    model.compile(hvd.DistributedOptimizer(tf.keras.optimizers.legacy.Adam(1e-3)),
                  "sparse_categorical_crossentropy", ["accuracy"])
    times: list = []
    steps = rows // (batch * hvd.size())
    model.fit(x, y, batch_size=batch, steps_per_epoch=steps, epochs=epochs, verbose=0,
              callbacks=[hvd.callbacks.BroadcastGlobalVariablesCallback(0), _EpochSeconds.make(times)])
    return times


def bare_horovod_fit(rows: int, epochs: int, batch: int, num_proc: int) -> float:
    """samples/s of plain Horovod + Keras on in-memory shards (no Parquet, no reader): the same work, by hand."""
    import horovod.spark

    times = horovod.spark.run(_bare_horovod_worker, args=(rows, epochs, batch), num_proc=num_proc,
                              use_gloo=True, verbose=0)
    return rows // (batch * num_proc) * batch * num_proc / statistics.median(times[0][1:])


def ours(dataset, store: str, num_proc: int, epochs: int, batch: int) -> tuple[float, float]:
    """(samples/s, seconds from sdk.train() to the first training step) of the full stack."""
    import sparkdl_kit as sdk

    start = time.time()
    result = sdk.train(build_model(), dataset, num_proc=num_proc, store=store, epochs=epochs, batch_size=batch,
                       lr_scaling="none", callbacks=timing_callbacks, verbose=False)
    per_epoch_rows = dataset.steps_per_epoch("train", batch, num_proc) * batch * num_proc
    samples_per_s = per_epoch_rows / statistics.median(result.history["epoch_seconds"][1:])
    return samples_per_s, result.history["first_step_time"][0] - start


def bare_horovod_launch(num_proc: int) -> float:
    import horovod.spark

    start = time.time()
    horovod.spark.run(_empty, num_proc=num_proc, use_gloo=True, verbose=0)
    return time.time() - start


def _empty():
    return None


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=60000)
    parser.add_argument("--batch", type=int, default=1024, help="rows per step per worker")
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)

    import pandas as pd

    import sparkdl_kit as sdk

    spark = sdk.get_session("bench-train", master="local[2]", conf={"spark.ui.enabled": "false"})
    spark.sparkContext.setLogLevel("ERROR")
    tmp = tempfile.mkdtemp(prefix="bench-train-")
    x, y = make_data(args.rows)
    df = spark.createDataFrame(pd.DataFrame({"features": list(x), "label": y}))
    dataset = sdk.materialize(df, f"file://{tmp}/ds", feature_cols=["features"], label_col="label", validation=0.0)
    rows = dataset.row_count("train")

    plain, one, two, bare2, launch_ours, launch_bare = [], [], [], [], [], []
    for i in range(args.repeats):
        plain.append(plain_fit(rows, args.epochs, args.batch))
        s1, l1 = ours(dataset, f"file://{tmp}/runs-{i}-1", 1, args.epochs, args.batch)
        s2, _ = ours(dataset, f"file://{tmp}/runs-{i}-2", 2, args.epochs, args.batch)
        one.append(s1)
        two.append(s2)
        bare2.append(bare_horovod_fit(rows, args.epochs, args.batch, 2))
        launch_ours.append(l1)
        launch_bare.append(bare_horovod_launch(1))
    med = statistics.median
    report = {
        "rows": rows, "epochs": args.epochs, "batch_per_worker": args.batch, "repeats": args.repeats,
        "plain_fit_samples_per_s": round(med(plain)), "ours_1_worker_samples_per_s": round(med(one)),
        "ours_2_workers_samples_per_s": round(med(two)),
        "bare_horovod_2_workers_samples_per_s": round(med(bare2)),
        "overhead_ratio (target >= 0.9)": round(med(one) / med(plain), 3),
        "scaling_efficiency (target >= 0.9)": round(med(two) / (2 * med(one)), 3),
        "bare_horovod_scaling (same, by hand)": round(med(bare2) / (2 * med(plain)), 3),
        "ours_2_vs_bare_horovod_2": round(med(two) / med(bare2), 3),
        "launch_to_first_step_s": round(med(launch_ours), 1), "bare_horovod_launch_s": round(med(launch_bare), 1),
        "launch_ratio (target <= 1.2)": round(med(launch_ours) / med(launch_bare), 2),
    }
    for key, value in report.items():
        print(f"{key:40s} {value}")
    spark.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
