"""Pieces the compatibility entry points share: the warning for arguments that mean nothing here, and
turning RDDs of plain Python/numpy records into DataFrames the dataset layer can materialize."""

from __future__ import annotations

import functools
import numbers
import uuid
import warnings
from typing import Any

import numpy as np

from sparkdl_kit.errors import ConfigError, DataError

#: Column kinds of records converted by :func:`records_to_frame`.
ARRAY, INT, FLOAT = "array", "int", "float"


class CompatWarning(UserWarning):
    """An argument of the original project (Elephas, TensorFlowOnSpark, ...) that has no effect here.

    Filter it like any warning: ``warnings.filterwarnings("ignore", category=CompatWarning)``.
    """


def warn_ignored(project: str, name: str, value: Any, why: str, stacklevel: int = 3) -> None:
    """Warns that ``name=value``, meaningful in ``project``, is ignored here, and why."""
    warnings.warn(f"{project}: {name}={value!r} is ignored by sparkdl_kit: {why}", CompatWarning,
                  stacklevel=stacklevel)


def active_spark():
    """The active SparkSession; ConfigError when there is none."""
    from pyspark.sql import SparkSession

    spark = SparkSession.getActiveSession()
    if spark is None:
        raise ConfigError("no active SparkSession: create one first, e.g. spark = sparkdl_kit.get_session().")
    return spark


def value_kind(value: Any, where: str) -> str:
    """``ARRAY`` (ndarray, list, tuple, Spark ML vector), ``INT`` or ``FLOAT`` for one record field."""
    if hasattr(value, "toArray"):
        return ARRAY
    if isinstance(value, np.ndarray) and value.ndim == 0:
        return INT if np.issubdtype(value.dtype, np.integer) else FLOAT
    if isinstance(value, (np.ndarray, list, tuple)):
        return ARRAY
    if isinstance(value, (bool, np.bool_)):
        return INT
    if isinstance(value, numbers.Integral):
        return INT
    if isinstance(value, numbers.Real):
        return FLOAT
    raise DataError(f"{where} holds a {type(value).__name__} ({str(value)[:60]!r}); expected numbers, numpy arrays, "
                    "lists of numbers or Spark ML vectors. Fix: convert records to (features, label) of numbers.")


def convert_value(value: Any, kind: str) -> Any:
    """One record field as a plain Python value of its column's Spark type (list of floats, int, float)."""
    if kind == ARRAY:
        array = value.toArray() if hasattr(value, "toArray") else value
        return np.asarray(array, dtype=np.float32).reshape(-1).tolist()
    return int(value) if kind == INT else float(value)


def convert_record(kinds: tuple[str, ...], record) -> tuple:
    """A record (tuple/list/Row, or one bare value) as a tuple of plain values; run by ``rdd.map``."""
    if not isinstance(record, (tuple, list)):
        record = (record,)
    if len(record) != len(kinds):
        raise DataError(f"a record has {len(record)} field(s), the first one has {len(kinds)}; expected every "
                        "record of the RDD to have the same fields.")
    return tuple(convert_value(v, k) for v, k in zip(record, kinds))


def spark_type(kind: str):
    from pyspark.sql import types as T

    return {ARRAY: T.ArrayType(T.FloatType(), False), INT: T.LongType(), FLOAT: T.DoubleType()}[kind]


def records_to_frame(spark, rdd, names: list[str] | None = None, kinds: tuple[str, ...] | None = None):
    """An RDD of same-shaped records (tuples of arrays and numbers) as a DataFrame; returns ``(df, kinds)``.

    Arrays (numpy, lists, Spark ML vectors) become ``array<float>`` columns (flattened), integers ``bigint``,
    other numbers ``double``. ``kinds`` forces the column kinds (else they come from the first record).

    Raises:
        DataError: the RDD is empty, or a record holds something else than numbers and arrays.
    """
    from pyspark.sql import types as T

    if kinds is None:
        first = rdd.take(1)
        if not first:
            raise DataError("the RDD is empty: expected at least one record to train or predict on.")
        record = first[0]
        if not isinstance(record, (tuple, list)):
            record = (record,)
        kinds = tuple(value_kind(v, f"field {i} of the first record") for i, v in enumerate(record))
        if names is None and hasattr(record, "__fields__"):
            names = list(record.__fields__)
    names = list(names or [f"_{i}" for i in range(len(kinds))])
    schema = T.StructType([T.StructField(n, spark_type(k), False) for n, k in zip(names, kinds)])
    converted = rdd.map(functools.partial(convert_record, kinds))
    return spark.createDataFrame(converted, schema), kinds


def scratch_url(store: str, prefix: str) -> str:
    """A new, unique dataset URL under ``store`` (a folder every worker can read)."""
    from sparkdl_kit.dataset.urls import join, normalize_url

    return join(normalize_url(store), f"{prefix}-{uuid.uuid4().hex[:12]}")


def raw_outputs(df, keras_model, input_col: str, output_col: str, as_vector: bool = False):
    """``df`` with ``output_col`` appended: the model's raw output for ``input_col`` (Arrow-batched inference).

    The output is a double for a one-unit model and an ``array<float>`` otherwise (a Spark ML dense
    vector in both cases with ``as_vector``). ``input_col`` may hold numbers, arrays, Spark ML vectors,
    image bytes or image paths, as :meth:`sparkdl_kit.KerasModel.transform` takes them.
    """
    from pyspark.ml.functions import array_to_vector
    from pyspark.sql import functions as F

    from sparkdl_kit.ml import KerasModel

    model = KerasModel.from_keras(keras_model, feature_cols=[input_col], task="regressor", prediction_col=output_col,
                                  probability_col="")
    out = model.transform(df)
    if as_vector:
        value = F.col(output_col)
        if out.schema[output_col].dataType.simpleString() == "double":
            value = F.array(value)
        out = out.withColumn(output_col, array_to_vector(value))
    return out
