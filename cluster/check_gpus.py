"""Checks that GPU scheduling reaches the Horovod workers: run it once on a new GPU cluster.

    spark-submit --master spark://host:7077 --properties-file cluster/spark-defaults.gpu.conf \\
        cluster/check_gpus.py --num-proc 4

Starts ``--num-proc`` workers with ``sdk.run``; each reports the GPU addresses Spark assigned to its
task (``sdk.worker_context().gpus``), its ``CUDA_VISIBLE_DEVICES`` and, unless ``--skip-tensorflow``,
the GPUs TensorFlow sees. Prints one line per worker, then a JSON summary as the last line. Exit code 0
when every worker holds at least one GPU, ``CUDA_VISIBLE_DEVICES`` names exactly those GPUs, and no two
workers on one host share a GPU; 1 otherwise, with the reason.
"""

import argparse
import json
import os
import socket
import sys

import sparkdl_kit as sdk


def report_gpus(with_tensorflow: bool) -> dict:
    """Runs on every worker: what it was given, and what TensorFlow makes of it."""
    ctx = sdk.worker_context()
    found = {"rank": ctx.rank, "host": socket.gethostname(), "gpus": list(ctx.gpus),
             "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES")}
    if with_tensorflow:
        import tensorflow as tf

        found["tensorflow_gpus"] = len(tf.config.list_physical_devices("GPU"))
        found["tensorflow_sum"] = float(tf.reduce_sum(tf.ones((4, 4))).numpy())   # runs on GPU 0 or on CPU
    return found


def problems(reports: list) -> list:
    """What is wrong with the workers' reports, as sentences; empty when GPU pinning works."""
    found = []
    seen = {}
    for r in reports:
        if not r["gpus"]:
            found.append(f"rank {r['rank']} on {r['host']} holds no GPU: set spark.executor.resource.gpu.amount, "
                         "spark.task.resource.gpu.amount and a discovery script (cluster/spark-defaults.gpu.conf)")
        elif r["cuda_visible_devices"] != ",".join(r["gpus"]):
            found.append(f"rank {r['rank']}: CUDA_VISIBLE_DEVICES={r['cuda_visible_devices']!r}, expected "
                         f"{','.join(r['gpus'])!r}")
        for gpu in r["gpus"]:
            other = seen.setdefault((r["host"], gpu), r["rank"])
            if other != r["rank"]:
                found.append(f"ranks {other} and {r['rank']} share GPU {gpu} on {r['host']}")
    return found


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--num-proc", type=int, default=None, help="workers to start (default: all task slots)")
    parser.add_argument("--skip-tensorflow", action="store_true", help="do not import TensorFlow on the workers")
    parser.add_argument("--master", default=None, help="Spark master; default: local mode, or spark-submit's")
    args = parser.parse_args(argv)
    sdk.log_to_stderr()
    spark = sdk.get_session("sparkdl_kit-check-gpus", master=args.master)
    reports = sorted(sdk.run(report_gpus, args=(not args.skip_tensorflow,), num_proc=args.num_proc,
                             start_timeout=180), key=lambda r: r["rank"])
    for r in reports:
        tf_part = f", TensorFlow sees {r['tensorflow_gpus']} GPU(s)" if "tensorflow_gpus" in r else ""
        print(f"rank {r['rank']} on {r['host']}: gpus={r['gpus']} "
              f"CUDA_VISIBLE_DEVICES={r['cuda_visible_devices']}{tf_part}")
    wrong = problems(reports)
    for line in wrong:
        print(f"problem: {line}")
    print(json.dumps({"ok": not wrong, "master": spark.sparkContext.master, "workers": reports,
                      "problems": wrong}))
    spark.stop()
    return 0 if not wrong else 1


if __name__ == "__main__":
    sys.exit(main())
