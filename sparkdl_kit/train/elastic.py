"""Elastic training on a worker: the epochs run inside Elastic Horovod's reset-and-retry loop.

The model, the optimizer, the number of completed epochs and the history live in a
``hvd.elastic.KerasState``. The state is committed (copied in memory) at the end of every epoch. When a
worker is lost, the others raise ``HorovodInternalError`` in their next collective, restore the last
commit and meet the new set of workers; a worker that joins receives the state from rank 0. Each
(re)start reads this rank's shard of the new world and carries on from the committed epoch.
"""

from __future__ import annotations

import sys
from typing import Any

from sparkdl_kit._deps import require
from sparkdl_kit.train.worker import Trainer, scaled_learning_rate

tf = require("tensorflow")


class EpochDone(tf.keras.callbacks.Callback):
    """Records the completed epoch in an elastic state, just before it is committed.

    Keras is given ``initial_epoch`` (epochs stay numbered across restarts, as in a resumed run), so
    the state's epoch is Keras' epoch + 1. Horovod's own ``UpdateEpochStateCallback`` counts from a
    fit that restarts at epoch 0 instead, which would renumber the epochs every other callback sees.

    Example:
        >>> state = hvd.elastic.KerasState(model, epoch=0)                                  # doctest: +SKIP
        >>> callbacks = [EpochDone(state), hvd.elastic.CommitStateCallback(state, sys.maxsize)]   # doctest: +SKIP
    """

    def __init__(self, state: Any):
        super().__init__()
        self.state = state

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self.state.epoch = epoch + 1


def fit_elastic(trainer: Trainer) -> dict[str, list[float]]:
    """Runs the remaining epochs elastically; returns the history of the whole run.

    Example:
        >>> history = fit_elastic(prepare(job))     # on a worker started by horovod.spark.run_elastic  # doctest: +SKIP
    """
    hvd = require("horovod.tensorflow.keras")

    state = hvd.elastic.KerasState(trainer.model, trainer.optimizer, epoch=trainer.initial_epoch,
                                   history=dict(trainer.history))

    def on_reset() -> None:  # a new world size: the learning rate follows it, as at the start
        tf.keras.backend.set_value(trainer.optimizer.lr, scaled_learning_rate(trainer.config, hvd.size()))

    state.register_reset_callbacks([on_reset])

    @hvd.elastic.run
    def remaining_epochs(state) -> None:
        # The history holds one entry per completed epoch: cut what an interrupted epoch appended.
        state.history = {k: list(v[:state.epoch]) for k, v in state.history.items()}
        if state.epoch >= trainer.config.epochs:
            return
        # Commits once per epoch, at its end: a partial epoch is redone in full after a reset.
        commit = hvd.elastic.CommitStateCallback(state, batches_per_commit=sys.maxsize)
        trainer.fit(state.epoch, state.history, last=[EpochDone(state), commit])

    remaining_epochs(state)
    return state.history
