"""Inference settings as one small validated dataclass, shared by ``KerasModel``, ``predict_udf`` and jobs/predict.py."""

from __future__ import annotations

import dataclasses

from sparkdl_kit.config import positive_int, replace_validated
from sparkdl_kit.errors import ConfigError

TASKS = ("auto", "classifier", "regressor")
HANDLE_INVALID = ("error", "skip", "keep")


@dataclasses.dataclass(frozen=True)
class InferenceConfig:
    """How predictions are computed and named.

    Attributes:
        prediction_col: the output column of predictions (Spark ML's ``prediction``): the arg-max class id
            (a double) for classifiers, the value for regressors. ``""`` leaves it out.
        probability_col: the output column of class probabilities (``array<float>``), classifiers only.
            ``""`` leaves it out.
        task: ``"classifier"``, ``"regressor"`` or ``"auto"`` (a softmax output, or a one-unit sigmoid
            output, makes a classifier; anything else a regressor). A ``"classifier"`` whose last layer
            has no softmax/sigmoid gets its outputs read as logits (probabilities are their softmax).
        batch_size: rows per model call inside a task.
        tf_threads: TensorFlow intra-op threads per Python worker; ``None`` uses the task's CPUs
            (``spark.task.cpus``, 1 by default), so concurrent tasks do not oversubscribe the cores.
        handle_invalid: rows with a null feature (or a null inside an array, or an image that cannot be
            decoded): ``"error"`` fails the job naming the column, ``"skip"`` drops them (counted),
            ``"keep"`` keeps them with null predictions (counted).

    Example:
        >>> InferenceConfig(batch_size=2048, handle_invalid="skip").batch_size
        2048
    """

    prediction_col: str = "prediction"
    probability_col: str = "probability"
    task: str = "auto"
    batch_size: int = 1024
    tf_threads: int | None = None
    handle_invalid: str = "error"

    def __post_init__(self):
        for name in ("prediction_col", "probability_col"):
            value = getattr(self, name)
            if not isinstance(value, str):
                raise ConfigError(f"{name}={value!r}: expected a column name, or '' to leave the column out.")
        if not self.prediction_col and not self.probability_col:
            raise ConfigError("prediction_col and probability_col are both empty: nothing would be predicted. "
                              "Name at least one output column.")
        if self.prediction_col and self.prediction_col == self.probability_col:
            raise ConfigError(f"prediction_col and probability_col are both '{self.prediction_col}'; "
                              "give them different names.")
        if self.task not in TASKS:
            raise ConfigError(f"task={self.task!r}: expected one of {', '.join(TASKS)}.")
        if self.handle_invalid not in HANDLE_INVALID:
            raise ConfigError(f"handle_invalid={self.handle_invalid!r}: expected one of {', '.join(HANDLE_INVALID)} "
                              "('error' fails on the first row with a null feature, 'skip' drops such rows, "
                              "'keep' gives them null predictions).")
        positive_int("batch_size", self.batch_size, "1024")
        if self.tf_threads is not None:
            positive_int("tf_threads", self.tf_threads, "2")

    def replace(self, **changes) -> "InferenceConfig":
        """A copy with some settings changed (validated again)."""
        return replace_validated(self, "inference", changes)

