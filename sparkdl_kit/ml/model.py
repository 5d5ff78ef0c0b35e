"""KerasModel: a trained Keras model as a Spark ML Model, with Spark ML persistence."""

from __future__ import annotations

import json
import os
import shutil
from typing import Any

from pyspark.ml import Model
from pyspark.ml.util import MLReadable, MLReader, MLWritable, MLWriter

from sparkdl_kit._deps import require
from sparkdl_kit.errors import DatasetExistsError, DatasetNotFoundError
from sparkdl_kit.store.run_store import local_path
from sparkdl_kit.train.model_source import save_portable

_METADATA = "metadata.json"
_KERAS_FILE = "model.keras"


class KerasModel(Model, MLWritable, MLReadable):
    """A trained Keras model with what it was trained on: feature columns, label mapping, history, run id.

    ``save(path)`` writes ``metadata.json`` and the Keras model in the portable ``.keras`` format;
    ``KerasModel.load(path)`` reads it back.

    Example:
        >>> keras_model = estimator.fit(df)            # doctest: +SKIP
        >>> keras_model.save("file:///tmp/models/digits")          # doctest: +SKIP
        >>> again = KerasModel.load("file:///tmp/models/digits")   # doctest: +SKIP
    """

    def __init__(self, keras_model=None, feature_cols: list[str] | None = None, label_col: str | None = None,
                 label_mapping: list[Any] | None = None, history: dict[str, list[float]] | None = None,
                 run_id: str | None = None, model_path: str | None = None):
        super().__init__()
        self.keras_model = keras_model
        self.feature_cols = list(feature_cols or [])
        self.label_col = label_col
        self.label_mapping = label_mapping
        self.history = history or {}
        self.run_id = run_id
        self.model_path = model_path

    def _transform(self, dataset):
        raise NotImplementedError(
            "KerasModel.transform (batch inference on DataFrames) is not available in this version; "
            "use keras_model.keras_model.predict(...) on collected rows meanwhile.")

    def write(self) -> MLWriter:
        return _KerasModelWriter(self)

    @classmethod
    def read(cls) -> MLReader:
        return _KerasModelReader()

    def _metadata(self) -> dict[str, Any]:
        return {"class": "sparkdl_kit.KerasModel", "uid": self.uid, "feature_cols": self.feature_cols,
                "label_col": self.label_col, "label_mapping": self.label_mapping, "history": self.history,
                "run_id": self.run_id}


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
                           meta["history"], meta["run_id"], os.path.join(folder, _KERAS_FILE))
        model._resetUid(meta["uid"])
        return model
