"""Module-level pieces the training tests ship to Horovod workers (importable there by name)."""

import numpy as np
import tensorflow as tf

from sparkdl_kit.train.models import mlp


def build_digits_mlp():
    tf.keras.utils.set_random_seed(0)
    return mlp((64,), 10)


def build_not_a_model():
    return "not a model"


class FailInEpoch(tf.keras.callbacks.Callback):
    """Raises on one rank at the start of one epoch (1-based)."""

    def __init__(self, rank: int, epoch: int):
        super().__init__()
        self.rank, self.epoch = rank, epoch

    def on_epoch_begin(self, epoch, logs=None):
        import horovod.tensorflow.keras as hvd

        if hvd.rank() == self.rank and epoch + 1 == self.epoch:
            raise ValueError(f"injected failure in epoch {self.epoch} on rank {self.rank}")


def split_arrays(dataset, split):
    """All rows of a split as (x, y) numpy arrays, read with pandas (the reference path)."""
    import pandas as pd

    frame = pd.read_parquet(dataset.split_url(split).replace("file://", ""))
    x = np.stack(frame[dataset.feature_cols[0]].to_numpy()).astype("float32")
    return x, frame[dataset.label_col].to_numpy()
