"""What runs on each Horovod rank: the Keras model compiled for allreduce, fed by this rank's shard."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import tempfile
from typing import Any, Sequence

from sparkdl_kit._deps import require
from sparkdl_kit.errors import ConfigError
from sparkdl_kit.store import RunStore
from sparkdl_kit.train.config import TrainConfig
from sparkdl_kit.train.model_source import ModelSource, save_portable

TRAIN, VALIDATION = "train", "validation"


@dataclasses.dataclass(frozen=True)
class TrainJob:
    """Everything a worker needs, as plain picklable values."""

    model: ModelSource
    dataset_url: str
    config: TrainConfig
    store_url: str
    run_id: str


@dataclasses.dataclass
class Trainer:
    """One worker's training objects, shared by the fixed-size and the elastic loop."""

    job: TrainJob
    model: Any
    optimizer: Any
    checkpoint: Any
    store: RunStore
    dataset: Any
    initial_epoch: int
    history: dict[str, list[float]]

    @property
    def config(self) -> TrainConfig:
        return self.job.config

    def fit(self, first_epoch: int, history: dict[str, list[float]], *, first: Sequence[Any] = (),
            last: Sequence[Any] = ()) -> None:
        """Fits epochs ``first_epoch`` .. ``epochs - 1`` on this rank's shard of the current world.

        Every rank records the averaged metrics into ``history``; rank 0 also checkpoints each epoch.
        The callbacks in ``first`` run before all others (the initial broadcast), those in ``last``
        after all others (the elastic commit).
        """
        tf = require("tensorflow")
        hvd = require("horovod.tensorflow.keras")
        from sparkdl_kit.train.callbacks import EpochCheckpoint, EpochHistory, ProgressLine

        config, dataset = self.config, self.dataset
        rank, size = hvd.rank(), hvd.size()
        steps = dataset.steps_per_epoch(TRAIN, config.batch_size, size)
        # Validation runs only when every rank gets at least one full batch (else evaluate would never end).
        validation_steps = (dataset.steps_per_epoch(VALIDATION, config.batch_size, size)
                            if VALIDATION in dataset.splits and dataset.row_count(VALIDATION) else 0)
        callbacks = [*first, hvd.callbacks.MetricAverageCallback()]
        if config.warmup_epochs > 0 and first_epoch < config.warmup_epochs:
            callbacks.append(hvd.callbacks.LearningRateWarmupCallback(initial_lr=scaled_learning_rate(config, size),
                                                                      warmup_epochs=config.warmup_epochs,
                                                                      steps_per_epoch=steps))
        # The user's callbacks see metrics averaged across ranks; what they add to the logs is recorded below.
        callbacks.extend(config.callbacks() if callable(config.callbacks) else config.callbacks)
        callbacks.append(EpochHistory(history))
        if rank == 0:
            callbacks.append(tf.keras.callbacks.TensorBoard(self.store.logs, profile_batch=0))
            callbacks.append(EpochCheckpoint(self.store, self.checkpoint, history))
            if config.verbose:
                callbacks.append(ProgressLine(config.epochs))
        callbacks.extend(last)

        shard = (rank, size)
        with contextlib.ExitStack() as stack:
            train = stack.enter_context(dataset.tf_dataset(
                TRAIN, batch_size=config.batch_size, shard=shard, shuffle=config.shuffle,
                seed=config.seed + first_epoch, num_epochs=None))
            fit_kwargs: dict[str, Any] = {}
            if validation_steps:
                fit_kwargs["validation_data"] = stack.enter_context(dataset.tf_dataset(
                    VALIDATION, batch_size=config.batch_size, shard=shard, shuffle=False, num_epochs=None))
                fit_kwargs["validation_steps"] = validation_steps
            self.model.fit(train, steps_per_epoch=steps, epochs=config.epochs, initial_epoch=first_epoch,
                           callbacks=callbacks, verbose=0, **fit_kwargs)


