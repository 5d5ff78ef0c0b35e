"""Elephas' ``SparkModel``, ``ElephasEstimator`` and data helpers over sparkdl_kit's trainer.

Training is synchronous data-parallel Horovod allreduce (:func:`sparkdl_kit.train`), not Elephas'
parameter averaging: every worker holds the whole model, gradients are averaged across workers at each
step, and there is no parameter server. ``batch_size`` is per worker and the learning rate is scaled by
the number of workers (Horovod's convention), so the global batch is ``batch_size * num_workers``.
Elephas' asynchronous modes and their settings (``mode="asynchronous"``/``"hogwild"``, ``frequency``,
``parameter_server_mode``, ``port``) have no meaning here: they give a :class:`CompatWarning`.

Example:
    >>> from sparkdl_kit.compat.elephas import SparkModel, to_simple_rdd
    >>> rdd = to_simple_rdd(sc, x_train, y_train)                         # doctest: +SKIP
    >>> spark_model = SparkModel(model, num_workers=2)                    # model: a compiled Keras model
    >>> spark_model.fit(rdd, epochs=20, batch_size=32, validation_split=0.1)   # doctest: +SKIP
    >>> spark_model.master_network.evaluate(x_test, y_test)               # doctest: +SKIP
"""

from __future__ import annotations

import json
import logging
import os
from typing import Any

import numpy as np
from pyspark import keyword_only
from pyspark.ml import Estimator

from sparkdl_kit._deps import require
from sparkdl_kit.compat._common import (ARRAY, CompatWarning, active_spark, raw_outputs,
                                        records_to_frame, warn_ignored)
from sparkdl_kit.errors import ConfigError, DatasetExistsError, DatasetNotFoundError

logger = logging.getLogger(__name__)

PROJECT = "Elephas"
MODES = ("synchronous", "asynchronous", "hogwild")
SETTINGS_SUFFIX = ".elephas.json"
_ONE_HOT = {"categorical_crossentropy": "sparse_categorical_crossentropy",
            "categorical_accuracy": "sparse_categorical_accuracy"}

__all__ = ["SparkModel", "load_spark_model", "to_simple_rdd", "to_data_frame", "ElephasEstimator",
           "CompatWarning"]


def to_simple_rdd(sc, features, labels):
    """An RDD of ``(features, label)`` pairs, as Elephas builds it.

    Example:
        >>> rdd = to_simple_rdd(sc, x_train, to_categorical(y_train))   # doctest: +SKIP
    """
    return sc.parallelize(list(zip(features, labels)))


def to_data_frame(sc, features, labels, categorical: bool = False):
    """A DataFrame with ``features`` (a Spark ML dense vector) and ``label`` (a double) columns.

    ``categorical=True`` takes one-hot ``labels`` and stores each row's class index.

    Example:
        >>> df = to_data_frame(sc, x_train, y_train_one_hot, categorical=True)   # doctest: +SKIP
    """
    from pyspark.ml.linalg import Vectors

    spark = active_spark()
    labels = np.asarray(labels)
    values = labels.argmax(axis=1) if categorical else labels.reshape(len(labels), -1)[:, 0]
    rows = [(Vectors.dense(np.asarray(x, dtype=float).reshape(-1)), float(y)) for x, y in zip(features, values)]
    return spark.createDataFrame(sc.parallelize(rows), ["features", "label"])


def _one_hot_to_index(record):
    """``(x, one-hot y)`` -> ``(x, class index)``; run by ``rdd.map``."""
    x, y = record
    return x, int(np.argmax(y))


def _single_field(x):
    """One feature array as a one-field record; run by ``rdd.map``."""
    return (x,)


def _loss_name(loss: Any) -> str | None:
    if isinstance(loss, str):
        return loss
    if isinstance(loss, dict):
        return loss.get("config", {}).get("name") or loss.get("class_name")
    return getattr(loss, "name", None) or getattr(loss, "__name__", None)


def _legacy_optimizer(optimizer) -> tuple[dict, float]:
    """The model's optimizer as a config the trainer turns into its Keras 2 (legacy) twin, and its rate."""
    tf = require("tensorflow")
    from sparkdl_kit.train.worker import build_optimizer

    config = tf.keras.optimizers.serialize(optimizer)
    rate = config.get("config", {}).get("learning_rate", 1e-3)
    if isinstance(rate, dict):
        raise ConfigError(f"the model's optimizer uses a learning-rate schedule ({rate.get('class_name')}); "
                          "expected a constant rate. Fix: compile with a constant rate and add the schedule "
                          "as a Keras callback.")
    build_optimizer(config, float(rate))   # no legacy twin (Horovod needs one): a ConfigError here, on the driver
    return config, float(rate)


