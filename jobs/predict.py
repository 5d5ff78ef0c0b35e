"""Apply a trained Keras model to a table or a folder of images; write the predictions.

    spark-submit --master local[2] jobs/predict.py --model file:///tmp/models/digits \
        --input file:///data/digits.parquet --format parquet --output file:///tmp/digits-predictions

    spark-submit jobs/predict.py --model /models/pets.keras --input /data/pets --format images \
        --output /tmp/pets.csv --output-format csv

--model is a folder saved by KerasModel.save / jobs/train.py --output-model (its feature columns are
known), or a plain Keras file (.keras, .h5) or SavedModel folder (then pass --feature-cols; for
--format images the feature column defaults to the files' bytes). A summary (rows, time, rows/s)
is printed at the end; exit code 2 means bad input, with the reason on stderr.
"""

import argparse
import os
import sys
import time

import sparkdl_kit as sdk
from sparkdl_kit.errors import SparkDLError

FORMATS = ("parquet", "csv", "json", "images")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="KerasModel folder, .keras/.h5 file or SavedModel folder")
    parser.add_argument("--input", required=True, help="input path or URL (a folder of images for --format images)")
    parser.add_argument("--format", default="parquet", choices=FORMATS, help="input format (default: parquet)")
    parser.add_argument("--output", required=True, help="output folder path or URL")
    parser.add_argument("--output-format", default="parquet", choices=("parquet", "csv"),
                        help="parquet (default) or csv (array columns written as JSON text)")
    parser.add_argument("--feature-cols", default=None,
                        help="comma-separated feature columns, one per model input (default: the saved model's)")
    parser.add_argument("--keep-cols", default=None,
                        help="comma-separated input columns to write next to the predictions (default: all; "
                             "'path' for images)")
    parser.add_argument("--prediction-col", default="prediction")
    parser.add_argument("--probability-col", default="probability", help="'' to leave probabilities out")
    parser.add_argument("--batch-size", type=int, default=1024, help="rows per model call")
    parser.add_argument("--handle-invalid", default="error", choices=("error", "skip", "keep"),
                        help="rows with null features or unreadable images (default: error)")
    parser.add_argument("--overwrite", action="store_true", help="replace --output if it exists")
    parser.add_argument("--master", default=None, help="Spark master (default: local mode, or spark-submit's)")
    return parser.parse_args(argv)


def _cols(text):
    return [c.strip() for c in text.split(",") if c.strip()] if text else None


def read_input(spark, args):
    from sparkdl_kit.etl import check_input_exists, read_table

    if args.format != "images":
        return read_table(spark, args.input, args.format)
    check_input_exists(spark, args.input)
    return (spark.read.format("binaryFile").option("recursiveFileLookup", "true")
            .option("pathGlobFilter", "*.{png,PNG,jpg,JPG,jpeg,JPEG}").load(args.input).select("path", "content"))


def load_model(args):
    from sparkdl_kit.inference.model_ref import SAVED_KERAS_MODEL_MARKER, local_model_path

    params = dict(prediction_col=args.prediction_col, probability_col=args.probability_col,
                  batch_size=args.batch_size, handle_invalid=args.handle_invalid)
    feature_cols = _cols(args.feature_cols)
    if os.path.isfile(os.path.join(local_model_path(args.model), SAVED_KERAS_MODEL_MARKER)):
        model = sdk.KerasModel.load(args.model).setParams(**params)
        if feature_cols:
            model.setParams(input_cols=feature_cols)
        return model
    if not feature_cols:
        if args.format != "images":
            raise SystemExit(f"--model {args.model} is a plain Keras model: pass --feature-cols naming the "
                             "column(s) that feed its input(s).")
        feature_cols = ["content"]
    return sdk.KerasModel.from_keras(args.model, feature_cols=feature_cols, **params)


def write_output(df, args):
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    if args.output_format == "csv":
        for field in df.schema.fields:
            if isinstance(field.dataType, (T.ArrayType, T.StructType, T.MapType)):
                df = df.withColumn(field.name, F.to_json(F.col(field.name)))
            elif isinstance(field.dataType, T.BinaryType):
                df = df.withColumn(field.name, F.base64(F.col(field.name)))
    writer = df.write.mode("overwrite" if args.overwrite else "errorifexists")
    if args.output_format == "csv":
        writer.option("header", "true").csv(args.output)
    else:
        writer.parquet(args.output)


def _task_error(e: Exception) -> str | None:
    """The toolkit error raised inside a Spark task, from the text of the exception Spark raised."""
    text = str(e)
    for line in text.splitlines():
        for name in ("DataError", "SchemaError", "ConfigError"):
            if f"sparkdl_kit.errors.{name}:" in line or line.startswith(f"{name}:"):
                return line.strip()
    return None


def main(argv=None) -> int:
    args = parse_args(argv)
    sdk.log_to_stderr()
    spark = sdk.get_session("sparkdl_kit-predict", master=args.master)
    start = time.time()
    try:
        model = load_model(args)
        df = read_input(spark, args)
        keep = _cols(args.keep_cols) or (["path"] if args.format == "images" else None)
        out = model.transform(df)
        if keep is not None:
            missing = [c for c in keep if c not in df.columns]
            if missing:
                raise sdk.errors.SchemaError(f"--keep-cols: column(s) {', '.join(missing)} not in the input; it has: "
                                             f"{', '.join(df.columns)}.")
            out = out.select(*keep, *[c for c in out.columns if c not in df.columns])
        write_output(out, args)
    except SparkDLError as e:
        print(f"error: {type(e).__name__}: {e}", file=sys.stderr)
        return 2
    except Exception as e:     # a toolkit error raised inside a task arrives wrapped by Spark
        reason = _task_error(e)
        if reason is None:
            raise
        print(f"error: {reason}", file=sys.stderr)
        return 2
    seconds = time.time() - start
    reader = spark.read.option("header", "true").csv if args.output_format == "csv" else spark.read.parquet
    rows = reader(args.output).count()
    invalid = model.invalid_rows
    print(f"predictions: {args.output} ({args.output_format})")
    if invalid is not None:
        print(f"invalid rows ({args.handle_invalid}): {invalid}")
    print(f"summary: rows={rows} time={seconds:.1f}s rows/s={rows / max(seconds, 1e-9):.0f}")
    spark.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
