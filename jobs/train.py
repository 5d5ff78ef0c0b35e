"""Train a Keras model on a materialized dataset with Horovod workers on Spark.

    spark-submit --master local[2] jobs/train.py --dataset file:///data/digits --model mlp \
        --epochs 5 --batch-size 32 --num-proc 2 --store file:///tmp/runs --run-id digits \
        --output-model file:///tmp/models/digits --metrics-json /tmp/digits-metrics.json

--model is a built-in model (mlp, cnn) or 'package.module:function' returning a tf.keras.Model.
Running again with the same --run-id resumes from the last complete epoch.
"""

import argparse
import json
import sys
import time

import sparkdl_kit as sdk
from sparkdl_kit.train.models import BUILT_IN, built_in


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", required=True, help="URL of a dataset written by jobs/etl.py or materialize()")
    parser.add_argument("--model", default="mlp", help=f"{' | '.join(BUILT_IN)} | module:function (default: mlp)")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=32, help="rows per step on each worker")
    parser.add_argument("--learning-rate", type=float, default=1e-3, help="single-worker rate (scaled by workers)")
    parser.add_argument("--num-proc", type=int, default=None, help="Horovod workers (default: all task slots)")
    parser.add_argument("--store", default="file:///tmp/sparkdl_kit/runs", help="folder URL for runs")
    parser.add_argument("--run-id", default=None, help="run name; an existing run resumes")
    parser.add_argument("--output-model", default=None, help="save the trained KerasModel here (Spark ML format)")
    parser.add_argument("--metrics-json", default=None, help="write the final metrics here as JSON")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--master", default=None, help="Spark master (default: local mode, or spark-submit's)")
    return parser.parse_args(argv)


def model_for(name: str, dataset):
    """A built-in model sized for the dataset, or the 'module:function' spec as given."""
    if name not in BUILT_IN:
        return name
    if len(dataset.feature_cols) != 1 or not dataset.num_classes:
        raise SystemExit(f"--model {name}: built-in models need one feature column and class labels; this "
                         f"dataset has {dataset.feature_cols} and num_classes={dataset.num_classes}. "
                         "Pass --model module:function instead.")
    return built_in(name)(dataset.feature_shapes[dataset.feature_cols[0]], dataset.num_classes)


def main(argv=None) -> int:
    args = parse_args(argv)
    sdk.log_to_stderr()
    spark = sdk.get_session("sparkdl_kit-train", master=args.master)
    start = time.time()
    dataset = sdk.Dataset.load(args.dataset)
    result = sdk.train(model_for(args.model, dataset), dataset, num_proc=args.num_proc, store=args.store,
                       run_id=args.run_id, epochs=args.epochs, batch_size=args.batch_size,
                       learning_rate=args.learning_rate, seed=args.seed)
    final = {k: v[-1] for k, v in result.history.items() if v}
    final.update(run_id=result.run_id, model_path=result.model_path, epochs=len(next(iter(result.history.values()), [])),
                 initial_epoch=result.initial_epoch, seconds=round(time.time() - start, 1))
    if args.output_model:
        model = sdk.KerasModel(result.model, dataset.feature_cols, dataset.label_col, dataset.label_mapping,
                               result.history, result.run_id, result.model_path)
        model.write().overwrite().save(args.output_model)
        final["output_model"] = args.output_model
    if args.metrics_json:
        with open(args.metrics_json, "w", encoding="utf-8") as f:
            json.dump(final, f, indent=2)
    print("final metrics: " + ", ".join(f"{k}={v:.4f}" for k, v in final.items() if isinstance(v, float)))
    print(f"model: {result.model_path}" + (f" (KerasModel saved to {args.output_model})" if args.output_model else ""))
    print(json.dumps(final))
    spark.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
