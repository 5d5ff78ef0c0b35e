"""Batch inference throughput: KerasModel.transform (mapInArrow) against the limit, a pandas UDF and Horovod.

* limit: a single-process ``model.predict`` of the same rows held in memory, TensorFlow on 2 threads.
* transform: ``KerasModel.transform`` on ``local[2]`` (mapInArrow), reading the rows from Parquet and
  writing every output column to Spark's ``noop`` sink. Target >= 0.7 x the limit, warm.
* pandas UDF: ``withColumn(predict_udf(model, output="probability"))``, the same sink (one output column).
* peer: ``horovod.spark.keras.KerasModel.transform`` (row-by-row ``predict_on_batch``), on --peer-rows rows.
  Target: transform >= 20 x the peer.

Cold = the first action of a fresh SparkContext (Python workers start, import TensorFlow, load the model);
warm = the next actions. Each repeat measures the limit, then starts a new SparkContext (so the limit and
transform see the same load); medians over --repeats.

    .venv/bin/python bench/bench_inference.py [--rows 1000000] [--peer-rows 20000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ["PYTHONPATH"] = os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])

FEATURES, CLASSES = 64, 10


def build_model(width: int):
    import tensorflow as tf

    tf.keras.utils.set_random_seed(0)
    return tf.keras.Sequential([
        tf.keras.layers.Input(shape=(FEATURES,), name="features"),
        tf.keras.layers.Dense(width, activation="relu"),
        tf.keras.layers.Dense(width, activation="relu"),
        tf.keras.layers.Dense(CLASSES, activation="softmax"),
    ])


def session():
    import sparkdl_kit as sdk

    spark = sdk.get_session("bench-inference", master="local[2]", conf={
        "spark.ui.enabled": "false", "spark.driver.memory": "4g", "spark.sql.shuffle.partitions": "2"})
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def write_rows(spark, path: str, rows: int, partitions: int = 8) -> None:
    from pyspark.sql import functions as F

    features = F.array(*[F.rand(seed=i) for i in range(FEATURES)]).cast("array<float>")
    (spark.range(rows, numPartitions=partitions).select(F.col("id"), features.alias("features"))
     .write.mode("overwrite").parquet(path))


def timed(action) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def noop(df) -> None:
    df.write.format("noop").mode("overwrite").save()


def limit_rate(model, path: str) -> float:
    import numpy as np
    import pyarrow.parquet as pq

    col = pq.read_table(path, columns=["features"]).column("features").combine_chunks()
    x = col.flatten().to_numpy().reshape(len(col), FEATURES).astype(np.float32)
    model.predict(x[:10000], batch_size=1024, verbose=0)
    times = [timed(lambda: model.predict(x, batch_size=1024, verbose=0)) for _ in range(3)]
    return len(x) / statistics.median(times)


def engine_runs(model, path: str, rows: int, repeats: int, make_output, warm_actions: int = 2, before=None):
    """Per repeat: ``before()`` (e.g. the limit, so both see the same load), a new SparkContext, then one cold
    and ``warm_actions`` warm actions. Returns (cold, warm) rows/s."""
    cold, warm = [], []
    for _ in range(repeats):
        if before is not None:
            before()
        spark = session()
        out = make_output(spark, spark.read.parquet(path))
        cold.append(rows / timed(lambda: noop(out)))
        warm += [rows / timed(lambda: noop(out)) for _ in range(warm_actions)]
        spark.stop()
    return statistics.median(cold), statistics.median(warm)


def transform_output(model, batch_size):
    import sparkdl_kit as sdk

    def make(spark, df):
        return sdk.KerasModel.from_keras(model, feature_cols=["features"], batch_size=batch_size).transform(df)
    return make


def udf_output(model, batch_size):
    import sparkdl_kit as sdk

    def make(spark, df):
        return df.withColumn("probability", sdk.predict_udf(model, "probability", batch_size=batch_size)("features"))
    return make


def peer_output(model):
    from horovod.spark.keras import KerasModel
    from pyspark.ml.linalg import DenseVector

    def make(spark, df):
        peer = KerasModel(model=model, feature_columns=["features"], label_columns=["label"],
                          _metadata={"label": {"spark_data_type": DenseVector, "shape": CLASSES}},
                          _floatx="float32")
        return peer.transform(df)
    return make


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--peer-rows", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--width", type=int, default=256, help="hidden units of the 2-layer MLP")
    parser.add_argument("--batch-size", type=int, default=1024)
    parser.add_argument("--skip", default="", help="comma-separated: udf, peer")
    args = parser.parse_args(argv)
    skip = set(filter(None, args.skip.split(",")))

    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(2)
    tf.config.threading.set_inter_op_parallelism_threads(2)
    model = build_model(args.width)
    tmp = tempfile.mkdtemp(prefix="bench-inference-")
    path, peer_path = f"file://{tmp}/rows", f"file://{tmp}/peer_rows"
    spark = session()
    write_rows(spark, path, args.rows)
    write_rows(spark, peer_path, args.peer_rows, partitions=2)
    spark.stop()

    result = {"rows": args.rows, "model_params": model.count_params(), "batch_size": args.batch_size}
    limits: list[float] = []
    cold, warm = engine_runs(model, path, args.rows, args.repeats, transform_output(model, args.batch_size),
                             before=lambda: limits.append(limit_rate(model, path.replace("file://", ""))))
    limit = statistics.median(limits)
    result["limit_rows_per_s"] = round(limit)
    result.update(transform_cold=round(cold), transform_warm=round(warm),
                  transform_warm_vs_limit=round(warm / limit, 3), transform_cold_vs_limit=round(cold / limit, 3))
    if "udf" not in skip:
        ucold, uwarm = engine_runs(model, path, args.rows, args.repeats, udf_output(model, args.batch_size))
        result.update(pandas_udf_cold=round(ucold), pandas_udf_warm=round(uwarm),
                      pandas_udf_warm_vs_limit=round(uwarm / limit, 3),
                      transform_vs_pandas_udf_warm=round(warm / uwarm, 2))
    if "peer" not in skip:
        pcold, pwarm = engine_runs(model, peer_path, args.peer_rows, 1, peer_output(model), warm_actions=1)
        result.update(peer_rows=args.peer_rows, peer_cold=round(pcold), peer_warm=round(pwarm),
                      transform_vs_peer_warm=round(warm / pwarm, 1), transform_vs_peer_cold=round(cold / pcold, 1))
    for key, value in result.items():
        print(f"{key:>30}: {value}")
    print(f"transform warm / limit = {warm / limit:.3f}   (target >= 0.7); cold / limit = {cold / limit:.3f}")
    if "peer" not in skip:
        print(f"transform warm / peer  = {warm / pwarm:.1f}   (target >= 20)")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
