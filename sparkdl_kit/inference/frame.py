"""Predictions appended to a DataFrame with ``mapInArrow``: the engine behind ``KerasModel.transform``.

``mapInArrow`` hands each task whole Arrow record batches and takes record batches back, so input
columns pass through without a pandas round trip and the probability column is built from one flat
float32 buffer. (A pandas UDF pays a per-row conversion of arrays both ways; see docs/inference.md.)

Example:
    >>> out, counter = predict_frame(df, keras_model, ["features"], InferenceConfig())   # doctest: +SKIP
    >>> out.select("prediction", "probability").show(3)                                  # doctest: +SKIP
"""

from __future__ import annotations

import functools
import logging

from sparkdl_kit.inference.config import InferenceConfig
from sparkdl_kit.inference.model_ref import ModelRef, model_ref
from sparkdl_kit.inference.plan import PredictPlan
from sparkdl_kit.inference.schema import match_inputs, output_fields, resolve_outputs
from sparkdl_kit.inference.worker import predict_arrow_batches

logger = logging.getLogger(__name__)


def predict_frame(df, model, feature_cols: list[str], config: InferenceConfig | None = None,
                  ref: ModelRef | None = None):
    """Returns ``df`` with prediction columns appended (lazily: nothing runs until an action).

    Every check that needs no data runs here, on the driver: the feature columns exist, their types
    fit the model's inputs, decoded images have the model's size, the output names are free.

    Args:
        df: the DataFrame; all its columns are kept.
        model: the Keras model (used on the driver for the checks; tasks load the broadcast copy).
        feature_cols: the column feeding each model input.
        config: an :class:`InferenceConfig`.
        ref: the model's broadcast reference when the caller has one (see :func:`model_ref`).

    Returns:
        ``(DataFrame, counter)``: the counter is a Spark accumulator of rows skipped or kept with null
        predictions (``handle_invalid`` 'skip' or 'keep'); read ``counter.value`` after an action.

    Raises:
        SchemaError: a feature column is missing or does not fit the model; an output name is taken.
    """
    from pyspark.sql import types as T

    config = config or InferenceConfig()
    specs, converted = match_inputs(df, model, list(feature_cols))
    outputs = resolve_outputs(model, config)
    fields = output_fields(df.columns, config, outputs)
    spark = df.sparkSession
    sc = spark.sparkContext
    ref = ref or model_ref(sc, model)
    counter = sc.accumulator(0) if config.handle_invalid != "error" else None
    plan = PredictPlan(model=ref, inputs=tuple(specs), keep_cols=tuple(df.columns),
                       prediction_col=config.prediction_col, prediction_is_array=outputs.prediction_is_array,
                       probability_col=config.probability_col if outputs.classifier else "",
                       classifier=outputs.classifier, prob_mode=outputs.prob_mode, batch_size=config.batch_size,
                       tf_threads=config.tf_threads, handle_invalid=config.handle_invalid, counter=counter)
    source = df.select("*", *converted) if converted else df
    schema = T.StructType(list(df.schema.fields) + fields)
    logger.debug("predicting %s -> %s with mapInArrow", feature_cols, [f.name for f in fields])
    return source.mapInArrow(functools.partial(predict_arrow_batches, plan), schema), counter
