"""Label column -> training-ready label: integer class ids (with the mapping) or float32 targets.

* strings (and any type when ``index=True``) become ``long`` ids 0..n-1 in sorted order of the
  original values; the mapping (original value by id) is saved with the dataset;
* integers and booleans stay integers (``long``); the class count is ``max + 1``;
* floats and decimals become ``float`` (float32) regression targets.

Example:
    >>> spec = label_spec(df, "label")                      # doctest: +SKIP
    >>> mapping = spec.needs_mapping and sorted(values)     # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass

from sparkdl_kit.errors import SchemaError
from sparkdl_kit.etl.columns import _type_names, column_field

CLASS_IDS, REGRESSION = "class_ids", "regression"


@dataclass(frozen=True)
class LabelSpec:
    """How the label column is converted and checked.

    Attributes:
        name: the column name.
        kind: ``"class_ids"`` (int64) or ``"regression"`` (float32).
        needs_mapping: the values are replaced by their index in the sorted distinct values.
        raw: the expression of the value before indexing.
        invalid: a boolean expression, true on rows whose label is null or NaN.
        dtype: the numpy dtype name of the stored label.
    """

    name: str
    kind: str
    needs_mapping: bool
    raw: object
    invalid: object
    dtype: str


def label_spec(df, name: str, index: bool | None = None) -> LabelSpec:
    """Describes how label column ``name`` is converted.

    Args:
        df: the DataFrame.
        name: the label column.
        index: ``None`` indexes strings only; ``True`` indexes any scalar type (e.g. labels 3 and 7
            become ids 0 and 1); ``False`` refuses strings.

    Raises:
        SchemaError: the column is missing or not a scalar string / number / boolean.
    """
    from pyspark.sql import functions as F

    T, numeric = _type_names()
    field = column_field(df, name)
    dtype = field.dataType
    col = F.col(name)
    is_string = isinstance(dtype, T.StringType)
    if not (is_string or isinstance(dtype, numeric)):
        raise SchemaError(
            f"label column '{name}' has type {dtype.simpleString()}; expected a string, integer, boolean "
            "or floating-point scalar. Fix: pick a scalar label column, or derive one (for example with "
            "F.element_at / F.col(...).getField(...)).")
    if is_string and index is False:
        raise SchemaError(
            f"label column '{name}' holds strings but label indexing was turned off; expected numbers. "
            "Fix: leave index_labels unset (strings are then mapped to ids), or cast the column.")
    floating = isinstance(dtype, (T.FloatType, T.DoubleType, T.DecimalType))
    invalid = col.isNull()
    if isinstance(dtype, (T.FloatType, T.DoubleType)):
        invalid = invalid | F.isnan(col)
    if is_string or index:
        raw = col.cast("boolean").cast("long") if isinstance(dtype, T.BooleanType) else col
        return LabelSpec(name, CLASS_IDS, True, raw, invalid, "int64")
    if floating:
        return LabelSpec(name, REGRESSION, False, col.cast("float"), invalid, "float32")
    return LabelSpec(name, CLASS_IDS, False, col.cast("long"), invalid, "int64")


def indexed(spec: LabelSpec, mapping: list):
    """The Spark expression mapping ``spec.raw`` to its id in ``mapping`` (a literal hash map)."""
    from pyspark.sql import functions as F

    if not spec.needs_mapping:
        return spec.raw
    pairs = []
    for i, value in enumerate(mapping):
        pairs += [F.lit(value), F.lit(i).cast("long")]
    return F.create_map(*pairs)[spec.raw]
