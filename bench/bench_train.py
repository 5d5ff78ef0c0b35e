"""Training overhead, scaling and launch time of sdk.train, against plain Keras and bare Horovod on Spark.

* overhead: steady-state samples/s of the full stack with 1 worker (Spark launch, Petastorm/Parquet
  reader, Horovod optimizer, callbacks) against a plain model.fit on the same rows held in memory,
  both with 1 TensorFlow thread. Target >= 0.9.
* scaling: 2 workers of 1 thread each against 1 worker of 1 thread, same per-worker batch, on a
  compute-bound MLP. Efficiency = samples/s(2) / (2 x samples/s(1)). Target >= 0.9.
* launch: seconds from sdk.train() to the first training step, against a bare horovod.spark.run of an
  empty function on the same session. Target <= 1.2 x.

Steady state = the median epoch after the first. Median of --repeats runs of each.

    .venv/bin/python bench/bench_train.py [--rows 20000] [--epochs 4] [--repeats 3]
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

FEATURES, CLASSES, BATCH, WIDTH = 64, 10, 256, 1024


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


PLAIN = """
import json, sys, time
sys.path.insert(0, {bench!r})
import tensorflow as tf
tf.config.threading.set_intra_op_parallelism_threads(1)
tf.config.threading.set_inter_op_parallelism_threads(1)
from bench_train import build_model, make_data, BATCH
x, y = make_data({rows})
model = build_model()
model.compile(tf.keras.optimizers.legacy.Adam(1e-3), "sparse_categorical_crossentropy", ["accuracy"])
times = []
class T(tf.keras.callbacks.Callback):
    def on_epoch_begin(self, e, logs=None): self.t = time.perf_counter()
    def on_epoch_end(self, e, logs=None): times.append(time.perf_counter() - self.t)
model.fit(x, y, batch_size=BATCH, epochs={epochs}, shuffle=True, verbose=0, callbacks=[T()])
print(json.dumps(times))
"""


def plain_fit(rows: int, epochs: int) -> float:
    code = PLAIN.format(bench=str(REPO / "bench"), rows=rows, epochs=epochs)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env=dict(os.environ, OMP_NUM_THREADS="1"))
    times = json.loads(out.stdout.strip().splitlines()[-1])
    return rows / statistics.median(times[1:])


def ours(dataset, store: str, num_proc: int, epochs: int, rows: int) -> tuple[float, float]:
    import sparkdl_kit as sdk

    start = time.time()
    result = sdk.train(build_model(), dataset, num_proc=num_proc, store=store, epochs=epochs, batch_size=BATCH,
                       lr_scaling="none", callbacks=timing_callbacks, verbose=False)
    per_worker_rows = dataset.steps_per_epoch("train", BATCH, num_proc) * BATCH * num_proc
    samples_per_s = per_worker_rows / statistics.median(result.history["epoch_seconds"][1:])
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
    parser.add_argument("--rows", type=int, default=20000)
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

    plain, one, two, launch_ours, launch_bare = [], [], [], [], []
    for i in range(args.repeats):
        plain.append(plain_fit(rows, args.epochs))
        s1, l1 = ours(dataset, f"file://{tmp}/runs-{i}-1", 1, args.epochs, rows)
        s2, _ = ours(dataset, f"file://{tmp}/runs-{i}-2", 2, args.epochs, rows)
        one.append(s1)
        two.append(s2)
        launch_ours.append(l1)
        launch_bare.append(bare_horovod_launch(1))
    med = statistics.median
    report = {
        "rows": rows, "epochs": args.epochs, "batch_per_worker": BATCH, "repeats": args.repeats,
        "plain_fit_samples_per_s": round(med(plain)), "ours_1_worker_samples_per_s": round(med(one)),
        "ours_2_workers_samples_per_s": round(med(two)),
        "overhead_ratio (target >= 0.9)": round(med(one) / med(plain), 3),
        "scaling_efficiency (target >= 0.9)": round(med(two) / (2 * med(one)), 3),
        "launch_to_first_step_s": round(med(launch_ours), 1), "bare_horovod_launch_s": round(med(launch_bare), 1),
        "launch_ratio (target <= 1.2)": round(med(launch_ours) / med(launch_bare), 2),
    }
    for key, value in report.items():
        print(f"{key:40s} {value}")
    spark.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