def prepare(job: TrainJob) -> Trainer:
    """Builds, compiles and (when the run has a checkpoint) restores the model on this rank."""
    tf = require("tensorflow")
    hvd = require("horovod.tensorflow.keras")
    from sparkdl_kit.dataset import Dataset

    config = job.config
    tf.keras.utils.set_random_seed(config.seed)
    dataset = Dataset.load(job.dataset_url)
    store = RunStore(job.store_url, job.run_id)
    model = job.model.load()
    learning_rate = scaled_learning_rate(config, hvd.size())
    optimizer = hvd.DistributedOptimizer(build_optimizer(config.optimizer, learning_rate))
    model.compile(optimizer=optimizer, loss=config.loss, metrics=list(config.metrics))
    # Slots exist before the restore (restored at once, not deferred) and before Elastic Horovod's state
    # copies the optimizer's variables (a worker that joins later must hold the same variables).
    optimizer._create_all_weights(model.trainable_variables)
    checkpoint = tf.train.Checkpoint(model=model, optimizer=optimizer)
    trainer = Trainer(job, model, optimizer, checkpoint, store, dataset, initial_epoch=0, history={})
    latest = store.latest_checkpoint()
    if latest:
        trainer.initial_epoch, folder = latest
        checkpoint.read(os.path.join(folder, "ckpt")).expect_partial()
        trainer.history = {k: v[:trainer.initial_epoch] for k, v in store.read_history().items()}
    return trainer


def scaled_learning_rate(config: TrainConfig, size: int) -> float:
    """The learning rate for ``size`` workers, scaled as ``config.lr_scaling`` says."""
    return config.learning_rate * (size if config.lr_scaling == "linear" else 1)


def train_worker(job: TrainJob) -> dict[str, Any]:
    """Trains on this rank's shard; rank 0 checkpoints each epoch and saves the final model.

    With ``job.config.elastic`` the epochs run inside Elastic Horovod's retry loop
    (:func:`sparkdl_kit.train.elastic.fit_elastic`). Returns ``{"rank", "history", "initial_epoch",
    "model_path"}`` (``model_path`` on rank 0 only; ``rank`` is the rank at the end of the run).
    """
    hvd = require("horovod.tensorflow.keras")

    hvd.init()
    trainer = prepare(job)
    if job.config.elastic:
        from sparkdl_kit.train.elastic import fit_elastic

        history = fit_elastic(trainer)
    else:
        history = dict(trainer.history)
        if trainer.initial_epoch < job.config.epochs:
            trainer.fit(trainer.initial_epoch, history, first=[hvd.callbacks.BroadcastGlobalVariablesCallback(0)])

    rank = hvd.rank()
    result = {"rank": rank, "history": history, "initial_epoch": trainer.initial_epoch, "model_path": None}
    if rank == 0:
        save_model_atomically(trainer.model, trainer.store.model_file)
        result["model_path"] = trainer.store.model_file
    return result


_LEGACY_CLIPPING = ("clipnorm", "clipvalue", "global_clipnorm")
_OPTIMIZER_FIX = "Pass a name such as 'adam', or the dict of tf.keras.optimizers.serialize(optimizer)."


def build_optimizer(spec: Any, learning_rate: float):
    """A Keras 2 (legacy, Horovod-compatible) optimizer from a name or a serialized config.

    A config of a new-style optimizer (``tf.keras.optimizers.serialize(tf.keras.optimizers.Adam(...))``)
    gives the legacy optimizer of the same class, with the settings that one knows.

    Example:
        >>> build_optimizer({"class_name": "Adam", "config": {"beta_1": 0.8}}, 0.01)     # doctest: +SKIP
    """
    tf = require("tensorflow")
    legacy = tf.keras.optimizers.legacy
    classes = {name.lower(): getattr(legacy, name) for name in dir(legacy)
               if name[0].isupper() and name != "Optimizer"}
    if isinstance(spec, str):
        name, settings = spec, {}
    else:
        try:
            name, settings = spec["class_name"], dict(spec.get("config") or {})
        except (TypeError, KeyError, AttributeError, ValueError) as e:
            raise ConfigError(f"optimizer={spec!r}: not a usable optimizer config ({e}). {_OPTIMIZER_FIX}") from e
    optimizer_class = classes.get(str(name).lower())
    if optimizer_class is None:
        raise ConfigError(f"optimizer={spec!r}: unknown; expected one of {', '.join(sorted(classes))}, "
                          "or a config dict from tf.keras.optimizers.serialize(optimizer).")
    known = set(optimizer_class().get_config()) | set(_LEGACY_CLIPPING)
    settings = {k: v for k, v in settings.items() if k in known and v is not None}
    try:
        return optimizer_class.from_config(dict(settings, learning_rate=learning_rate))
    except (TypeError, ValueError) as e:
        raise ConfigError(f"optimizer={spec!r}: not a usable optimizer config ({e}). {_OPTIMIZER_FIX}") from e


def save_model_atomically(model, path: str) -> None:
    """Saves ``model`` (Keras v3 format, no optimizer) to ``path`` through a temporary file and a rename."""
    folder = os.path.dirname(path)
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".model.tmp-", suffix=".keras", dir=folder)
    os.close(fd)
    try:
        save_portable(model, tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
