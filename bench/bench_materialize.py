"""ETL throughput: sparkdl_kit.materialize() against pyarrow.parquet.write_table from one process.

Input: a Parquet file of ROWS rows x 64 float32 features (list<float>) + an int64 label.

* limit: pyarrow.parquet.write_table of the same table (already in memory) from one process;
* ours:  spark.read.parquet(input) -> sdk.materialize(..., validation=0.2) on local[*]: reading,
         the checks pass (nulls/NaN/lengths/split counts), the hashed split, and the atomic write
         of two splits plus metadata.

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
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    import pyarrow.parquet as pq

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

        def run_ours():
            return sdk.materialize(df, "file://" + str(tmp / "ours"), ["x"], "y", validation=0.2, mode="overwrite")

        def run_limit(i):
            pq.write_table(table, tmp / f"limit{i}.parquet", compression="none", row_group_size=65536)

        ds = run_ours()                   # warms up the JVM
        limit_times, ours_times = [], []
        for i in range(args.repeats):     # interleaved, so both see the same load
            os.sync()                     # neither pays for writing back the other's dirty pages
            start = time.perf_counter()
            run_limit(i)
            limit_times.append(time.perf_counter() - start)
            os.sync()
            start = time.perf_counter()
            ds = run_ours()
            ours_times.append(time.perf_counter() - start)
        assert ds.row_count("train") + ds.row_count("validation") == args.rows
        limit, ours = statistics.median(limit_times), statistics.median(ours_times)
        print(f"materialize benchmark: {args.rows:,} rows x {FEATURES} float32 + int64 label, "
              f"{os.cpu_count()} cores, median of {args.repeats}")
        print(f"  limit  pyarrow write_table (1 process)   {args.rows / limit:>12,.0f} rows/s  ({limit:.2f} s)")
        print(f"  ours   sdk.materialize (Spark local[*])  {args.rows / ours:>12,.0f} rows/s  ({ours:.2f} s)")
        print(f"  ours / limit = {limit / ours:.2f}   (target >= 0.5)")
        spark.stop()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
