"""The estimator's Params, declared once: name, doc, default and type converter in one table."""

from __future__ import annotations

from pyspark.ml.param import Param, Params, TypeConverters

from sparkdl_kit.train.config import TrainConfig

_T = TrainConfig()

#: (name, doc, default, converter). The single place where defaults live.
PARAM_TABLE = [
    ("model", "the Keras model: a tf.keras.Model, a function returning one, a saved model path, "
              "or 'module:function'", None, TypeConverters.identity),
    ("feature_cols", "feature column names", None, TypeConverters.toListString),
    ("label_col", "label column name", "label", TypeConverters.toString),
    ("loss", "Keras loss name or object", _T.loss, TypeConverters.identity),
    ("optimizer", "Keras optimizer name or serialized config", _T.optimizer, TypeConverters.identity),
    ("learning_rate", "single-worker learning rate, scaled by lr_scaling", _T.learning_rate, TypeConverters.toFloat),
    ("metrics", "Keras metric names", list(_T.metrics), TypeConverters.toListString),
    ("batch_size", "rows per step on each worker", _T.batch_size, TypeConverters.toInt),
    ("epochs", "total number of epochs", _T.epochs, TypeConverters.toInt),
    ("lr_scaling", "'linear' (learning rate x workers) or 'none'", _T.lr_scaling, TypeConverters.toString),
    ("warmup_epochs", "epochs of learning-rate warm-up (0: off)", float(_T.warmup_epochs), TypeConverters.toFloat),
    ("shuffle", "shuffle training rows", _T.shuffle, TypeConverters.toBoolean),
    ("seed", "random seed", _T.seed, TypeConverters.toInt),
    ("callbacks", "extra Keras callbacks (or a function returning them)", [], TypeConverters.identity),
    ("verbose", "one progress line per epoch in the driver's log", _T.verbose, TypeConverters.toBoolean),
    ("elastic", "Elastic Horovod: a lost worker is replaced and training continues (needs Spark task retries)",
                _T.elastic, TypeConverters.toBoolean),
    ("num_proc", "number of Horovod workers (default: all task slots)", None, TypeConverters.identity),
    ("store", "folder URL for runs: checkpoints, logs, the final model, the dataset",
              "file:///tmp/sparkdl_kit/runs", TypeConverters.toString),
    ("run_id", "run name; an existing run resumes from its last checkpoint (default: a new one)",
               None, TypeConverters.identity),
    ("validation", "fraction of rows held out for validation when fit() is given a DataFrame",
                   0.2, TypeConverters.toFloat),
]

#: The Params that become TrainConfig fields.
TRAIN_CONFIG_PARAMS = [name for name, *_ in PARAM_TABLE if name in TrainConfig.__dataclass_fields__]


def declare_params(cls):
    """Class decorator: adds a Param attribute and a ``get_<name>``/``set_<name>`` pair for each table row."""
    for name, doc, _default, converter in PARAM_TABLE:
        setattr(cls, name, Param(Params._dummy(), name, doc, typeConverter=converter))
    return cls


def set_defaults(instance: Params) -> None:
    instance._setDefault(**{name: default for name, _doc, default, _conv in PARAM_TABLE})