def _metric_names(metrics) -> list[str]:
    names = []
    for m in metrics or []:
        names.append(m if isinstance(m, str) else
                     (m.get("config", {}).get("name") if isinstance(m, dict) else getattr(m, "name", str(m))))
    return names


class SparkModel:
    """A compiled Keras model trained on Spark data, as Elephas' ``SparkModel``.

    Args:
        model: a compiled ``tf.keras.Model`` (its optimizer, loss and metrics are used for training).
        mode: ``"synchronous"``; Elephas' ``"asynchronous"`` and ``"hogwild"`` warn and train synchronously.
        frequency, parameter_server_mode, port: Elephas' parameter-server settings; passing any warns.
        num_workers: the number of Horovod workers (default: every Spark task slot).
        custom_objects: custom layers/losses, used when loading a saved model.
        batch_size: rows per step on each worker (``fit`` may override it).
        store: the folder URL for runs (checkpoints, logs, the materialized dataset).
        seed: seeds shuffling on the workers.

    Raises:
        ConfigError: the model is not compiled, or ``mode`` is unknown.

    Example:
        >>> spark_model = SparkModel(model, num_workers=2, batch_size=32)   # doctest: +SKIP
        >>> spark_model.fit(rdd, epochs=10)                                 # doctest: +SKIP
        >>> probs = spark_model.predict(x_test)                             # doctest: +SKIP
    """

    def __init__(self, model, mode: str = "synchronous", frequency: str | None = None,
                 parameter_server_mode: str | None = None, num_workers: int | None = None,
                 custom_objects: dict | None = None, batch_size: int = 32, port: int | None = None, *args: Any,
                 store: str = "file:///tmp/sparkdl_kit/elephas", seed: int = 0, **kwargs: Any):
        if getattr(model, "optimizer", None) is None or getattr(model, "loss", None) is None:
            raise ConfigError("SparkModel(model): the model is not compiled; expected a compiled tf.keras.Model. "
                              "Fix: call model.compile(optimizer=..., loss=..., metrics=[...]) first.")
        if mode not in MODES:
            raise ConfigError(f"mode={mode!r}: expected one of {', '.join(MODES)} ('synchronous' is what runs).")
        if mode != "synchronous":
            warn_ignored(PROJECT, "mode", mode, "training is synchronous allreduce (Horovod): gradients are "
                         "averaged across workers at every step, with no parameter server.")
        for name, value in (("frequency", frequency), ("parameter_server_mode", parameter_server_mode),
                            ("port", port)):
            if value is not None:
                warn_ignored(PROJECT, name, value, "there is no parameter server; workers synchronise every step.")
        for i, value in enumerate(args):
            warn_ignored(PROJECT, f"positional argument {i + 9}", value, "not an argument sparkdl_kit knows.")
        for name, value in kwargs.items():
            warn_ignored(PROJECT, name, value, "not an argument sparkdl_kit knows.")
        self._master_network = model
        self.mode = mode
        self.num_workers = num_workers
        self.custom_objects = custom_objects or {}
        self.batch_size = batch_size
        self.store = store
        self.seed = seed
        self.history: dict[str, list[float]] = {}
        self.training_model = None

    @property
    def master_network(self):
        """The Keras model, with the trained weights after ``fit``."""
        return self._master_network

    def _train_settings(self, one_hot: bool) -> dict[str, Any]:
        config = self._master_network.get_compile_config()
        loss = config["loss"]
        metrics = _metric_names(config.get("metrics"))
        if one_hot:
            if _loss_name(loss) not in _ONE_HOT:
                raise ConfigError(f"the labels are one-hot, but the loss is {_loss_name(loss)!r}; expected "
                                  "'categorical_crossentropy'. Fix: pass class indices as labels instead.")
            loss = _ONE_HOT[_loss_name(loss)]
            metrics = [_ONE_HOT.get(m, m) for m in metrics]
        optimizer, rate = _legacy_optimizer(self._master_network.optimizer)
        return {"loss": loss, "metrics": metrics, "optimizer": optimizer, "learning_rate": rate}

    def fit_frame(self, df, epochs: int = 10, batch_size: int | None = None, verbose: int = 0,
                  validation_split: float = 0.1, one_hot: bool = False, features_col: str = "features",
                  label_col: str = "label"):
        """Trains on a DataFrame of features and labels; returns the trained :class:`sparkdl_kit.KerasModel`.

        ``one_hot`` says the model was compiled for one-hot labels while ``label_col`` holds class indices.
        """
        from sparkdl_kit.ml import KerasEstimator

        estimator = KerasEstimator(
            model=self._master_network, feature_cols=[features_col], label_col=label_col,
            batch_size=batch_size or self.batch_size, epochs=epochs, num_proc=self.num_workers, store=self.store,
            validation=float(validation_split or 0), verbose=bool(verbose), seed=self.seed,
            **self._train_settings(one_hot))
        logger.info("SparkModel: %d epoch(s) of synchronous allreduce on %s worker(s)", epochs,
                    self.num_workers or "all")
        trained = estimator.fit(df)
        self._master_network.set_weights(trained.keras_model.get_weights())
        self.history = trained.history
        self.training_model = trained
        return trained

    def fit(self, rdd_or_df, epochs: int = 10, batch_size: int = 32, verbose: int = 0,
            validation_split: float = 0.1, **kwargs: Any) -> None:
        """Trains on an RDD of ``(features, label)`` pairs (labels one-hot or class indices) or a DataFrame with
        ``features`` and ``label`` columns; the master network gets the trained weights.

        Raises:
            WorkerFailedError: a worker raised or died.
        """
        for name, value in kwargs.items():
            warn_ignored(PROJECT, f"fit({name}=...)", value, "not an argument sparkdl_kit knows.")
        from pyspark.sql import functions as F

        spark = active_spark()
        one_hot = False
        if hasattr(rdd_or_df, "rdd") and hasattr(rdd_or_df, "columns"):
            df = rdd_or_df
        else:
            rdd = rdd_or_df
            first = rdd.first()
            if np.size(first[1]) > 1:
                one_hot, rdd = True, rdd.map(_one_hot_to_index)
            df, kinds = records_to_frame(spark, rdd, names=["features", "label"])
            if kinds[1] == ARRAY:
                raise ConfigError("the labels of the RDD are arrays of one value; expected class indices, one-hot "
                                  "arrays or numbers.")
        label_type = df.schema["label"].dataType.simpleString()
        if label_type in ("double", "float") and _loss_name(self._master_network.loss) in _ONE_HOT:
            one_hot, df = True, df.withColumn("label", F.col("label").cast("long"))
        self.fit_frame(df, epochs, batch_size, verbose, validation_split, one_hot)

    def predict(self, data):
        """The model's outputs: for a numpy array (on the driver) or an RDD of feature arrays (in Spark
        tasks), a numpy array of shape ``(rows, outputs)``; for a DataFrame with a ``features`` column, the
        DataFrame with ``prediction`` (and, for classifiers, ``probability``) columns appended."""
        if isinstance(data, np.ndarray):
            return self._master_network.predict(data, verbose=0)
        if hasattr(data, "rdd") and hasattr(data, "columns"):
            from sparkdl_kit.ml import KerasModel

            return KerasModel.from_keras(self._master_network, feature_cols=["features"]).transform(data)
        df, _ = records_to_frame(active_spark(), data.map(_single_field), names=["features"], kinds=(ARRAY,))
        rows = raw_outputs(df, self._master_network, "features", "output").select("output").collect()
        return np.asarray([r[0] for r in rows], dtype=np.float32).reshape(len(rows), -1)

    def evaluate(self, x_test, y_test, **kwargs: Any):
        """The master network's ``evaluate(x_test, y_test)`` (loss and metrics) on the driver."""
        kwargs.setdefault("verbose", 0)
        return self._master_network.evaluate(x_test, y_test, **kwargs)

    def save(self, path: str, overwrite: bool = False) -> None:
        """Saves the compiled model (``.h5``, or the ``.keras`` format for other names) and this object's
        settings (``<path>.elephas.json``), each written aside and renamed.

        Raises:
            DatasetExistsError: ``path`` exists and ``overwrite`` is False.
        """
        if os.path.exists(path) and not overwrite:
            raise DatasetExistsError(f"{path} already exists; pass overwrite=True to replace it, or another path.")
        base, ext = os.path.splitext(path)
        tmp = f"{base}.tmp-save{ext if ext in ('.h5', '.keras') else '.keras'}"
        self._master_network.save(tmp)
        settings = {"mode": self.mode, "num_workers": self.num_workers, "batch_size": self.batch_size,
                    "store": self.store, "seed": self.seed}
        with open(tmp + ".json", "w", encoding="utf-8") as f:
            json.dump(settings, f)
        os.replace(tmp, path)
        os.replace(tmp + ".json", path + SETTINGS_SUFFIX)


