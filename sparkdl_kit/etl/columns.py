"""Feature columns -> training-ready columns: float32 scalars and fixed-length float32 arrays.

Numeric scalars become ``float`` (float32) columns; numeric arrays and Spark ML vectors (dense or
sparse) become ``array<float>`` columns whose length is checked to be the same on every row; images
decoded by :mod:`sparkdl_kit.etl.images` are kept as raw uint8 bytes with their shape in the
column's metadata.

Example:
    >>> from sparkdl_kit.etl.columns import feature_spec
    >>> spec = feature_spec(df, "features")          # doctest: +SKIP
    >>> df.select(spec.expr.alias("features"))       # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass

from sparkdl_kit.errors import SchemaError

#: Key of the Spark column metadata that describes a decoded image column.
IMAGE_METADATA_KEY = "sparkdl_kit_image"

SCALAR, ARRAY, IMAGE = "scalar", "array", "image"


@dataclass(frozen=True)
class FeatureSpec:
    """How one feature column is converted and checked.

    Attributes:
        name: the column name.
        kind: ``"scalar"`` (float32, shape ``()``), ``"array"`` (float32, fixed length found by a scan)
            or ``"image"`` (uint8 bytes of a fixed ``(height, width, channels)`` shape).
        expr: the Spark expression that produces the converted column.
        sizes: ``(source column, length expression)`` pairs of the arrays to check for one fixed
            length (empty for scalars and images).
        shape: the per-row shape when it is known without a scan (scalars and images).
        dtype: the numpy dtype name of the stored values.
        scalar_parts: for an assembled array, how many scalar columns it holds besides the arrays.
    """

    name: str
    kind: str
    expr: object
    sizes: tuple
    shape: tuple[int, ...] | None
    dtype: str
    scalar_parts: int = 0


def _type_names():
    from pyspark.sql import types as T

    numeric = (T.ByteType, T.ShortType, T.IntegerType, T.LongType, T.FloatType, T.DoubleType,
               T.DecimalType, T.BooleanType)
    return T, numeric


def column_field(df, name: str):
    """Returns the StructField of ``name`` or raises :class:`SchemaError` listing the columns."""
    if not isinstance(name, str) or not name:
        raise SchemaError(f"column names must be non-empty strings; got {name!r}")
    fields = {f.name: f for f in df.schema.fields}
    if name not in fields:
        raise SchemaError(
            f"column '{name}' not found; the DataFrame has: {', '.join(fields) or '(no columns)'}. "
            "Fix: pass one of those names (names are case-sensitive), or add the column first.")
    return fields[name]


def image_shape(field) -> tuple[int, int, int] | None:
    """The ``(height, width, channels)`` recorded on a decoded image column, else ``None``."""
    meta = (field.metadata or {}).get(IMAGE_METADATA_KEY)
    if not meta:
        return None
    return tuple(int(v) for v in meta["shape"])


def feature_spec(df, name: str) -> FeatureSpec:
    """Describes how feature column ``name`` of ``df`` is converted to a training-ready column.

    Raises:
        SchemaError: the column is missing or its type is not numeric, a numeric array, a Spark ML
            vector, or an image decoded by :func:`sparkdl_kit.etl.images.decode_images`.
    """
    from pyspark.ml.functions import vector_to_array
    from pyspark.ml.linalg import VectorUDT
    from pyspark.sql import functions as F

    T, numeric = _type_names()
    field = column_field(df, name)
    dtype = field.dataType
    col = F.col(name)
    if isinstance(dtype, numeric):
        return FeatureSpec(name, SCALAR, col.cast("float"), (), (), "float32")
    if isinstance(dtype, T.ArrayType) and isinstance(dtype.elementType, numeric):
        value = col.cast("array<float>")
        return FeatureSpec(name, ARRAY, value, ((name, F.size(value)),), None, "float32")
    if isinstance(dtype, VectorUDT):
        value = vector_to_array(col, "float32")
        return FeatureSpec(name, ARRAY, value, ((name, F.size(value)),), None, "float32")
    if isinstance(dtype, T.BinaryType) and image_shape(field):
        return FeatureSpec(name, IMAGE, col, (), image_shape(field), "uint8")
    hint = ""
    if isinstance(dtype, T.BinaryType):
        hint = (" If it holds encoded images (PNG/JPEG bytes), decode them first with "
                "sparkdl_kit.etl.decode_images(df, '%s', size=(height, width))." % name)
    elif isinstance(dtype, T.StringType):
        hint = (" Strings are accepted as the label column only; cast numeric text to double first "
                "(df.withColumn('%s', F.col('%s').cast('double')))." % (name, name))
    raise SchemaError(
        f"feature column '{name}' has type {dtype.simpleString()}, which cannot be converted; expected a "
        "numeric scalar, an array of numbers, a pyspark.ml.linalg vector (dense or sparse) or a decoded "
        f"image.{hint}")


def invalid_expr(spec: FeatureSpec):
    """True on rows whose converted column ``spec.name`` is null, or holds a null or NaN."""
    from pyspark.sql import functions as F

    col = F.col(spec.name)
    if spec.kind == SCALAR:
        return col.isNull() | F.isnan(col)
    if spec.kind == ARRAY:
        # Spark SQL treats NaN as equal to NaN; array_contains is null when the array holds a null
        # element and no NaN. (No lambda: higher-order functions are not code-generated.)
        return col.isNull() | F.coalesce(F.array_contains(col, F.lit(float("nan")).cast("float")), F.lit(True))
    return col.isNull()


def assemble(specs: list[FeatureSpec], name: str) -> FeatureSpec:
    """Concatenates scalar and array feature specs, in order, into one float32 array column.

    Example:
        >>> spec = assemble([feature_spec(df, "a"), feature_spec(df, "b")], "features")  # doctest: +SKIP
    """
    from pyspark.sql import functions as F

    images = [s.name for s in specs if s.kind == IMAGE]
    if images:
        raise SchemaError(
            f"image column(s) {images} cannot be assembled with other features into '{name}'; "
            "expected scalar, array or vector columns. Fix: leave images out of the assembled columns.")
    parts = [F.array(s.expr) if s.kind == SCALAR else s.expr for s in specs]
    value = F.concat(*parts) if len(parts) > 1 else parts[0]
    sizes = tuple(pair for s in specs for pair in s.sizes)
    scalars = sum(1 for s in specs if s.kind == SCALAR) + sum(s.scalar_parts for s in specs)
    return FeatureSpec(name, ARRAY, value, sizes, None, "float32", scalars)
