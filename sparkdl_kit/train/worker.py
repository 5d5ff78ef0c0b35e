"""What runs on each Horovod rank: the Keras model compiled for allreduce, fed by this rank's shard."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import tempfile
from typing import Any

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


def train_worker(job: TrainJob) -> dict[str, Any]:
    """Trains on this rank's shard; rank 0 checkpoints each epoch and saves the final model.

    Returns ``{"rank", "history", "initial_epoch", "model_path"}`` (``model_path`` on rank 0 only).
    """
    tf = require("tensorflow")
    hvd = require("horovod.tensorflow.keras")
    from sparkdl_kit.dataset import Dataset

    hvd.init()
    rank, size, config = hvd.rank(), hvd.size(), job.config
    tf.keras.utils.set_random_seed(config.seed)
    dataset = Dataset.load(job.dataset_url)
    store = RunStore(job.store_url, job.run_id)

    model = job.model.load()
    scaled_lr = config.learning_rate * (size if config.lr_scaling == "linear" else 1)
    optimizer = hvd.DistributedOptimizer(build_optimizer(config.optimizer, scaled_lr))
    model.compile(optimizer=optimizer, loss=config.loss, metrics=list(config.metrics))

    checkpoint = tf.train.Checkpoint(model=model, optimizer=optimizer)
    latest = store.latest_checkpoint()
    initial_epoch = 0
    history = store.read_history() if latest else {}
    if latest:
        initial_epoch, folder = latest
        checkpoint.read(os.path.join(folder, "ckpt")).expect_partial()
        history = {k: v[:initial_epoch] for k, v in history.items()}

    steps = dataset.steps_per_epoch(TRAIN, config.batch_size, size)
    # Validation runs only when every rank gets at least one full batch (else evaluate would never end).
    validation_steps = (dataset.steps_per_epoch(VALIDATION, config.batch_size, size)
                        if VALIDATION in dataset.splits and dataset.row_count(VALIDATION) else 0)
    callbacks = [hvd.callbacks.BroadcastGlobalVariablesCallback(0), hvd.callbacks.MetricAverageCallback()]
    if config.warmup_epochs > 0 and initial_epoch < config.warmup_epochs:
        callbacks.append(hvd.callbacks.LearningRateWarmupCallback(
            initial_lr=scaled_lr, warmup_epochs=config.warmup_epochs, steps_per_epoch=steps))
    # The user's callbacks see metrics averaged across ranks; what they add to the logs is recorded below.
    callbacks.extend(config.callbacks() if callable(config.callbacks) else config.callbacks)
    if rank == 0:
        from sparkdl_kit.train.callbacks import EpochCheckpoint, ProgressLine

        callbacks.append(tf.keras.callbacks.TensorBoard(store.logs, profile_batch=0))
        callbacks.append(EpochCheckpoint(store, checkpoint, history))
        if config.verbose:
            callbacks.append(ProgressLine(config.epochs))

    shard = (rank, size)
    with contextlib.ExitStack() as stack:
        train = stack.enter_context(dataset.tf_dataset(
            TRAIN, batch_size=config.batch_size, shard=shard, shuffle=config.shuffle,
            seed=config.seed + initial_epoch, num_epochs=None))
        fit_kwargs: dict[str, Any] = {}
        if validation_steps:
            fit_kwargs["validation_data"] = stack.enter_context(dataset.tf_dataset(
                VALIDATION, batch_size=config.batch_size, shard=shard, shuffle=False, num_epochs=None))
            fit_kwargs["validation_steps"] = validation_steps
        if initial_epoch < config.epochs:
            fit = model.fit(train, steps_per_epoch=steps, epochs=config.epochs, initial_epoch=initial_epoch,
                            callbacks=callbacks, verbose=0, **fit_kwargs)
            if rank != 0:
                history = {k: [float(x) for x in v] for k, v in fit.history.items()}

    result = {"rank": rank, "history": history, "initial_epoch": initial_epoch, "model_path": None}
    if rank == 0:
        save_model_atomically(model, store.model_file)
        result["model_path"] = store.model_file
    return result


def build_optimizer(spec: Any, learning_rate: float):
    """A Keras 2 (legacy, Horovod-compatible) optimizer from a name or a serialized config."""
    tf = require("tensorflow")
    legacy = tf.keras.optimizers.legacy
    if isinstance(spec, str):
        classes = {name.lower(): getattr(legacy, name) for name in dir(legacy) if name[0].isupper()}
        if spec.lower() not in classes:
            raise ConfigError(f"optimizer={spec!r}: unknown; expected one of {', '.join(sorted(classes))}, "
                              "or a config dict from tf.keras.optimizers.serialize(optimizer).")
        return classes[spec.lower()](learning_rate=learning_rate)
    config = dict(spec)
    config["config"] = dict(config.get("config", {}), learning_rate=learning_rate)
    return tf.keras.optimizers.deserialize(config, use_legacy_optimizer=True)


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