def load_spark_model(path: str, custom_objects: dict | None = None) -> SparkModel:
    """Loads a model saved by :meth:`SparkModel.save` (or any compiled Keras model file) as a SparkModel.

    Raises:
        DatasetNotFoundError: nothing is at ``path``.

    Example:
        >>> spark_model = load_spark_model("/models/digits.h5")   # doctest: +SKIP
    """
    tf = require("tensorflow")
    if not os.path.exists(path):
        raise DatasetNotFoundError(f"no saved model at {path}; save one with spark_model.save(path).")
    model = tf.keras.models.load_model(path, custom_objects=custom_objects)
    settings = {}
    if os.path.exists(path + SETTINGS_SUFFIX):
        with open(path + SETTINGS_SUFFIX, encoding="utf-8") as f:
            settings = json.load(f)
    return SparkModel(model, custom_objects=custom_objects, **settings)


#: ElephasEstimator settings: name -> (Elephas setter suffix, default).
ESTIMATOR_SETTINGS = {
    "keras_model_config": ("keras_model_config", None), "optimizer_config": ("optimizer_config", None),
    "loss": ("loss", None), "metrics": ("metrics", ["accuracy"]), "epochs": ("epochs", 10),
    "batch_size": ("batch_size", 32), "num_workers": ("num_workers", None), "verbose": ("verbosity", 0),
    "validation_split": ("validation_split", 0.1), "categorical": ("categorical_labels", True),
    "nb_classes": ("nb_classes", None), "features_col": ("features_col", "features"),
    "label_col": ("label_col", "label"), "output_col": ("output_col", "prediction"),
    "custom_objects": ("custom_objects", None), "mode": ("mode", "synchronous"), "frequency": ("frequency", None),
    "parameter_server_mode": ("parameter_server_mode", None), "store": ("store", "file:///tmp/sparkdl_kit/elephas"),
}


