"""Resume after failure: a run killed in epoch k resumes from its last complete epoch, and a kill at any
moment of a checkpoint write leaves a readable latest checkpoint."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf

import sparkdl_kit as sdk
from sparkdl_kit.errors import WorkerFailedError
from sparkdl_kit.store import RunStore
from support import REPO, python_env
from test_train import BATCH, LR, digits, store  # noqa: F401 -- the digits dataset and store fixtures

KILL_EPOCH, EPOCHS = 5, 14


class KillInEpoch(tf.keras.callbacks.Callback):
    """SIGKILLs the worker of ``rank`` at ``batch`` of ``epoch`` (1-based).

    With ``marker`` (a file path) it kills only once per run: the first worker to fire creates the file,
    so a replacement worker does not kill itself again.
    """

    def __init__(self, rank: int, epoch: int, batch: int = 3, marker: str | None = None):
        super().__init__()
        self.rank, self.epoch, self.batch, self.marker = rank, epoch, batch, marker
        self._current = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._current = epoch + 1

    def on_train_batch_begin(self, batch, logs=None):
        import horovod.tensorflow.keras as hvd

        if (self._current, batch, hvd.rank()) != (self.epoch, self.batch, self.rank):
            return
        if self.marker is not None:
            try:
                os.close(os.open(self.marker, os.O_CREAT | os.O_EXCL))
            except FileExistsError:
                return
        os.kill(os.getpid(), signal.SIGKILL)


@pytest.mark.slow
@pytest.mark.horovod
def test_a_run_killed_in_epoch_k_resumes_from_the_last_complete_epoch(digits, store, tmp_path):  # noqa: F811
    settings = dict(num_proc=2, store=store, epochs=EPOCHS, batch_size=BATCH, learning_rate=LR, seed=3)
    reference = sdk.train("train_helpers:build_digits_mlp", digits, run_id="uninterrupted", **settings)

    with pytest.raises(WorkerFailedError) as failed:
        sdk.train("train_helpers:build_digits_mlp", digits, run_id="killed",
                  callbacks=[KillInEpoch(rank=1, epoch=KILL_EPOCH)], **settings)
    assert failed.value.rank == 1 and "worker rank 1 failed" in str(failed.value)
    # Rank 0 cannot finish epoch k without rank 1: the last complete epoch is k - 1.
    killed = RunStore(store, "killed")
    assert killed.latest_checkpoint()[0] == KILL_EPOCH - 1
    before = killed.read_history()

    resumed = sdk.train("train_helpers:build_digits_mlp", digits, run_id="killed", **settings)
    assert resumed.initial_epoch == KILL_EPOCH - 1
    assert {k: len(v) for k, v in resumed.history.items()} == {k: EPOCHS for k in reference.history}
    # The epochs completed before the kill are kept, not trained again.
    assert {k: v[:KILL_EPOCH - 1] for k, v in resumed.history.items()} == before
    final, expected = resumed.history["val_accuracy"][-1], reference.history["val_accuracy"][-1]
    assert expected > 0.9
    assert abs(final - expected) <= 0.01, (final, expected)


# --- kills during checkpoint writes ------------------------------------------------------------

def _checkpointed_model():
    """A model and optimizer big enough that a checkpoint write takes a while (about 4 MB)."""
    from sparkdl_kit.train.models import mlp

    model = mlp((64,), 10, hidden=(512, 512))
    optimizer = tf.keras.optimizers.legacy.Adam()
    model.compile(optimizer, "sparse_categorical_crossentropy")
    optimizer._create_all_weights(model.trainable_variables)
    return model, optimizer, tf.train.Checkpoint(model=model, optimizer=optimizer)


def write_checkpoints_forever(store_url: str, run_id: str) -> None:
    """Child process: from the run's last checkpoint on, epoch after epoch sets every variable to the
    epoch number and saves it through the trainer's own callbacks (EpochHistory, EpochCheckpoint)."""
    from sparkdl_kit.train.callbacks import EpochCheckpoint, EpochHistory

    model, optimizer, checkpoint = _checkpointed_model()
    store = RunStore(store_url, run_id)
    latest = store.latest_checkpoint()
    epoch = latest[0] if latest else 0
    history = {k: v[:epoch] for k, v in store.read_history().items()}
    callbacks = [EpochHistory(history), EpochCheckpoint(store, checkpoint, history)]
    print("ready", flush=True)
    while True:
        epoch += 1
        for var in model.variables + optimizer.variables():
            var.assign(tf.fill(var.shape, tf.cast(epoch, var.dtype)))
        for callback in callbacks:
            callback.on_epoch_end(epoch - 1, {"loss": float(epoch)})


def _wait_for_line(proc: subprocess.Popen, expected: str, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if line.strip() == expected:
            return
        if not line and proc.poll() is not None:
            break
    proc.kill()
    pytest.fail(f"the checkpoint writer did not start: {proc.stderr.read()[-3000:]}")


@pytest.mark.slow
def test_sigkill_during_checkpoint_writes_leaves_a_readable_latest_checkpoint(tmp_path):
    store_url, run_id = f"file://{tmp_path}/runs", "killed-writer"
    store = RunStore(store_url, run_id)
    model, optimizer, checkpoint = _checkpointed_model()
    rng = random.Random(8)
    code = f"from test_resume import write_checkpoints_forever; write_checkpoints_forever({store_url!r}, {run_id!r})"
    previous = 0
    for _ in range(10):
        proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, env=python_env(CUDA_VISIBLE_DEVICES=""))
        try:
            _wait_for_line(proc, "ready", seconds=180)
            time.sleep(rng.uniform(0.05, 1.0))      # a random point of the write loop
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=60)
        finally:
            proc.kill()
            proc.stdout.close()
            proc.stderr.close()
        assert proc.returncode == -signal.SIGKILL

        latest = store.latest_checkpoint()
        if latest is None:      # killed before its first checkpoint was complete: nothing to read yet
            assert previous == 0
            continue
        epoch, folder = latest
        assert epoch >= previous, f"LATEST went back from epoch {previous} to {epoch}"
        checkpoint.read(os.path.join(folder, "ckpt")).assert_consumed()
        for var in model.variables + optimizer.variables():
            np.testing.assert_array_equal(var.numpy(), np.full(var.shape, epoch, var.dtype.as_numpy_dtype),
                                          err_msg=f"{var.name} in the checkpoint of epoch {epoch}")
        assert store.read_history()["loss"][:epoch] == [float(e) for e in range(1, epoch + 1)]
        if epoch > previous:    # a checkpoint completed since the last kill cleared older leftovers
            leftovers = [n for n in os.listdir(store.checkpoints) if ".tmp-" in n]
            assert len(leftovers) <= 1, leftovers
        previous = epoch
    assert previous >= 1
