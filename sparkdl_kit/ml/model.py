"""KerasModel: a trained Keras model as a Spark ML Model (a Transformer), with Spark ML persistence.

``transform`` appends Spark ML-style ``prediction``/``probability`` columns, computed in Arrow record
batches by :mod:`sparkdl_kit.inference`.
"""

from __future__ import annotations

import json
import os
import shutil
from typing import Any

from pyspark.ml import Model
from pyspark.ml.param import Param, Params, TypeConverters
from pyspark.ml.util import MLReadable, MLReader, MLWritable, MLWriter

from sparkdl_kit._deps import require
from sparkdl_kit.errors import ConfigError, DatasetExistsError, DatasetNotFoundError, SchemaError
from sparkdl_kit.inference.config import InferenceConfig
from sparkdl_kit.store.run_store import local_path
from sparkdl_kit.train.model_source import save_portable

_METADATA = "metadata.json"
_KERAS_FILE = "model.keras"

_DEFAULTS = InferenceConfig()
#: (name, doc, default, converter): the prediction Params, defaults from InferenceConfig.
INFERENCE_PARAMS = [
    ("prediction_col", "output column of predictions ('' to leave it out)", _DEFAULTS.prediction_col,
     TypeConverters.toString),
    ("probability_col", "output column of class probabilities ('' to leave it out)", _DEFAULTS.probability_col,
     TypeConverters.toString),
    ("task", "'auto', 'classifier' or 'regressor'", _DEFAULTS.task, TypeConverters.toString),
    ("batch_size", "rows per model call inside a task", _DEFAULTS.batch_size, TypeConverters.toInt),
    ("tf_threads", "TensorFlow threads per Python worker (default: the task's CPUs)", None,
     TypeConverters.identity),
    ("handle_invalid", "rows with null features or unreadable images: 'error', 'skip' or 'keep'",
     _DEFAULTS.handle_invalid, TypeConverters.toString),
    ("input_cols", "DataFrame columns fed to the model's inputs (default: the training feature columns)", None,
     TypeConverters.identity),
]


def _declare(cls):
    for name, doc, _default, converter in INFERENCE_PARAMS:
        setattr(cls, name, Param(Params._dummy(), name, doc, typeConverter=converter))
    return cls


@_declare

