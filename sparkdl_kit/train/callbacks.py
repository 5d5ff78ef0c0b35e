"""Keras callbacks the worker trainer adds, one per concern."""

from __future__ import annotations

import os
import sys
import time
from typing import Any

from sparkdl_kit._deps import require
from sparkdl_kit.store import RunStore

tf = require("tensorflow")


class EpochHistory(tf.keras.callbacks.Callback):
    """Appends each epoch's metrics to ``history`` (a dict of lists covering the whole run), on every rank.

    Place it after Horovod's MetricAverageCallback, so every rank records the same averaged values.

    Example:
        >>> history = {}
        >>> model.fit(data, epochs=2, callbacks=[EpochHistory(history)])   # doctest: +SKIP
        >>> history["loss"]                                                  # doctest: +SKIP
        [0.81, 0.42]
    """

    def __init__(self, history: dict[str, list[float]]):
        super().__init__()
        self.history = history

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(float(value))


class EpochCheckpoint(tf.keras.callbacks.Callback):
    """Saves weights, optimizer state and history into the run store after every epoch, atomically.

    The checkpoint is written into a temporary folder and renamed; only then does ``LATEST`` point to
    it, so a kill at any moment leaves the previous checkpoint readable. Add it on rank 0 only, after
    the :class:`EpochHistory` that fills ``history``.

    Example:
        >>> ckpt = tf.train.Checkpoint(model=model, optimizer=model.optimizer)          # doctest: +SKIP
        >>> callbacks = [EpochHistory(history), EpochCheckpoint(store, ckpt, history)]   # doctest: +SKIP
        >>> model.fit(data, epochs=5, callbacks=callbacks)                              # doctest: +SKIP
    """

    def __init__(self, store: RunStore, checkpoint: "tf.train.Checkpoint", history: dict[str, list[float]]):
        super().__init__()
        self.store = store
        self.checkpoint = checkpoint
        self.history = history

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        done = epoch + 1
        with self.store.atomic_dir(self.store.checkpoint_dir(done)) as tmp:
            self.checkpoint.write(os.path.join(tmp, "ckpt"))
        self.store.write_json(self.store.history_file, self.history)
        self.store.mark_latest_checkpoint(done)


class ProgressLine(tf.keras.callbacks.Callback):
    """Writes one line per epoch to stdout, which the launcher forwards to the driver's log.

    Example:
        ``epoch 3/5: loss=0.2113 accuracy=0.9412 val_loss=0.2301 val_accuracy=0.9375 (2.1 s)``
    """

    def __init__(self, epochs: int, stream=None):
        super().__init__()
        self.epochs = epochs
        self.stream = stream or sys.stdout
        self._start = 0.0

    def on_epoch_begin(self, epoch: int, logs=None) -> None:
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        metrics = " ".join(f"{k}={float(v):.4f}" for k, v in (logs or {}).items() if k != "lr")
        self.stream.write(f"epoch {epoch + 1}/{self.epochs}: {metrics} ({time.perf_counter() - self._start:.1f} s)\n")
        self.stream.flush()
