"""One call from a raw DataFrame to training-ready columns, checked in a single pass over the data.

:func:`prepare` converts the features and the label, assigns each row to a split, and checks
everything (nulls, NaN, ragged arrays, unreadable images, empty splits) before anything is
written. :func:`sparkdl_kit.materialize` calls it; it is public for users who want the converted
DataFrame itself.

Example:
    >>> from sparkdl_kit.etl import prepare
    >>> prep = prepare(df, ["features"], "label", validation=0.2, seed=1)    # doctest: +SKIP
    >>> prep.split_rows, prep.label_mapping                                  # doctest: +SKIP
    ({'train': 812, 'validation': 188}, ['cat', 'dog'])
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from sparkdl_kit.errors import ConfigError, DataError
from sparkdl_kit.etl import arrow_stage
from sparkdl_kit.etl.columns import ARRAY, IMAGE, assemble, feature_spec, invalid_expr
from sparkdl_kit.etl.images import ERROR_PREFIX, error_column
from sparkdl_kit.etl.labels import CLASS_IDS, indexed, label_spec
from sparkdl_kit.etl.row_checks import CheckLayout
from sparkdl_kit.etl.split import VALIDATION, split_spec

logger = logging.getLogger(__name__)

#: Name of the boolean column of the prepared DataFrame that marks validation rows.
SPLIT_COL = "__sparkdl_is_validation__"
_SIZE = "__sparkdl_size__"
_BAD = "__sparkdl_bad__"
_BAD_IMAGE = "__sparkdl_bad_image__"
_CHECK = "__sparkdl_check__"


@dataclass
class Prepared:
    """A converted, checked DataFrame and what the checks learned.

    Attributes:
        df: the feature columns, the label column (if any) and :data:`SPLIT_COL`; invalid rows
            already dropped when that was asked for.
        feature_cols: the feature column names, in order.
        label_col: the label column name, or ``None``.
        feature_shapes: per feature column, the shape of one row (``()`` for scalars).
        feature_dtypes: per feature column, the numpy dtype name (float32 or uint8).
        label_dtype: int64 (class ids) or float32 (regression), or ``None``.
        label_mapping: the original label of each class id, or ``None`` when labels were not indexed.
        num_classes: the number of classes, or ``None`` (regression, or no label).
        split_rows: rows per split name.
        dropped_invalid: rows left out because of nulls/NaN (``drop_invalid=True``).
        dropped_images: rows left out because their image could not be decoded (``skip_bad_images=True``).
    """

    df: object
    feature_cols: list[str]
    label_col: str | None
    feature_shapes: dict[str, tuple]
    feature_dtypes: dict[str, str]
    label_dtype: str | None
    label_mapping: list | None
    num_classes: int | None
    split_rows: dict[str, int]
    dropped_invalid: int = 0
    dropped_images: int = 0
    source: dict = field(default_factory=dict)


def _names(df, feature_cols, label_col, validation) -> list[str]:
    if isinstance(feature_cols, str):
        feature_cols = [feature_cols]
    if feature_cols is None:
        skip = {label_col, validation if isinstance(validation, str) else None, "path"}
        feature_cols = [c for c in df.columns if c not in skip and not c.startswith(ERROR_PREFIX)]
    feature_cols = list(feature_cols)
    if not feature_cols:
        raise ConfigError("feature_cols is empty; expected at least one feature column name.")
    dupes = sorted({c for c in feature_cols if feature_cols.count(c) > 1})
    if dupes:
        raise ConfigError(f"feature_cols lists {dupes} more than once; expected each column once.")
    if label_col is not None and label_col in feature_cols:
        raise ConfigError(f"column '{label_col}' is both the label and a feature; expected it in one role. "
                          "Fix: remove it from feature_cols.")
    return feature_cols


def prepare(df, feature_cols: list[str] | str | None = None, label_col: str | None = None,
            validation: float | str | None = None, seed: int = 0, assemble_as: str | None = None,
            drop_invalid: bool = False, skip_bad_images: bool = False, index_labels: bool | None = None,
            cache: bool = True) -> Prepared:
    """Converts and checks ``df`` for training; see :func:`sparkdl_kit.materialize` for the arguments.

    Args:
        df: the input DataFrame.
        feature_cols: feature column names (default: every column but the label, the split column
            and ``path``).
        label_col: the label column, or ``None``.
        validation: ``None``, a fraction in (0, 1), or a 0/1 / boolean column name.
        seed: the seed of the fraction split.
        assemble_as: concatenate all (scalar/array/vector) features into one float32 array column
            of this name.
        drop_invalid: leave out rows with nulls/NaN in features or label instead of raising.
        skip_bad_images: leave out rows whose image could not be decoded instead of raising.
        index_labels: see :func:`sparkdl_kit.etl.labels.label_spec`.
        cache: persist the converted rows (memory and disk) so the check pass and the write read
            the input once; call ``prepared.df.unpersist()`` when done.

    Raises:
        SchemaError: a missing column or an unsupported type.
        DataError: an empty DataFrame, nulls/NaN, ragged arrays, unreadable images, an empty split.
        ConfigError: inconsistent arguments.
    """
    from pyspark import StorageLevel

    staged = _stage(df, feature_cols, label_col, validation, seed, assemble_as, index_labels)
    stage = staged.stage.persist(StorageLevel.MEMORY_AND_DISK) if cache else staged.stage
    stats = _scan(stage, staged.checks, staged.images, staged.sizes, staged.label)
    return _finish(stage, stats, staged.specs, staged.label, staged.split, staged.sizes, staged.images,
                   drop_invalid, skip_bad_images, validation)


@dataclass
class _Staged:
    """The converted columns with one flag column per check, before any Spark job (``parts``: the
    feature specs before ``assemble_as`` joined them)."""

    stage: object
    specs: list
    label: object
    split: object
    checks: list
    sizes: list
    images: list
    parts: list


def _stage(df, feature_cols, label_col, validation, seed, assemble_as, index_labels) -> _Staged:
    from pyspark.sql import functions as F

    names = _names(df, feature_cols, label_col, validation)
    specs = parts = [feature_spec(df, c) for c in names]
    if assemble_as:
        if assemble_as == label_col:
            raise ConfigError(f"assemble_as='{assemble_as}' is also the label column; pick another name.")
        specs = [assemble(specs, assemble_as)]
    label = label_spec(df, label_col, index_labels) if label_col is not None else None

    images = [s.name for s in specs if s.kind == IMAGE]
    sizes = [(src, expr) for s in specs for src, expr in s.sizes]
    cols = [s.expr.alias(s.name) for s in specs]
    cols += [expr.alias(f"{_SIZE}{i}") for i, (_, expr) in enumerate(sizes)]
    if label is not None:
        cols.append(label.raw.alias(label.name))
    if isinstance(validation, str) and validation not in [s.name for s in specs] + [label_col]:
        cols.append(F.col(validation))
    for name in images:
        err = error_column(name)
        cols.append(F.col(err) if err in df.columns else F.lit(None).cast("string").alias(err))
    stage = df.select(*cols)

    split = split_spec(stage, validation, seed, [F.col(s.name) for s in specs]
                       + ([F.col(label.name)] if label else []))
    checks = [(s.name, invalid_expr(s) & F.col(error_column(s.name)).isNull() if s.kind == IMAGE
               else invalid_expr(s)) for s in specs]
    if label is not None:
        checks.append((label.name, F.col(label.name).isNull() | (F.isnan(F.col(label.name))
                                                                 if label.dtype == "float32" else F.lit(False))))
    if split.invalid is not None:
        checks.append((validation, split.invalid))
    bad_image = F.lit(False)
    for name in images:
        bad_image = bad_image | F.col(error_column(name)).isNotNull()
    bad = F.lit(False)
    for _, expr in checks:
        bad = bad | expr
    is_val = split.is_validation if split.is_validation is not None else F.lit(False)
    stage = stage.select("*", bad.alias(_BAD), bad_image.alias(_BAD_IMAGE),
                         F.coalesce(is_val, F.lit(False)).alias(SPLIT_COL))
    return _Staged(stage, specs, label, split, checks, sizes, images, parts)


@dataclass
class WritePlan:
    """What :func:`sparkdl_kit.materialize` needs to check and write in one pass.

    Attributes:
        df: the converted columns, :data:`SPLIT_COL` and the check columns of ``layout``.
        layout: the column names the writing tasks count and filter by.
        feature_dtypes: per feature column, the numpy dtype name.
        has_label: the data has a label column.
        split_names: the split names the rows go to.
        guess_shapes: ``guess_shapes()`` reads one row and returns each feature's shape as that row
            has it (to size row groups before the write; the write checks every row).
        finish: ``finish(stats)`` applies the check pass's rules to the merged counts and returns the
            :class:`Prepared` description (its ``df`` is ``None``), or raises.
        arrow: the same staging done by a task on raw Arrow rows
            (:class:`~sparkdl_kit.etl.arrow_stage.ArrowStage`), or ``None`` when only Spark can do it.
    """

    df: object
    layout: CheckLayout
    feature_dtypes: dict
    has_label: bool
    split_names: list
    guess_shapes: object
    finish: object
    arrow: object = None


def prepare_for_write(df, feature_cols: list[str] | str | None = None, label_col: str | None = None,
                      validation: float | str | None = None, seed: int = 0, assemble_as: str | None = None,
                      drop_invalid: bool = False, skip_bad_images: bool = False,
                      index_labels: bool | None = None) -> WritePlan | None:
    """Like :func:`prepare`, but the checks are left to the writing tasks (one pass over the data).

    Labels to index need their distinct values first: one aggregation over the label column only.
    Returns ``None`` when that would change the result: with ``drop_invalid`` or ``skip_bad_images``
    the mapping must leave out the labels of dropped rows, which needs the full check pass.

    Raises:
        SchemaError, ConfigError: as :func:`prepare`, before any Spark job.
    """
    from pyspark.sql import functions as F

    staged = _stage(df, feature_cols, label_col, validation, seed, assemble_as, index_labels)
    label = staged.label
    labels = None
    if label is not None and label.needs_mapping:
        if drop_invalid or skip_bad_images:
            return None
        labels = staged.stage.agg(F.collect_set(label.name).alias("labels")).collect()[0]["labels"]
        if not labels:      # no label at all: the check pass names the problem
            return None
    label_expr = []
    if label is not None:
        label_expr = [indexed(label, sorted(labels) if labels is not None else None).alias(label.name)]
    check_cols = [f"{_CHECK}{i}" for i in range(len(staged.checks))]
    error_cols = [error_column(name) for name in staged.images]
    size_cols = [f"{_SIZE}{i}" for i in range(len(staged.sizes))]
    data_cols = [s.name for s in staged.specs] + ([label.name] if label else [])
    frame = staged.stage.select(
        *[F.col(s.name) for s in staged.specs], *label_expr, F.col(SPLIT_COL), F.col(_BAD), F.col(_BAD_IMAGE),
        *[expr.alias(name) for name, (_, expr) in zip(check_cols, staged.checks)],
        *[F.col(c) for c in error_cols], *[F.col(c) for c in size_cols])
    layout = CheckLayout(data_cols=tuple(data_cols), split_col=SPLIT_COL, bad_col=_BAD, bad_image_col=_BAD_IMAGE,
                         check_cols=tuple(check_cols), error_cols=tuple(error_cols), size_cols=tuple(size_cols),
                         label_col=label.name if label is not None and label.kind == CLASS_IDS
                         and not label.needs_mapping else "")

    def finish(merged: dict) -> Prepared:
        stats = dict(merged, labels=labels)
        return _finish(staged.stage, stats, staged.specs, label, staged.split, staged.sizes, staged.images,
                       drop_invalid, skip_bad_images, validation, with_df=False)

    def guess_shapes() -> dict:
        row = frame.select(*size_cols).head() if size_cols else None
        shapes = {}
        for spec in staged.specs:
            if spec.kind != ARRAY:
                shapes[spec.name] = spec.shape
                continue
            parts = [max(0, row[f"{_SIZE}{i}"] or 0) for i, (src, _) in enumerate(staged.sizes)
                     if row is not None and any(src == s for s, _ in spec.sizes)]
            shapes[spec.name] = (spec.scalar_parts + sum(parts),)
        return shapes

    arrow = arrow_stage.describe(df, staged.parts, label, validation, seed, assemble_as, layout)
    return WritePlan(frame, layout, {s.name: s.dtype for s in staged.specs}, label is not None,
                     staged.split.names, guess_shapes, finish, arrow)


def _scan(stage, checks, images, sizes, label) -> dict:
    """The one aggregation pass: counts, invalid values per column, array lengths, splits, labels."""
    from pyspark.sql import functions as F

    ok = ~F.col(_BAD) & ~F.col(_BAD_IMAGE)
    aggs = [F.count(F.lit(1)).alias("total"),
            F.sum(ok.cast("long")).alias("kept"),
            F.sum((ok & F.col(SPLIT_COL)).cast("long")).alias("kept_validation"),
            F.sum(F.col(_BAD).cast("long")).alias("bad_rows"),
            F.sum((F.col(_BAD) & ~F.col(_BAD_IMAGE)).cast("long")).alias("bad_only_rows")]
    for i, (_, expr) in enumerate(checks):
        aggs.append(F.sum(expr.cast("long")).alias(f"bad{i}"))
    for i, name in enumerate(images):
        err = F.col(error_column(name))
        aggs += [F.count(err).alias(f"imgerr{i}"), F.first(err, ignorenulls=True).alias(f"imgfirst{i}")]
    for i in range(len(sizes)):
        size = F.when(ok, F.col(f"{_SIZE}{i}"))
        aggs += [F.min(size).alias(f"min{i}"), F.max(size).alias(f"max{i}")]
    if label is not None:
        value = F.when(ok, F.col(label.name))
        if label.needs_mapping:
            aggs.append(F.collect_set(value).alias("labels"))
        elif label.kind == CLASS_IDS:
            aggs += [F.min(value).alias("label_min"), F.max(value).alias("label_max")]
    row = stage.agg(*aggs).collect()[0].asDict()
    return {k: (0 if v is None and k in ("kept", "kept_validation", "bad_rows", "bad_only_rows") else v)
            for k, v in row.items()}


def _finish(stage, stats, specs, label, split, sizes, images, drop_invalid, skip_bad_images, validation,
            with_df: bool = True):
    """Applies the rules to the counts (raises on a failure) and describes the result; ``with_df``
    builds the converted DataFrame (the one-pass write has already written the rows)."""
    from pyspark.sql import functions as F

    def fail(exc):
        if stage.is_cached:
            stage.unpersist()
        raise exc

    if stats["total"] == 0:
        fail(DataError("the DataFrame is empty (0 rows); expected at least one row. Fix: check the input "
                       "path and any filters applied before materialize()."))
    bad_images = sum(stats[f"imgerr{i}"] for i in range(len(images)))
    if bad_images and not skip_bad_images:
        first = next(stats[f"imgfirst{i}"] for i in range(len(images)) if stats[f"imgerr{i}"])
        fail(DataError(f"{bad_images} image(s) could not be decoded, e.g. {first}. Expected PNG or JPEG files. "
                       "Fix: remove or repair them, or pass skip_bad_images=True (jobs/etl.py: "
                       "--skip-bad-images) to leave them out; the count is reported."))
    checks_names = [s.name for s in specs] + ([label.name] if label else []) + (
        [validation] if split.invalid is not None else [])
    problems = [(name, stats[f"bad{i}"]) for i, name in enumerate(checks_names) if stats[f"bad{i}"]]
    if problems and not drop_invalid:
        what = "; ".join(f"column '{n}': {c} row(s)" for n, c in problems)
        split_hint = (f" (the validation column '{validation}' must hold 0/1 or true/false)"
                      if split.invalid is not None else "")
        fail(DataError(f"null or NaN values found: {what}{split_hint}. Expected none in features, label or "
                       "split column. Fix: clean or filter them, or pass drop_invalid=True (jobs/etl.py: "
                       "--drop-invalid) to leave those rows out; the count is reported."))
    shapes = {}
    for spec in specs:
        if spec.kind != ARRAY:
            shapes[spec.name] = spec.shape
            continue
        length = spec.scalar_parts
        for i, (src, _) in enumerate(sizes):
            if not any(src == s for s, _ in spec.sizes):
                continue
            lo, hi = stats[f"min{i}"], stats[f"max{i}"]
            if lo != hi:
                fail(DataError(f"column '{src}' holds arrays of different lengths (from {lo} to {hi}); expected one "
                               "fixed length on every row. Fix: pad or truncate them (F.slice / F.concat), or "
                               "filter rows by F.size(...)."))
            if not hi:
                fail(DataError(f"column '{src}' holds only empty arrays; expected at least one value per row."))
            length += hi
        shapes[spec.name] = (length,)
    kept, kept_val = stats["kept"], stats["kept_validation"]
    split_rows = {n: (kept_val if n == VALIDATION else kept - kept_val) for n in split.names}
    dropped_invalid, dropped_images = stats["bad_only_rows"], stats["total"] - stats["kept"] - stats["bad_only_rows"]
    if kept == 0:
        fail(DataError(f"no rows left after leaving out {dropped_invalid} invalid row(s) and {dropped_images} "
                       "unreadable image(s); expected at least one usable row."))
    for name, rows in split_rows.items():
        if rows == 0:
            fix = ("use a larger fraction or more data" if isinstance(validation, float)
                   else f"check the values of column '{validation}'")
            fail(DataError(f"split '{name}' would have 0 rows (of {kept}); expected at least one. Fix: {fix}, "
                           "or pass validation=None for a train split only."))
    if dropped_invalid or dropped_images:
        logger.warning("left out %d row(s) with null/NaN values and %d unreadable image(s)",
                       dropped_invalid, dropped_images)

    mapping, num_classes = None, None
    if label is not None:
        if label.needs_mapping:
            mapping = sorted(stats["labels"])
            num_classes = len(mapping)
        elif label.kind == CLASS_IDS:
            if stats["label_min"] is not None and stats["label_min"] >= 0:
                num_classes = int(stats["label_max"]) + 1
            else:
                logger.warning("label column '%s' has negative values; num_classes is left unset", label.name)
    out = None
    if with_df:
        label_expr = [indexed(label, mapping).alias(label.name)] if label is not None else []
        out = stage.where(~F.col(_BAD) & ~F.col(_BAD_IMAGE)) if (dropped_invalid or dropped_images) else stage
        out = out.select(*[F.col(s.name) for s in specs], *label_expr, F.col(SPLIT_COL))
    return Prepared(
        df=out, feature_cols=[s.name for s in specs], label_col=label.name if label else None,
        feature_shapes=shapes, feature_dtypes={s.name: s.dtype for s in specs},
        label_dtype=label.dtype if label else None, label_mapping=mapping, num_classes=num_classes,
        split_rows=split_rows, dropped_invalid=dropped_invalid, dropped_images=dropped_images,
        source={"validation": validation, "stage": stage})
