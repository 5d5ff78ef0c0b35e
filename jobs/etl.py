"""ETL job: raw data (CSV, Parquet, JSON or image files) -> a training-ready sparkdl_kit dataset.

    spark-submit --master local[2] jobs/etl.py --input data/iris.csv --format csv \\
        --feature-cols sepal_length,sepal_width,petal_length,petal_width --label-col species \\
        --output file:///tmp/iris_ds --validation 0.2

    spark-submit jobs/etl.py --input 'file:///data/pets/*' --format images --image-size 64x64 \\
        --output file:///tmp/pets_ds --validation 0.2          # labels = the images' folder names

Several scalar feature columns are concatenated into one float32 array column (``--assemble-as``,
default ``features``); one array/vector column is kept as it is. Prints a summary at the end: rows
per split, files, bytes, schema, time. Exit code 2 on bad input, with the reason (the
error type and its message) printed.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time

import sparkdl_kit as sdk
from sparkdl_kit import etl
from sparkdl_kit.errors import SparkDLError

FORMATS = ("csv", "parquet", "json", "images")


def image_size(text: str) -> tuple[int, int]:
    """Parses ``64`` or ``64x48`` (height x width)."""
    try:
        parts = [int(p) for p in text.lower().split("x")]
    except ValueError as e:
        raise argparse.ArgumentTypeError(f"--image-size {text!r}: expected HxW such as 64x64, or one number") from e
    if len(parts) == 1:
        parts *= 2
    if len(parts) != 2 or min(parts) < 1:
        raise argparse.ArgumentTypeError(f"--image-size {text!r}: expected HxW such as 64x64, or one number")
    return parts[0], parts[1]


def validation_arg(text: str) -> float | str | None:
    """A fraction (``0.2``), ``none``, or a 0/1 / boolean column name."""
    if text.lower() in ("none", "0", "0.0"):
        return None
    try:
        return float(text)
    except ValueError:
        return text


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--input", required=True, help="input path, folder or glob (file://, hdfs://, s3a://, gs://)")
    p.add_argument("--format", required=True, choices=FORMATS, help="input format")
    p.add_argument("--output", required=True, help="dataset URL to write")
    p.add_argument("--feature-cols", default=None,
                   help="comma-separated feature columns (default: all but the label; images: the image)")
    p.add_argument("--label-col", default=None, help="label column (images: default 'label', from folder names)")
    p.add_argument("--validation", type=validation_arg, default=None,
                   help="validation fraction (e.g. 0.2), or a 0/1/boolean column name; default: none")
    p.add_argument("--seed", type=int, default=0, help="seed of the validation split")
    p.add_argument("--overwrite", action="store_true", help="replace an existing dataset at --output")
    p.add_argument("--row-group-size-mb", type=float, default=16, help="Parquet row group size (default 16)")
    p.add_argument("--num-shards", type=int, default=None, help="most readers per split (default: Spark parallelism)")
    p.add_argument("--image-size", type=image_size, default=(64, 64), help="HxW of decoded images (default 64x64)")
    p.add_argument("--channels", type=int, default=3, choices=(1, 3, 4), help="image channels (default 3)")
    p.add_argument("--assemble-as", default="features",
                   help="name of the array column that several scalar features are concatenated into")
    p.add_argument("--drop-invalid", action="store_true", help="leave out rows with nulls/NaN (count reported)")
    p.add_argument("--skip-bad-images", action="store_true", help="leave out unreadable images (count reported)")
    p.add_argument("--master", default=None, help="Spark master; default: local mode, or spark-submit's")
    return p


def run(args) -> sdk.Dataset:
    spark = sdk.get_session("sparkdl_kit-etl", master=args.master)
    features = [c.strip() for c in args.feature_cols.split(",") if c.strip()] if args.feature_cols else None
    label = args.label_col
    if args.format == "images":
        df = etl.read_images(spark, args.input, size=args.image_size, channels=args.channels)
        features, label = features or ["image"], label or "label"
    else:
        df = etl.read_table(spark, args.input, args.format)
        if features is None:
            skip = {label, args.validation if isinstance(args.validation, str) else None}
            features = [c for c in df.columns if c not in skip]
    assemble = None
    if args.format != "images" and len(features) > 1:
        from pyspark.sql import types as T

        types = {f.name: f.dataType for f in df.schema.fields}
        if all(isinstance(types.get(c), T.NumericType) for c in features):
            assemble = args.assemble_as
    return sdk.materialize(
        df, args.output, feature_cols=features, label_col=label, validation=args.validation,
        mode="overwrite" if args.overwrite else "error", row_group_size_mb=args.row_group_size_mb,
        num_shards=args.num_shards, seed=args.seed, assemble_as=assemble, drop_invalid=args.drop_invalid,
        skip_bad_images=args.skip_bad_images)


def summary(ds: sdk.Dataset, seconds: float) -> str:
    lines = [f"dataset: {ds.url}"]
    for name in ds.splits:
        s = ds.info.splits[name]
        lines.append(f"  split {name:<10} rows={s.rows:<10} files={s.files:<4} bytes={s.bytes:<12} "
                     f"row_groups={len(s.row_groups)}")
    lines.append("  schema:")
    for col in ds.feature_cols:
        lines.append(f"    feature {col}: {ds.feature_dtypes[col]} {ds.feature_shapes[col]} "
                     f"({ds.info.storage.get(col, '')})")
    if ds.label_col:
        lines.append(f"    label {ds.label_col}: {ds.label_dtype}, num_classes={ds.num_classes}")
        if ds.label_mapping is not None:
            shown = ds.label_mapping[:20]
            more = f" ... ({len(ds.label_mapping)} in all)" if len(ds.label_mapping) > 20 else ""
            lines.append(f"    label mapping (id -> value): {dict(enumerate(shown))}{more}")
    lines.append(f"  dropped: {ds.info.dropped.get('invalid_rows', 0)} invalid row(s), "
                 f"{ds.info.dropped.get('unreadable_images', 0)} unreadable image(s)")
    lines.append(f"  input read by: {ds.info.created.get('input_read_by', 'spark')}")
    lines.append(f"  time: {seconds:.1f} s")
    return "\n".join(lines)


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s: %(message)s")
    start = time.time()
    try:
        ds = run(args)
    except SparkDLError as e:
        print(f"etl: {type(e).__name__}: {e}", file=sys.stderr)
        return 2
    print(summary(ds, time.time() - start))
    return 0


if __name__ == "__main__":
    sys.exit(main())
