"""ETL throughput: sparkdl_kit.materialize() against pyarrow.parquet.write_table from one process.

Input: a Parquet file of ROWS rows x 64 float32 features (list<float>) + an int64 label.

* limit: pyarrow.parquet.write_table of the same table (already in memory) from one process;
* ours:  spark.read.parquet(input) -> sdk.materialize(..., validation=0.2) on local[*]: reading,
         the checks (nulls/NaN/lengths/split counts), the hashed split, and the atomic write of two
         splits plus metadata. A plain Parquet scan is read by the writing tasks with pyarrow;
* spark: the same DataFrame with a computed column (``y + 0``), so Spark reads the rows and hands
         them to the tasks as Arrow batches: the path of every other input.

Usage:
    .venv/bin/python bench/bench_materialize.py                 # 1M rows
    .venv/bin/python bench/bench_materialize.py --rows 100000   # quick
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

FEATURES = 64


def make_table(rows: int):
    import pyarrow as pa

    rng = np.random.default_rng(0)
    x = rng.standard_normal((rows, FEATURES), dtype=np.float32)
    offsets = pa.array(np.arange(0, (rows + 1) * FEATURES, FEATURES, dtype=np.int32))
    return pa.table({"x": pa.ListArray.from_arrays(offsets, pa.array(x.ravel())),
                     "y": pa.array(rng.integers(0, 10, rows))})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    import pyarrow.parquet as pq
    from pyspark.sql import functions as F

    import sparkdl_kit as sdk

    tmp = Path(tempfile.mkdtemp(prefix="bench_materialize_"))
    try:
        table = make_table(args.rows)
        source = tmp / "input.parquet"
        pq.write_table(table, source, compression="none", row_group_size=65536)
        spark = sdk.get_session("bench_materialize", conf={"spark.ui.enabled": "false",
                                                           "spark.ui.showConsoleProgress": "false",
                                                           "spark.driver.memory": "4g"})
        spark.sparkContext.setLogLevel("ERROR")
        df = spark.read.parquet("file://" + str(source))
        computed = df.withColumn("y", F.col("y") + 0)

        def run_ours(frame=df):
            return sdk.materialize(frame, "file://" + str(tmp / "ours"), ["x"], "y", validation=0.2,
                                   mode="overwrite")

        def run_limit(i):
            pq.write_table(table, tmp / f"limit{i}.parquet", compression="none", row_group_size=65536)

        ds = run_ours()                   # warms up the JVM
        assert ds.info.created["input_read_by"] == "pyarrow"
        assert run_ours(computed).info.created["input_read_by"] == "spark"
        limit_times, ours_times, spark_times = [], [], []
        for i in range(args.repeats):     # interleaved, so all see the same load
            for times, run in ((limit_times, lambda: run_limit(i)), (ours_times, run_ours),
                               (spark_times, lambda: run_ours(computed))):
                os.sync()                 # none pays for writing back another's dirty pages
                start = time.perf_counter()
                ds = run()
                times.append(time.perf_counter() - start)
        assert ds.row_count("train") + ds.row_count("validation") == args.rows
        limit, ours = statistics.median(limit_times), statistics.median(ours_times)
        through_spark = statistics.median(spark_times)
        print(f"materialize benchmark: {args.rows:,} rows x {FEATURES} float32 + int64 label, "
              f"{os.cpu_count()} cores, median of {args.repeats}")
        print(f"  limit  pyarrow write_table (1 process)   {args.rows / limit:>12,.0f} rows/s  ({limit:.2f} s)")
        print(f"  ours   sdk.materialize (Spark local[*])  {args.rows / ours:>12,.0f} rows/s  ({ours:.2f} s)")
        print(f"  spark  sdk.materialize, rows via Spark   {args.rows / through_spark:>12,.0f} rows/s  "
              f"({through_spark:.2f} s)")
        print(f"  ours / limit = {limit / ours:.2f}   (target >= 0.5); via Spark / limit = {limit / through_spark:.2f}")
        spark.stop()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
