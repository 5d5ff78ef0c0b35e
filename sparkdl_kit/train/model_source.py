"""Where a worker gets its Keras model: a model object, a build function, a saved file, or 'module:function'.

The driver turns what the user gave into a :class:`ModelSource` of plain values (the model object
becomes the bytes of a ``.keras`` file), which workers turn back into a fresh model.
"""

from __future__ import annotations

import dataclasses
import importlib
import os
import tempfile
from typing import Any, Callable

from sparkdl_kit._deps import require
from sparkdl_kit.errors import ConfigError

MODEL_SPEC_HELP = ("Pass a tf.keras.Model, a function returning one, the path of a saved model "
                   "(.keras, .h5 or a SavedModel folder), or 'package.module:function'.")


@dataclasses.dataclass(frozen=True)
class ModelSource:
    """A picklable recipe for a Keras model.

    Attributes:
        kind: ``"bytes"`` (a serialized ``.keras`` file), ``"function"``, ``"path"`` or ``"import"``.
        payload: the bytes, the callable, the path, or the ``module:function`` string.
    """

    kind: str
    payload: Any

    @classmethod
    def of(cls, model: Any) -> "ModelSource":
        """Wraps what the user passed; raises ConfigError naming the setting when it is unusable."""
        tf = require("tensorflow")
        if isinstance(model, ModelSource):
            return model
        if isinstance(model, tf.keras.Model):
            return cls("bytes", serialize_model(model))
        if isinstance(model, str) and _looks_like_import(model):
            resolve_import(model)
            return cls("import", model)
        if isinstance(model, (str, os.PathLike)):
            path = os.fspath(model)
            if path.startswith("file://"):
                path = path[len("file://"):]
            if not os.path.exists(path):
                raise ConfigError(f"model={model!r}: no such file or folder. {MODEL_SPEC_HELP}")
            return cls("path", os.path.abspath(path))
        if callable(model):
            return cls("function", model)
        raise ConfigError(f"model: got {type(model).__name__}. {MODEL_SPEC_HELP}")

    def load(self):
        """Builds or loads a fresh, uncompiled Keras model (on a worker or on the driver)."""
        tf = require("tensorflow")
        if self.kind == "bytes":
            return deserialize_model(self.payload)
        if self.kind == "path":
            return tf.keras.models.load_model(self.payload, compile=False)
        factory = resolve_import(self.payload) if self.kind == "import" else self.payload
        model = factory()
        if not isinstance(model, tf.keras.Model):
            raise ConfigError(f"model: the function {getattr(factory, '__name__', factory)!r} returned "
                              f"{type(model).__name__}, not a tf.keras.Model. {MODEL_SPEC_HELP}")
        return model


def save_portable(model, path: str) -> None:
    """Saves architecture and weights in the Keras v3 ``.keras`` format, without the optimizer.

    A model compiled with Horovod's DistributedOptimizer is cloned first, so that the file loads anywhere
    without Horovod.
    """
    if getattr(model, "optimizer", None) is not None:
        tf = require("tensorflow")
        plain = tf.keras.models.clone_model(model)
        plain.set_weights(model.get_weights())
        model = plain
    model.save(path)


def serialize_model(model) -> bytes:
    """The bytes of ``model`` saved by :func:`save_portable`."""
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "model.keras")
        save_portable(model, path)
        with open(path, "rb") as f:
            return f.read()


def deserialize_model(data: bytes):
    """The model saved by :func:`serialize_model`, uncompiled."""
    tf = require("tensorflow")
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "model.keras")
        with open(path, "wb") as f:
            f.write(data)
        return tf.keras.models.load_model(path, compile=False)


def _looks_like_import(spec: str) -> bool:
    module, sep, attr = spec.partition(":")
    return bool(sep) and bool(module) and attr.isidentifier() and "/" not in module


def resolve_import(spec: str) -> Callable[[], Any]:
    """The function named by ``'package.module:function'``."""
    module_name, _, attr = spec.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as e:
        raise ConfigError(f"model={spec!r}: cannot import module '{module_name}' ({e}). Check the name "
                          f"and that it is importable on the driver and the executors (PYTHONPATH, "
                          f"--py-files). {MODEL_SPEC_HELP}") from e
    factory = getattr(module, attr, None)
    if not callable(factory):
        raise ConfigError(f"model={spec!r}: module '{module_name}' has no function '{attr}'. {MODEL_SPEC_HELP}")
    return factory
