"""Driver-side checks, before any job runs: the DataFrame's columns against the model's inputs, and what
the model's output means (classifier or regressor, and the Spark type of each output column).

Example:
    >>> specs, converted = match_inputs(df, model, ["features"])    # doctest: +SKIP
    >>> outputs = resolve_outputs(model, InferenceConfig())        # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses

from sparkdl_kit.errors import ConfigError, SchemaError
from sparkdl_kit.inference.config import InferenceConfig
from sparkdl_kit.inference.plan import (AUTO, BINARY_LOGIT, BINARY_PROB, FLOAT, IMAGE_ENCODED, IMAGE_PATH,
                                        IMAGE_RAW, LOGITS, PROBS, InputSpec)

#: Prefix of the temporary columns holding converted features (vectors -> float arrays...).
TEMP_PREFIX = "__sparkdl_input_"


def _shape(tensor) -> tuple:
    return tuple(None if d is None else int(d) for d in tensor.shape[1:])


def model_inputs(model) -> list:
    """The model's input tensors; raises SchemaError for a subclassed model that was never built."""
    inputs = list(getattr(model, "inputs", None) or [])
    if not inputs:
        raise SchemaError("the model has no defined inputs (a subclassed model that was never called?). Build it "
                          "first, e.g. model.build((None, 64)) or call it on one batch, then save or pass it.")
    return inputs


def _ordered_inputs(model, feature_cols: list[str]) -> list:
    inputs = model_inputs(model)
    if len(inputs) != len(feature_cols):
        raise SchemaError(
            f"the model has {len(inputs)} input(s) ({', '.join(t.name.split(':')[0] for t in inputs)}) but "
            f"{len(feature_cols)} feature column(s) were given ({', '.join(feature_cols) or 'none'}). Give one "
            "feature column per model input, in the model's input order.")
    return inputs


def _image_like(shape: tuple) -> bool:
    return (len(shape) == 3 and shape[2] in (1, 3, 4) and None not in shape) or \
           (len(shape) == 2 and None not in shape)


def _spec_for(df, col: str, tensor, index: int):
    """(InputSpec, conversion expression or None) for feature column ``col`` feeding ``tensor``."""
    from pyspark.sql import types as T

    from sparkdl_kit.etl.columns import IMAGE, SCALAR, column_field, feature_spec, image_shape

    field = column_field(df, col)
    shape, dtype = _shape(tensor), tensor.dtype.name
    name = tensor.name.split(":")[0]
    paths = "path" if "path" in df.columns and col != "path" else None
    if isinstance(field.dataType, (T.StringType, T.BinaryType)) and image_shape(field) is None:
        if not _image_like(shape):
            raise SchemaError(
                f"feature column '{col}' has type {field.dataType.simpleString()}, but the model input '{name}' "
                f"expects numbers of shape {shape}. Pass a numeric, array or vector column (strings and binary "
                "are read as image paths or image bytes only for image inputs of shape (height, width, channels)).")
        kind = IMAGE_PATH if isinstance(field.dataType, T.StringType) else IMAGE_ENCODED
        return InputSpec(col, col, kind, shape, dtype, None if kind == IMAGE_PATH else paths), None
    spec = feature_spec(df, col)     # SchemaError for other types, naming the column
    if spec.kind == IMAGE:
        got = tuple(spec.shape)
        want = shape if len(shape) == 3 else (*shape, 1)
        if got != want:
            raise SchemaError(f"image column '{col}' holds images of shape {got}, but the model input '{name}' "
                              f"expects {shape}. Decode the images to that size (decode_images(..., size="
                              f"{shape[:2]})) or use the model trained on this size.")
        return InputSpec(col, col, IMAGE_RAW, shape, dtype), None
    if spec.kind == SCALAR and len(shape) > 1 or spec.kind == SCALAR and shape and shape[0] not in (1, None):
        raise SchemaError(f"feature column '{col}' holds one number per row, but the model input '{name}' expects "
                          f"shape {shape}. Pass the array or vector column the model was trained on.")
    temp = f"{TEMP_PREFIX}{index}"
    return InputSpec(col, temp, FLOAT, shape, dtype), spec.expr.alias(temp)


