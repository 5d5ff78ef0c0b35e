"""Soak: many consecutive small training runs in one Spark session must not leak on the driver.

Runs sdk.train (a small MLP, 2 workers, 1 epoch on a few hundred rows of scikit-learn's digits) --runs
times in one local[2] session, and measures the driver process before the first run, after --warmup runs
(the warm baseline: TensorFlow and Horovod imported, caches filled), and after the last run:

* open file descriptors and OS threads of the driver's Python process,
* its listening TCP sockets (Horovod's and the toolkit's servers must close with each run),
* live child processes (the JVM, Spark's Python daemon and workers; no Horovod worker may remain),
* resident memory (RSS) of the driver's Python process, and of the JVM for reference.

Target: no growth beyond noise between the warm baseline and the end (fds, threads, sockets and child
processes: 0; RSS: a few MB at most, not growing with the number of runs).

    .venv/bin/python bench/bench_soak.py [--runs 30] [--warmup 3] [--rows 512]
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ["PYTHONPATH"] = os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])


def build_model():
    """A small MLP for digits (8x8 pixels, 10 classes)."""
    from sparkdl_kit.train.models import mlp

    return mlp((64,), 10, hidden=(32,))


def snapshot() -> dict[str, float]:
    """Resource figures of this (driver) process and its children."""
    import psutil

    gc.collect()
    me = psutil.Process()
    children = [c for c in me.children(recursive=True) if c.status() != psutil.STATUS_ZOMBIE]
    jvm = [c for c in children if c.name() == "java"]
    return {
        "fds": me.num_fds(),
        "threads": me.num_threads(),
        "python_threads": threading.active_count(),
        "listening": sum(1 for c in me.net_connections(kind="inet") if c.status == psutil.CONN_LISTEN),
        "children": len(children),
        "horovod_workers": sum(1 for c in children if "gloo_exec_fn" in " ".join(c.cmdline())),
        "rss_mb": me.memory_info().rss / 2**20,
        "jvm_rss_mb": sum(c.memory_info().rss for c in jvm) / 2**20,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=30, help="training runs in total (default 30)")
    parser.add_argument("--warmup", type=int, default=3, help="runs before the warm baseline (default 3)")
    parser.add_argument("--rows", type=int, default=512, help="rows of the training data (default 512)")
    args = parser.parse_args()
    if not 0 < args.warmup < args.runs:
        parser.error("expected 0 < --warmup < --runs")

    import pandas as pd
    from sklearn.datasets import load_digits

    import sparkdl_kit as sdk

    spark = sdk.get_session("bench-soak", master="local[2]", conf={"spark.ui.enabled": "false",
                                                                  "spark.sql.shuffle.partitions": "2"})
    work = tempfile.mkdtemp(prefix="sparkdl_kit-soak-")
    d = load_digits()
    pdf = pd.DataFrame({"features": list((d.data / 16.0).astype("float32")), "label": d.target}).head(args.rows)
    ds = sdk.materialize(spark.createDataFrame(pdf), f"file://{work}/ds", feature_cols=["features"],
                         label_col="label", validation=0.0)
    figures = {"start": snapshot()}
    started = time.monotonic()
    for i in range(1, args.runs + 1):
        run_start = time.monotonic()
        sdk.train(build_model, ds, num_proc=2, store=f"file://{work}/runs", run_id=f"soak-{i}", epochs=1,
                  batch_size=32, verbose=False)
        print(f"run {i}/{args.runs}: {time.monotonic() - run_start:.1f} s", flush=True)
        if i == args.warmup:
            figures[f"after {i}"] = snapshot()
    time.sleep(2)  # processes the last run stopped have gone
    figures[f"after {args.runs}"] = snapshot()
    elapsed = time.monotonic() - started

    names = list(figures)
    warm, end = figures[names[1]], figures[names[-1]]
    print(f"\n{args.runs} runs of sdk.train (2 workers, 1 epoch, {args.rows} rows) in {elapsed:.0f} s, "
          f"one local[2] session")
    print(f"{'':16}" + "".join(f"{n:>12}" for n in names) + f"{'growth':>12}{'per run':>10}")
    for key in figures["start"]:
        row = "".join(f"{figures[n][key]:>12.1f}" for n in names)
        growth = end[key] - warm[key]
        print(f"{key:16}{row}{growth:>+12.1f}{growth / (args.runs - args.warmup):>+10.2f}")
    leaks = [k for k in ("fds", "threads", "python_threads", "listening", "horovod_workers")
             if end[k] > warm[k]]
    print("\ngrowth after the warm baseline: " + (", ".join(leaks) if leaks else "none in fds, threads, "
          "listening sockets or Horovod workers") + f"; driver RSS {end['rss_mb'] - warm['rss_mb']:+.1f} MB")
    spark.stop()


if __name__ == "__main__":
    main()