def _setter(name: str):
    def set_value(self, value):
        self._settings[name] = value
        return self

    set_value.__doc__ = f"Sets ``{name}``; returns self."
    return set_value


class ElephasEstimator(Estimator):
    """Elephas' Spark ML estimator: a Keras model from its JSON config, trained on a DataFrame.

    Set it up with Elephas' setters (``set_keras_model_config(model.to_json())``,
    ``set_optimizer_config(serialize(optimizer))``, ``set_loss``, ``set_metrics``, ``set_epochs``, ...) or
    with the same names as keywords. ``fit`` returns a :class:`sparkdl_kit.KerasModel`, whose ``transform``
    appends ``output_col`` (the predicted class index, or the value for regression). With
    ``categorical_labels`` (the default), ``label_col`` holds class indices; a categorical cross-entropy
    loss is then trained as its sparse form.

    Example:
        >>> estimator = ElephasEstimator()
        >>> estimator.set_keras_model_config(model.to_json())                    # doctest: +SKIP
        >>> estimator.set_optimizer_config(serialize(Adam(0.002)))              # doctest: +SKIP
        >>> fitted = Pipeline(stages=[estimator.set_epochs(10)]).fit(train_df)  # doctest: +SKIP
    """

    @keyword_only
    def __init__(self, **kwargs: Any):
        super().__init__()
        self._settings = {name: default for name, (_, default) in ESTIMATOR_SETTINGS.items()}
        unknown = sorted(set(kwargs) - set(ESTIMATOR_SETTINGS))
        if unknown:
            raise ConfigError(f"ElephasEstimator: unknown setting(s) {', '.join(unknown)}. Known: "
                              f"{', '.join(ESTIMATOR_SETTINGS)}.")
        self._settings.update(kwargs)

    def get(self, name: str) -> Any:
        """The value of setting ``name``."""
        return self._settings[name]

    def copy(self, extra=None) -> "ElephasEstimator":
        that = super().copy(extra)
        that._settings = dict(self._settings)
        return that

    def _compiled_model(self):
        tf = require("tensorflow")
        config, optimizer = self._settings["keras_model_config"], self._settings["optimizer_config"]
        if not config:
            raise ConfigError("ElephasEstimator: no model; call set_keras_model_config(model.to_json()).")
        if self._settings["loss"] is None:
            raise ConfigError("ElephasEstimator: no loss; call set_loss('categorical_crossentropy') or another.")
        model = tf.keras.models.model_from_json(config, custom_objects=self._settings["custom_objects"])
        optimizer = tf.keras.optimizers.deserialize(optimizer) if optimizer else "adam"
        model.compile(optimizer=optimizer, loss=self._settings["loss"], metrics=list(self._settings["metrics"]))
        return model

    def _fit(self, dataset):
        from pyspark.sql import functions as F

        s = self._settings
        spark_model = SparkModel(self._compiled_model(), mode=s["mode"], frequency=s["frequency"],
                                 parameter_server_mode=s["parameter_server_mode"], num_workers=s["num_workers"],
                                 custom_objects=s["custom_objects"], batch_size=s["batch_size"], store=s["store"])
        one_hot = bool(s["categorical"]) and _loss_name(s["loss"]) in _ONE_HOT
        df = dataset.withColumn(s["label_col"], F.col(s["label_col"]).cast("long")) if s["categorical"] else dataset
        trained = spark_model.fit_frame(df, s["epochs"], s["batch_size"], s["verbose"], s["validation_split"],
                                        one_hot, s["features_col"], s["label_col"])
        return trained.setParams(prediction_col=s["output_col"])


for _name, (_suffix, _default) in ESTIMATOR_SETTINGS.items():
    setattr(ElephasEstimator, f"set_{_suffix}", _setter(_name))