def match_inputs(df, model, feature_cols: list[str]) -> tuple[list[InputSpec], list]:
    """Checks ``feature_cols`` of ``df`` against the model's inputs.

    Returns:
        The input specs in the model's input order, and the expressions of the converted temporary
        columns to add to ``df`` (float arrays from vectors, double arrays, scalars).

    Raises:
        SchemaError: a column is missing, has a type the model input cannot take, or a decoded image
            column has the wrong size; the model's input count differs from the number of columns.
    """
    if isinstance(feature_cols, str):
        feature_cols = [feature_cols]
    if not feature_cols:
        raise ConfigError("feature_cols is empty: name the DataFrame column(s) that feed the model, "
                          "e.g. feature_cols=['features'].")
    inputs = _ordered_inputs(model, list(feature_cols))
    names = [t.name.split(":")[0] for t in inputs]
    # a column named like a model input feeds that input; the others go by position
    slots = [names.index(col) if col in names else i for i, col in enumerate(feature_cols)]
    if len(set(slots)) != len(slots):
        slots = list(range(len(feature_cols)))
    specs: list = [None] * len(inputs)
    exprs = []
    for i, (col, slot) in enumerate(zip(feature_cols, slots)):
        spec, expr = _spec_for(df, col, inputs[slot], i)
        specs[slot] = spec
        if expr is not None:
            exprs.append(expr)
    return specs, exprs


def udf_inputs(model) -> list[InputSpec]:
    """Input specs for the UDF path, where the column types are only known per batch."""
    return [InputSpec(t.name.split(":")[0], "", AUTO, _shape(t), t.dtype.name) for t in model_inputs(model)]


@dataclasses.dataclass(frozen=True)
class Outputs:
    """What the model's output means: classifier or not, the probability mode, units, prediction type."""

    classifier: bool
    prob_mode: str
    units: int
    prediction_is_array: bool


def _activation(model) -> str:
    layer = model.layers[-1] if model.layers else None
    cls = type(layer).__name__.lower() if layer is not None else ""
    if cls == "softmax":
        return "softmax"
    if cls == "activation" or hasattr(layer, "activation"):
        act = getattr(layer, "activation", None)
        return getattr(act, "__name__", str(act)).lower()
    return "linear"


def resolve_outputs(model, config: InferenceConfig) -> Outputs:
    """Decides classifier/regressor and the output types; raises SchemaError for unsupported outputs."""
    outputs = list(getattr(model, "outputs", None) or [])
    if len(outputs) != 1:
        raise SchemaError(f"the model has {len(outputs)} outputs; predictions need a model with one output. "
                          "Wrap it in a model that returns the output to predict.")
    out_shape = _shape(outputs[0])
    if len(out_shape) > 1 or (out_shape and out_shape[0] is None):
        raise SchemaError(f"the model's output has shape {out_shape} per row; expected a vector of class scores "
                          "or values (shape (units,)). Add a Flatten or a Dense layer at the end.")
    units = out_shape[0] if out_shape else 1
    act = _activation(model)
    task = config.task
    if task == "auto":
        task = "classifier" if act == "softmax" or (act == "sigmoid" and units == 1) else "regressor"
    if task == "regressor":
        return Outputs(False, "", units, units > 1)
    if units == 1:
        mode = BINARY_PROB if act == "sigmoid" else BINARY_LOGIT
    else:
        mode = PROBS if act == "softmax" else LOGITS
    return Outputs(True, mode, units, False)


def output_fields(df_columns: list[str], config: InferenceConfig, outputs: Outputs) -> list:
    """The Spark fields appended by a prediction; raises SchemaError when a name is taken."""
    from pyspark.sql import types as T

    fields = []
    if config.prediction_col:
        dtype = T.ArrayType(T.FloatType()) if outputs.prediction_is_array else T.DoubleType()
        fields.append(T.StructField(config.prediction_col, dtype, True))
    if config.probability_col and outputs.classifier:
        fields.append(T.StructField(config.probability_col, T.ArrayType(T.FloatType()), True))
    for f in fields:
        if f.name in df_columns:
            raise SchemaError(f"output column '{f.name}' already exists in the DataFrame. Fix: drop or rename it, or "
                              "choose another name (prediction_col=..., probability_col=...).")
    if not fields:
        raise ConfigError("no output column: the model is a regressor (no probabilities) and prediction_col is ''. "
                          "Set prediction_col.")
    return fields
