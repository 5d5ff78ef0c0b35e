"""Numpy batches -> a ``tf.data.Dataset`` of ``(features, labels)``.

Python hands TensorFlow several batches at a time (arrays of shape ``(batches, batch_size, ...)``)
and tf.data splits them again (``unbatch``), so the per-call cost of ``from_generator`` is paid
once per few megabytes instead of once per batch. The batcher's arrays are aligned and freshly
allocated, so TensorFlow adopts their buffers through DLPack instead of copying them.

Example:
    >>> ds = to_tf_dataset(make_batches, {"x": ((64,), "float32"), "y": ((), "int64")}, ["x"], "y",
    ...                    batch_size=32)   # doctest: +SKIP
"""

from __future__ import annotations

from typing import Callable, Iterator

import numpy as np

from sparkdl_kit._deps import require
from sparkdl_kit.dataset.reader.batching import ALIGNMENT


def as_tensor(array: np.ndarray, tf):
    """A tensor over ``array``'s own buffer when TensorFlow can adopt it (C-contiguous, writeable, aligned),
    else a copy. The tensor keeps the array alive; the caller must not write to the array afterwards."""
    if (array.flags.c_contiguous and array.flags.writeable and array.size
            and array.ctypes.data % ALIGNMENT == 0):
        return tf.experimental.dlpack.from_dlpack(array.__dlpack__())
    return tf.convert_to_tensor(array)


def to_tf_dataset(make_batches: Callable[[], Iterator[dict]], columns: dict[str, tuple], feature_cols: list[str],
                  label_col: str | None, batch_size: int | None, transform_fn: Callable | None = None,
                  prefetch: int | None = None):
    """Wraps a batch generator factory as a tf.data pipeline.

    Args:
        make_batches: called once per iteration of the dataset; returns an iterator of dicts of
            stacked batches, arrays of shape ``(batches, batch_size, *row_shape)``.
        columns: ``{column: (row shape, dtype name)}`` for every column the batches hold.
        feature_cols: the features; one yields a tensor, several yield a dict ``{column: tensor}``.
        label_col: the label, or ``None`` (then only the features are yielded).
        batch_size: the static batch dimension, or ``None`` when the last batch may be smaller.
        transform_fn: ``fn(features, labels) -> (features, labels)`` (``fn(features)`` without a label),
            applied with ``tf.data``'s parallel map.
        prefetch: batches to prefetch (``None``: autotuned).
    """
    tf = require("tensorflow")

    def spec(col):
        shape, dtype = columns[col]
        return tf.TensorSpec((None, batch_size, *shape), tf.as_dtype(dtype))

    single = len(feature_cols) == 1
    features_spec = spec(feature_cols[0]) if single else {c: spec(c) for c in feature_cols}
    signature = (features_spec, spec(label_col)) if label_col is not None else features_spec

    def structured():
        for batch in make_batches():
            batch = {name: as_tensor(array, tf) for name, array in batch.items()}
            features = batch[feature_cols[0]] if single else {c: batch[c] for c in feature_cols}
            yield (features, batch[label_col]) if label_col is not None else features

    ds = tf.data.Dataset.from_generator(structured, output_signature=signature).unbatch()
    if transform_fn is not None:
        if label_col is not None:
            ds = ds.map(lambda f, y: transform_fn(f, y), num_parallel_calls=tf.data.AUTOTUNE)
        else:
            ds = ds.map(transform_fn, num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE if prefetch is None else prefetch)
