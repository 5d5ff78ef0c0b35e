"""KerasEstimator: data-parallel Keras training as a Spark ML Estimator (usable in a Pipeline)."""

from __future__ import annotations

import logging
from typing import Any

from pyspark import keyword_only
from pyspark.ml import Estimator

from sparkdl_kit.ml.model import KerasModel
from sparkdl_kit.ml.params import PARAM_TABLE, TRAIN_CONFIG_PARAMS, declare_params, set_defaults
from sparkdl_kit.errors import ConfigError, DatasetNotFoundError

logger = logging.getLogger(__name__)


@declare_params
class KerasEstimator(Estimator):
    """Trains a Keras model with Horovod on Spark; ``fit`` returns a :class:`KerasModel`.

    ``fit`` takes a DataFrame (materialized into ``<store>/<run_id>/dataset`` with a ``validation``
    fraction held out) or an already materialized :class:`sparkdl_kit.Dataset`. Params are set by
    keyword, as in PySpark ML; ``explainParams()`` lists them with their defaults.

    Example:
        >>> est = KerasEstimator(model=build_mlp, feature_cols=["features"], label_col="label",
        ...                      epochs=5, batch_size=32, num_proc=2, store="file:///tmp/runs")
        >>> keras_model = est.fit(df)                                  # doctest: +SKIP
        >>> keras_model.history["val_accuracy"][-1]                    # doctest: +SKIP
    """

    @keyword_only
    def __init__(self, **kwargs: Any):
        super().__init__()
        set_defaults(self)
        self._set_checked(kwargs)

    @keyword_only
    def setParams(self, **kwargs: Any) -> "KerasEstimator":
        """Sets Params by keyword; returns self."""
        return self._set_checked(kwargs)

    def _set_checked(self, kwargs: dict[str, Any]) -> "KerasEstimator":
        known = [name for name, *_ in PARAM_TABLE]
        unknown = sorted(set(kwargs) - set(known))
        if unknown:
            raise ConfigError(f"KerasEstimator: unknown param(s) {', '.join(unknown)}. Known: {', '.join(known)}.")
        return self._set(**kwargs)

    def train_config(self):
        """The :class:`sparkdl_kit.TrainConfig` these Params describe (validated)."""
        from sparkdl_kit.train import TrainConfig

        return TrainConfig(**{name: self.getOrDefault(name) for name in TRAIN_CONFIG_PARAMS})

    def _fit(self, dataset) -> KerasModel:
        from sparkdl_kit.dataset import Dataset, materialize
        from sparkdl_kit.store import RunStore, new_run_id
        from sparkdl_kit.train import train

        if self.getOrDefault("model") is None:
            raise ConfigError("KerasEstimator: model is not set. Pass model=<tf.keras.Model, build function, "
                              "saved model path or 'module:function'>.")
        config = self.train_config()
        store = self.getOrDefault("store")
        run_id = self.getOrDefault("run_id") or new_run_id()
        if not isinstance(dataset, Dataset):
            feature_cols = self.getOrDefault("feature_cols")
            if not feature_cols:
                raise ConfigError("KerasEstimator: feature_cols is not set. Pass feature_cols=['col', ...].")
            url = RunStore(store, run_id).dataset_url
            try:
                dataset = Dataset.load(url)
                logger.info("run %s: reusing the dataset materialized at %s", run_id, url)
            except DatasetNotFoundError:
                dataset = materialize(dataset, url, feature_cols=feature_cols,
                                      label_col=self.getOrDefault("label_col"),
                                      validation=self.getOrDefault("validation"))
        result = train(self.getOrDefault("model"), dataset, config, num_proc=self.getOrDefault("num_proc"),
                       store=store, run_id=run_id)
        model = KerasModel(keras_model=result.model, feature_cols=list(dataset.feature_cols),
                           label_col=dataset.label_col, label_mapping=dataset.label_mapping,
                           history=result.history, run_id=result.run_id, model_path=result.model_path)
        return model
