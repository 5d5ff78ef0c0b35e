"""A Horovod allreduce across Spark tasks: the smallest job that proves the stack works end to end.

    spark-submit --master local[2] jobs/allreduce.py --num-proc 2
    python jobs/allreduce.py --num-proc 2          # local mode

Each of the N ranks contributes rank + 1; every rank must receive N * (N + 1) / 2.
"""

import argparse
import json
import sys
import time

import sparkdl_kit as sdk


def allreduce_fn():
    """Runs on every Horovod rank: a Gloo allreduce of rank + 1 through TensorFlow."""
    import horovod.tensorflow as hvd
    import tensorflow as tf

    hvd.init()
    total = hvd.allreduce(tf.constant([float(hvd.rank() + 1)]), op=hvd.Sum)
    return {"rank": hvd.rank(), "size": hvd.size(), "sum": float(total.numpy()[0])}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--num-proc", type=int, default=2, help="number of Horovod processes (Spark tasks)")
    parser.add_argument("--master", default=None, help="Spark master; default: local mode, or spark-submit's")
    args = parser.parse_args(argv)
    sdk.log_to_stderr()   # the toolkit's and the workers' lines, on stderr; the JSON summary stays last

    spark = sdk.get_session("sparkdl_kit-allreduce", master=args.master)
    start = time.time()
    results = sdk.run(allreduce_fn, num_proc=args.num_proc, start_timeout=120)
    expected = args.num_proc * (args.num_proc + 1) / 2
    for r in sorted(results, key=lambda r: r["rank"]):
        print(f"rank {r['rank']}/{r['size']}: allreduce(sum of rank+1) = {r['sum']:g}")
    ok = all(r["sum"] == expected for r in results) and len(results) == args.num_proc
    print(json.dumps({"ok": ok, "expected": expected, "results": results,
                      "master": spark.sparkContext.master, "seconds": round(time.time() - start, 1)}))
    spark.stop()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
