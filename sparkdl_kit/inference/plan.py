"""The plain-value description of a prediction job that tasks receive, and how it names its outputs.

A :class:`PredictPlan` holds no model and no closure: the model travels as a broadcast (see
:mod:`sparkdl_kit.inference.model_ref`); everything else is strings, ints and tuples.

Example:
    >>> spec = InputSpec(source="features", column="features", kind=FLOAT, shape=(64,), dtype="float32")
    >>> spec.size
    64
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from sparkdl_kit.inference.model_ref import ModelRef

#: How a feature column reaches the model. FLOAT: numeric scalars/arrays/vectors (float32 in the task);
#: IMAGE_RAW: images decoded by the ETL (uint8 bytes of a known shape); IMAGE_ENCODED: PNG/JPEG bytes;
#: IMAGE_PATH: file paths/URIs of images; AUTO: decided per batch from the Arrow type (the UDF path).
FLOAT, IMAGE_RAW, IMAGE_ENCODED, IMAGE_PATH, AUTO = "float", "image_raw", "image_encoded", "image_path", "auto"

#: How a classifier's outputs become probabilities.
PROBS, BINARY_PROB, LOGITS, BINARY_LOGIT = "probs", "binary_prob", "logits", "binary_logit"


@dataclasses.dataclass(frozen=True)
class InputSpec:
    """One model input and the column that feeds it.

    Attributes:
        source: the user's column name (used in error messages).
        column: the name of the column in the Arrow batches (a converted temporary column, or ``source``).
        kind: one of FLOAT, IMAGE_RAW, IMAGE_ENCODED, IMAGE_PATH, AUTO.
        shape: the model input's shape for one row (``None`` for a free dimension).
        dtype: the model input's dtype name.
        path_column: for encoded images, a column naming each file (for error messages), or ``None``.
    """

    source: str
    column: str
    kind: str
    shape: tuple
    dtype: str
    path_column: str | None = None

    @property
    def size(self) -> int | None:
        """Values per row, or ``None`` when the shape has a free dimension."""
        if any(d is None for d in self.shape):
            return None
        return int(math.prod(self.shape))

    @property
    def image_hwc(self) -> tuple[int, int, int]:
        """``(height, width, channels)`` images are decoded to for this input."""
        if len(self.shape) == 2:
            return int(self.shape[0]), int(self.shape[1]), 1
        return int(self.shape[0]), int(self.shape[1]), int(self.shape[2])


@dataclasses.dataclass(frozen=True)
class PredictPlan:
    """Everything a task needs, as plain values.

    Attributes:
        model: the model reference (cache key + broadcast bytes).
        inputs: one :class:`InputSpec` per model input, in the model's input order.
        keep_cols: the input columns copied to the output, in order (``()`` for the UDF path).
        prediction_col: the prediction column name, or ``""``.
        prediction_is_array: the prediction is an ``array<float>`` (multi-unit regressors) instead of a double.
        probability_col: the probability column name, or ``""``.
        classifier: the outputs are class scores (arg-max prediction, probabilities).
        prob_mode: PROBS, BINARY_PROB, LOGITS or BINARY_LOGIT (classifiers).
        batch_size: rows per model call.
        tf_threads: TensorFlow threads per worker process, or ``None`` for the task's CPUs.
        handle_invalid: ``"error"``, ``"skip"`` or ``"keep"``.
        counter: a Spark accumulator counting skipped/kept invalid rows, or ``None``.
    """

    model: ModelRef
    inputs: tuple
    keep_cols: tuple
    prediction_col: str
    prediction_is_array: bool
    probability_col: str
    classifier: bool
    prob_mode: str
    batch_size: int
    tf_threads: int | None
    handle_invalid: str
    counter: Any = None
