"""Training settings as one small validated dataclass, shared by `fit`, the estimator and jobs/train.py."""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Sequence

from sparkdl_kit.config import positive_int, replace_validated
from sparkdl_kit.errors import ConfigError

LR_SCALINGS = ("linear", "none")


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """How to train. ``batch_size`` is per worker, as in Horovod: the global batch is ``batch_size * num_proc``.

    Attributes:
        loss: a Keras loss name or a loss function/object.
        optimizer: a Keras optimizer name (``"adam"``, ``"sgd"``, ...) or a ``tf.keras.optimizers``
            config dict (``tf.keras.optimizers.serialize(opt)``).
        learning_rate: the single-worker learning rate, before scaling.
        metrics: Keras metric names, averaged across ranks each epoch.
        batch_size: rows per step on each worker.
        epochs: the total number of epochs of the run (a resumed run continues up to it).
        lr_scaling: ``"linear"`` multiplies the learning rate by the number of workers; ``"none"`` keeps it.
        warmup_epochs: ramp the learning rate up from the single-worker value over this many epochs.
        shuffle: shuffle the training rows (across row groups and within a buffer).
        seed: seeds weights initialisation and shuffling, for repeatable runs.
        callbacks: extra Keras callbacks (or functions returning a list of them, called on each worker).
        verbose: rank 0 prints one progress line per epoch, which reaches the driver's log.
        elastic: run with Elastic Horovod (``horovod.spark.run_elastic``): a lost worker is replaced
            (Spark retries its task) and training continues from the last epoch committed in memory.
            Needs Spark task retries: ``local[N,F]`` with F >= 2 in local mode (see docs/training.md).

    Example:
        >>> TrainConfig(loss="sparse_categorical_crossentropy", batch_size=64, epochs=5).epochs
        5
    """

    loss: Any = "sparse_categorical_crossentropy"
    optimizer: Any = "adam"
    learning_rate: float = 1e-3
    metrics: Sequence[str] = ("accuracy",)
    batch_size: int = 32
    epochs: int = 5
    lr_scaling: str = "linear"
    warmup_epochs: float = 0.0
    shuffle: bool = True
    seed: int = 0
    callbacks: Sequence[Any] | Callable[[], Sequence[Any]] = ()
    verbose: bool = True
    elastic: bool = False

    def __post_init__(self):
        positive_int("batch_size", self.batch_size, "64")
        positive_int("epochs", self.epochs, "5")
        if not isinstance(self.learning_rate, (int, float)) or not self.learning_rate > 0:
            raise ConfigError(f"learning_rate={self.learning_rate!r}: expected a number > 0, such as 0.001.")
        if self.lr_scaling not in LR_SCALINGS:
            raise ConfigError(f"lr_scaling={self.lr_scaling!r}: expected one of {', '.join(LR_SCALINGS)}.")
        if not isinstance(self.warmup_epochs, (int, float)) or self.warmup_epochs < 0:
            raise ConfigError(f"warmup_epochs={self.warmup_epochs!r}: expected a number >= 0 (0 turns warm-up off).")
        if not isinstance(self.elastic, bool):
            raise ConfigError(f"elastic={self.elastic!r}: expected True or False.")
        if isinstance(self.metrics, str):
            object.__setattr__(self, "metrics", (self.metrics,))
        object.__setattr__(self, "metrics", tuple(self.metrics))

    def replace(self, **changes) -> "TrainConfig":
        """A copy with some settings changed (validated again)."""
        return replace_validated(self, "training", changes)

