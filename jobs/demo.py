"""The end-to-end demo: scikit-learn's digits through the ETL, 2 Horovod workers, a saved model and its curve.

    python jobs/demo.py [--num-proc 2] [--epochs 8] [--output /tmp/sparkdl_kit/demo]

Writes <output>/dataset (the materialized dataset), <output>/model (the KerasModel) and
<output>/model/training-curve.png, and prints the validation accuracy.
"""

import argparse
import os
import sys
import time

import sparkdl_kit as sdk
from sparkdl_kit.train.models import mlp


def digits_frame(spark):
    """scikit-learn's 8x8 digits (1797 images, shipped with the package) as a DataFrame of arrays."""
    import pandas as pd
    from sklearn.datasets import load_digits

    digits = load_digits()
    pdf = pd.DataFrame({"features": list((digits.data / 16.0).astype("float32")), "label": digits.target})
    return spark.createDataFrame(pdf)


def plot_history(history: dict, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(9, 3.5))
    for key, ax in (("loss", ax_loss), ("accuracy", ax_acc)):
        for prefix, style in (("", "-"), ("val_", "--")):
            if prefix + key in history:
                ax.plot(range(1, len(history[prefix + key]) + 1), history[prefix + key], style, label=prefix + key)
        ax.set_xlabel("epoch")
        ax.set_title(key)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--num-proc", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--output", default="/tmp/sparkdl_kit/demo")
    args = parser.parse_args(argv)
    sdk.log_to_stderr()
    start = time.time()

    spark = sdk.get_session("sparkdl_kit-demo")
    out = os.path.abspath(args.output)
    dataset = sdk.materialize(digits_frame(spark), f"file://{out}/dataset", feature_cols=["features"],
                              label_col="label", validation=0.2, mode="overwrite")
    print(f"dataset: {dataset.row_count('train')} training rows, {dataset.row_count('validation')} validation rows")

    estimator = sdk.KerasEstimator(model=mlp((64,), 10), feature_cols=["features"], label_col="label",
                                   epochs=args.epochs, batch_size=32, learning_rate=0.002,
                                   num_proc=args.num_proc, store=f"file://{out}/runs")
    model = estimator.fit(dataset)
    model_dir = os.path.join(out, "model")
    model.write().overwrite().save(f"file://{model_dir}")
    plot_history(model.history, os.path.join(model_dir, "training-curve.png"))

    val = model.history.get("val_accuracy", [float("nan")])[-1]
    print(f"validation accuracy after {args.epochs} epochs on {args.num_proc} workers: {val:.4f}")
    print(f"model: {model_dir} (run {model.run_id}); curve: {model_dir}/training-curve.png")
    print(f"demo finished in {time.time() - start:.0f} s")
    spark.stop()
    return 0 if val > 0.8 else 1


if __name__ == "__main__":
    sys.exit(main())
