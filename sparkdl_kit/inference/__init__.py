"""Batch inference: Keras models applied to Spark DataFrames in Arrow record batches.

``KerasModel.transform`` (``mapInArrow``) appends ``prediction``/``probability`` columns;
:func:`predict_udf` is the same core as a pandas UDF for ``select``, ``withColumn`` and Spark SQL.
The model is broadcast once and loaded once per Python worker, then kept across tasks.

Example:
    >>> import sparkdl_kit as sdk
    >>> model = sdk.KerasModel.from_keras("/models/digits.keras", feature_cols=["features"])   # doctest: +SKIP
    >>> model.transform(df).select("prediction", "probability").show()                       # doctest: +SKIP
"""

from sparkdl_kit.inference.config import InferenceConfig
from sparkdl_kit.inference.udf import predict_udf

__all__ = ["InferenceConfig", "predict_udf"]
