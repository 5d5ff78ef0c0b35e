"""``predict_udf``: a Keras model as a pandas UDF for ``select``/``withColumn`` and Spark SQL.

Example:
    >>> import sparkdl_kit as sdk
    >>> digits = sdk.predict_udf("/models/digits.keras")                 # doctest: +SKIP
    >>> df.withColumn("prediction", digits("features"))                  # doctest: +SKIP
    >>> spark.udf.register("digits", digits)                             # doctest: +SKIP
    >>> spark.sql("SELECT digits(features) AS prediction FROM t")        # doctest: +SKIP
"""

from __future__ import annotations

import functools
from typing import Any

from sparkdl_kit.errors import ConfigError
from sparkdl_kit.inference.config import InferenceConfig
from sparkdl_kit.inference.model_ref import load_keras, model_ref
from sparkdl_kit.inference.plan import PredictPlan
from sparkdl_kit.inference.schema import resolve_outputs, udf_inputs

OUTPUTS = ("prediction", "probability")


def predict_udf(model_or_path: Any, output: str = "prediction", *, task: str = "auto", batch_size: int = 1024,
                tf_threads: int | None = None, handle_invalid: str = "error"):
    """A pandas UDF that applies a Keras model to one column per model input.

    Columns may hold numbers, arrays of numbers (``vector_to_array`` turns Spark ML vectors into
    arrays), PNG/JPEG bytes or image paths (for image inputs: decoded and resized as the ETL does).
    The model is broadcast once and loaded once per Python worker.

    Args:
        model_or_path: a tf.keras.Model, or the path of a ``.keras``/``.h5`` file, a SavedModel folder or
            a folder saved by :class:`sparkdl_kit.KerasModel`.
        output: ``"prediction"`` (double: the arg-max class, or the value; ``array<float>`` for a
            multi-unit regressor) or ``"probability"`` (``array<float>``, classifiers).
        task, batch_size, tf_threads, handle_invalid: as in :class:`~sparkdl_kit.inference.InferenceConfig`;
            here 'skip' behaves like 'keep' (null results): a column expression cannot drop rows.

    Returns:
        A pandas UDF; call it on columns, or register it with ``spark.udf.register(name, udf)``.

    Raises:
        DatasetNotFoundError: the model path does not exist.
        ConfigError: the path holds no Keras model; ``output`` is unknown; probabilities of a regressor.

    Example:
        >>> score = predict_udf(model, output="probability")                 # doctest: +SKIP
        >>> df.select(score(vector_to_array("features")).alias("p"))         # doctest: +SKIP
    """
    from pyspark.sql import SparkSession
    from pyspark.sql.functions import pandas_udf

    from sparkdl_kit.inference.worker import predict_pandas

    if output not in OUTPUTS:
        raise ConfigError(f"output={output!r}: expected one of {', '.join(OUTPUTS)}.")
    config = InferenceConfig(task=task, batch_size=batch_size, tf_threads=tf_threads, handle_invalid=handle_invalid)
    model = load_keras(model_or_path)
    outputs = resolve_outputs(model, config)
    if output == "probability" and not outputs.classifier:
        raise ConfigError("output='probability', but the model is a regressor (its last layer has no softmax or "
                          "one-unit sigmoid). Use output='prediction', or task='classifier' if its outputs are logits.")
    spark = SparkSession.getActiveSession()
    if spark is None:
        raise ConfigError("predict_udf needs an active SparkSession (sdk.get_session()) to broadcast the model.")
    plan = PredictPlan(model=model_ref(spark.sparkContext, model), inputs=tuple(udf_inputs(model)), keep_cols=(),
                       prediction_col="prediction" if output == "prediction" else "",
                       prediction_is_array=outputs.prediction_is_array,
                       probability_col="probability" if output == "probability" else "",
                       classifier=outputs.classifier, prob_mode=outputs.prob_mode, batch_size=config.batch_size,
                       tf_threads=config.tf_threads, handle_invalid=config.handle_invalid)
    array_out = output == "probability" or outputs.prediction_is_array
    return pandas_udf(functools.partial(predict_pandas, plan), "array<float>" if array_out else "double")
