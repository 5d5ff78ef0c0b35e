"""Driver side of the model: load what the user gave, serialize it once, broadcast its bytes once per application.

Executors receive a :class:`ModelRef` of plain values: the SHA-256 of the ``.keras`` bytes (the key of the
per-worker model cache) and the broadcast holding those bytes, read only on a cache miss.

Example:
    >>> ref = model_ref(spark.sparkContext, "/models/digits.keras")   # doctest: +SKIP
    >>> ref.key[:12]                                                    # doctest: +SKIP
    '3f9a0c1d2e4b'
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import os
import threading
from typing import Any

from sparkdl_kit._deps import require
from sparkdl_kit.errors import ConfigError, DatasetNotFoundError
from sparkdl_kit.train.model_source import serialize_model

logger = logging.getLogger(__name__)

#: The file name of the Keras model inside a saved :class:`sparkdl_kit.KerasModel` folder.
KERAS_MODEL_FILE = "model.keras"
SAVED_KERAS_MODEL_MARKER = "metadata.json"

_BROADCASTS: dict[tuple[str, str], Any] = {}
_LOCK = threading.Lock()


@dataclasses.dataclass(frozen=True)
class ModelRef:
    """What a task needs to get the model: a cache key and the broadcast of the model's ``.keras`` bytes."""

    key: str
    broadcast: Any

    def load_bytes(self) -> bytes:
        return self.broadcast.value


def local_model_path(path: str | os.PathLike) -> str:
    """``path`` without a ``file://`` scheme; raises DatasetNotFoundError naming it when nothing is there."""
    text = os.fspath(path)
    if text.startswith("file://"):
        text = text[len("file://"):]
    if not os.path.exists(text):
        raise DatasetNotFoundError(
            f"model path '{path}' does not exist. Fix: pass the path of a Keras model file (.keras, .h5), a "
            "SavedModel folder, or a folder written by KerasModel.save(path).")
    return text


def load_keras(model_or_path: Any):
    """Returns a Keras model from a model object or a path (``.keras``/``.h5`` file, SavedModel folder, or a
    folder saved by :class:`sparkdl_kit.KerasModel`).

    Raises:
        DatasetNotFoundError: the path does not exist.
        ConfigError: the path holds no Keras model, or the object is not a ``tf.keras.Model``.
    """
    tf = require("tensorflow")
    if isinstance(model_or_path, tf.keras.Model):
        return model_or_path
    if not isinstance(model_or_path, (str, os.PathLike)):
        raise ConfigError(f"model: got {type(model_or_path).__name__}; expected a tf.keras.Model or the path of "
                          "a saved Keras model (.keras, .h5, a SavedModel folder, or a KerasModel folder).")
    path = local_model_path(model_or_path)
    if os.path.isfile(os.path.join(path, SAVED_KERAS_MODEL_MARKER)):
        path = os.path.join(path, KERAS_MODEL_FILE)
    try:
        model = tf.keras.models.load_model(path, compile=False)
    except (OSError, ValueError, TypeError, KeyError, ImportError, AttributeError) as e:
        raise ConfigError(
            f"model path '{model_or_path}' holds no Keras model that can be loaded ({type(e).__name__}: "
            f"{str(e)[:300]}). Fix: pass a file saved by model.save('x.keras'), an .h5 file, a SavedModel "
            "folder, or a folder written by KerasModel.save(path).") from e
    if not isinstance(model, tf.keras.Model):
        raise ConfigError(f"model path '{model_or_path}' holds a {type(model).__name__}, not a Keras model "
                          "(a SavedModel without Keras metadata?). Save it with model.save('x.keras').")
    return model


def model_bytes(model) -> tuple[bytes, str]:
    """The model's portable ``.keras`` bytes and their SHA-256 (hex)."""
    data = serialize_model(model)
    return data, hashlib.sha256(data).hexdigest()


def model_ref(sc, model, data: bytes | None = None, key: str | None = None) -> ModelRef:
    """Broadcasts the model's bytes (once per application and model) and returns the reference tasks use.

    Args:
        sc: the SparkContext.
        model: a Keras model (serialized unless ``data``/``key`` are given).
        data, key: the model's bytes and hash, when the caller has them already.
    """
    if data is None or key is None:
        data, key = model_bytes(model)
    cache_key = (sc.applicationId, key)
    with _LOCK:
        bc = _BROADCASTS.get(cache_key)
        if bc is None:
            bc = sc.broadcast(data)
            _BROADCASTS[cache_key] = bc
            logger.info("model %s broadcast (%.1f MB)", key[:12], len(data) / 1e6)
    return ModelRef(key, bc)