class KerasModel(Model, MLWritable, MLReadable):
    """A trained Keras model with what it was trained on: feature columns, label mapping, history, run id.

    ``transform(df)`` keeps every column of ``df`` and appends ``prediction`` (the arg-max class id as a
    double for classifiers, the value for regressors) and, for classifiers, ``probability`` (an
    ``array<float>``). The prediction Params (``prediction_col``, ``probability_col``, ``task``,
    ``batch_size``, ``tf_threads``, ``handle_invalid``, ``input_cols``) are set by keyword, in the
    constructor, :meth:`setParams` or :meth:`from_keras`. ``save(path)`` writes ``metadata.json`` and the
    Keras model in the portable ``.keras`` format; ``KerasModel.load(path)`` reads it back.

    Example:
        >>> keras_model = estimator.fit(df)                                      # doctest: +SKIP
        >>> keras_model.transform(test_df).select("label", "prediction").show()  # doctest: +SKIP
        >>> keras_model.save("file:///tmp/models/digits")                        # doctest: +SKIP
        >>> again = KerasModel.load("file:///tmp/models/digits")                 # doctest: +SKIP
    """

    def __init__(self, keras_model=None, feature_cols: list[str] | None = None, label_col: str | None = None,
                 label_mapping: list[Any] | None = None, history: dict[str, list[float]] | None = None,
                 run_id: str | None = None, model_path: str | None = None, **params: Any):
        super().__init__()
        self.keras_model = keras_model
        self.feature_cols = list(feature_cols or [])
        self.label_col = label_col
        self.label_mapping = label_mapping
        self.history = history or {}
        self.run_id = run_id
        self.model_path = model_path
        self._refs: dict[str, Any] = {}
        self._counter = None
        self._setDefault(**{name: default for name, _doc, default, _conv in INFERENCE_PARAMS})
        self.setParams(**params)

    @classmethod
    def from_keras(cls, keras_model_or_path: Any, feature_cols: list[str] | str, label_mapping: list[Any] | None = None,
                   **params: Any) -> "KerasModel":
        """Wraps a Keras model trained anywhere as a KerasModel, so it can transform DataFrames.

        Args:
            keras_model_or_path: a tf.keras.Model, or the path of a ``.keras``/``.h5`` file, a SavedModel
                folder or a folder written by :meth:`save`.
            feature_cols: the DataFrame column feeding each model input, in the model's input order.
            label_mapping: the original label of each class id, if any (kept as metadata).
            **params: prediction Params (``prediction_col="pred"``, ``batch_size=2048``...).

        Raises:
            DatasetNotFoundError: the path does not exist.
            ConfigError: the path holds no Keras model; an unknown or invalid Param.
            SchemaError: the number of feature columns differs from the model's inputs.

        Example:
            >>> m = KerasModel.from_keras("/models/digits.keras", feature_cols=["pixels"])   # doctest: +SKIP
            >>> m.transform(df).select("prediction").show()                                  # doctest: +SKIP
        """
        from sparkdl_kit.inference.model_ref import load_keras
        from sparkdl_kit.inference.schema import model_inputs

        keras_model = load_keras(keras_model_or_path)
        cols = [feature_cols] if isinstance(feature_cols, str) else list(feature_cols or [])
        if not cols:
            raise ConfigError("feature_cols is empty: name the DataFrame column(s) that feed the model, "
                              "e.g. feature_cols=['features'].")
        inputs = model_inputs(keras_model)
        if len(inputs) != len(cols):
            raise SchemaError(f"the model has {len(inputs)} input(s) but feature_cols names {len(cols)} column(s) "
                              f"({', '.join(cols)}). Give one column per model input.")
        path = keras_model_or_path if isinstance(keras_model_or_path, (str, os.PathLike)) else None
        return cls(keras_model, cols, label_mapping=label_mapping,
                   model_path=os.fspath(path) if path is not None else None, **params)

    def setParams(self, **params: Any) -> "KerasModel":
        """Sets prediction Params by keyword (validated); returns self.

        Example:
            >>> model.setParams(prediction_col="digit", batch_size=4096)   # doctest: +SKIP
        """
        known = [name for name, *_ in INFERENCE_PARAMS]
        unknown = sorted(set(params) - set(known))
        if unknown:
            raise ConfigError(f"KerasModel: unknown param(s) {', '.join(unknown)}. Known: {', '.join(known)}.")
        for name, value in params.items():
            self._set(**{name: value})
        self.inference_config()     # validate now rather than at transform time
        return self

    def inference_config(self) -> InferenceConfig:
        """The :class:`~sparkdl_kit.inference.InferenceConfig` the Params describe (validated)."""
        return InferenceConfig(**{name: self.getOrDefault(name) for name, *_ in INFERENCE_PARAMS
                                  if name != "input_cols"})

    def input_columns(self) -> list[str]:
        """The DataFrame columns fed to the model: ``input_cols`` if set, else the training feature columns."""
        cols = self.getOrDefault("input_cols") or self.feature_cols
        return [cols] if isinstance(cols, str) else list(cols)

    @property
    def invalid_rows(self) -> int | None:
        """Rows the last ``transform`` skipped or kept with null predictions, counted as actions ran
        (``handle_invalid`` 'skip' or 'keep'; ``None`` otherwise). Counts again if an action recomputes them."""
        return None if self._counter is None else int(self._counter.value)

    def _transform(self, dataset):
        from sparkdl_kit.inference.frame import predict_frame
        from sparkdl_kit.inference.model_ref import model_ref

        if self.keras_model is None:
            raise ConfigError("KerasModel has no Keras model; create it with KerasModel.from_keras(...) or "
                              "KerasModel.load(path).")
        cols = self.input_columns()
        if not cols:
            raise ConfigError("KerasModel: no feature columns. Pass feature_cols to from_keras(...) or set "
                              "input_cols=[...].")
        sc = dataset.sparkSession.sparkContext
        ref = self._refs.get(sc.applicationId)
        if ref is None:
            ref = self._refs[sc.applicationId] = model_ref(sc, self.keras_model)
        out, self._counter = predict_frame(dataset, self.keras_model, cols, self.inference_config(), ref)
        return out

    def write(self) -> MLWriter:
        return _KerasModelWriter(self)

    @classmethod
    def read(cls) -> MLReader:
        return _KerasModelReader()

    def _metadata(self) -> dict[str, Any]:
        return {"class": "sparkdl_kit.KerasModel", "uid": self.uid, "feature_cols": self.feature_cols,
                "label_col": self.label_col, "label_mapping": self.label_mapping, "history": self.history,
                "run_id": self.run_id,
                "params": {name: self.getOrDefault(name) for name, *_ in INFERENCE_PARAMS}}


class _KerasModelWriter(MLWriter):
    def __init__(self, instance: KerasModel):
        super().__init__()
        self.instance = instance

    def _handleOverwrite(self, path: str) -> None:
        """Nothing to delete up front: saveImpl replaces the folder by a rename once the new one is whole."""

    def saveImpl(self, path: str) -> None:
        folder = local_path(path, setting="path")
        if os.path.exists(folder) and not self.shouldOverwrite:
            raise DatasetExistsError(f"{path} already exists. Use keras_model.write().overwrite().save(path) "
                                     "to replace it, or choose another path.")
        tmp = folder.rstrip("/") + ".tmp-write"
        shutil.rmtree(tmp, ignore_errors=True)
        os.makedirs(tmp)
        try:
            save_portable(self.instance.keras_model, os.path.join(tmp, _KERAS_FILE))
            with open(os.path.join(tmp, _METADATA), "w", encoding="utf-8") as f:
                json.dump(self.instance._metadata(), f, indent=2, default=str)
            if os.path.exists(folder):
                shutil.rmtree(folder)
            os.rename(tmp, folder)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


class _KerasModelReader(MLReader):
    def load(self, path: str) -> KerasModel:
        tf = require("tensorflow")
        folder = local_path(path, setting="path")
        meta_file = os.path.join(folder, _METADATA)
        if not os.path.exists(meta_file):
            raise DatasetNotFoundError(f"{path}: no saved KerasModel here (no {_METADATA}). Save one with "
                                       "keras_model.save(path), or check the path.")
        with open(meta_file, encoding="utf-8") as f:
            meta = json.load(f)
        keras_model = tf.keras.models.load_model(os.path.join(folder, _KERAS_FILE), compile=False)
        model = KerasModel(keras_model, meta["feature_cols"], meta["label_col"], meta["label_mapping"],
                           meta["history"], meta["run_id"], os.path.join(folder, _KERAS_FILE),
                           **meta.get("params", {}))
        model._resetUid(meta["uid"])
        return model
