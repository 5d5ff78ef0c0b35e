"""Inside a task: the per-process model cache and the two Arrow-batch bodies (mapInArrow and pandas UDF).

Spark reuses Python workers across tasks (``spark.python.worker.reuse``, on by default), so a model
loaded here stays loaded for every later task of the same model on that worker: the cache is keyed
by the SHA-256 of the model's bytes, and the broadcast is read only on a miss.

Example (what ``KerasModel.transform`` ships)::

    df.mapInArrow(functools.partial(predict_arrow_batches, plan), schema)
"""

from __future__ import annotations

import collections
import logging
import threading
from typing import Iterator

import numpy as np
import pyarrow as pa

from sparkdl_kit.errors import DataError
from sparkdl_kit.inference.features import column_to_numpy
from sparkdl_kit.inference.plan import BINARY_LOGIT, BINARY_PROB, LOGITS, PredictPlan

logger = logging.getLogger(__name__)

#: Models kept per worker process (least recently used dropped first).
MAX_CACHED_MODELS = 4
_MODELS: "collections.OrderedDict[str, object]" = collections.OrderedDict()
_LOCK = threading.Lock()
_THREADS: list[int] = []     # the TensorFlow thread count this process was set to, once


def _configure_threads(wanted: int | None, tf) -> None:
    if _THREADS:
        if wanted is not None and wanted != _THREADS[0]:
            logger.debug("TensorFlow threads stay %d in this worker (asked %d)", _THREADS[0], wanted)
        return
    if wanted is None:
        from pyspark import TaskContext

        ctx = TaskContext.get()
        wanted = max(1, int(ctx.cpus())) if ctx is not None else 1
    try:
        tf.config.threading.set_intra_op_parallelism_threads(wanted)
        tf.config.threading.set_inter_op_parallelism_threads(wanted)
    except RuntimeError as e:   # TensorFlow already initialised in this process
        logger.debug("TensorFlow threads not changed: %s", e)
    _THREADS.append(wanted)


class _Predictor:
    """A loaded model and a compiled call with a free batch dimension (no retracing per batch size)."""

    def __init__(self, model, tf):
        self.model = model
        self.dtypes = [t.dtype.as_numpy_dtype for t in model.inputs]
        specs = [tf.TensorSpec([None, *t.shape[1:]], t.dtype) for t in model.inputs]

        def call(*xs):
            out = model(list(xs) if len(xs) > 1 else xs[0], training=False)
            return out[0] if isinstance(out, (list, tuple)) else out

        self.fn = tf.function(call, input_signature=specs, reduce_retracing=True)

    def predict(self, xs: list[np.ndarray], batch_size: int) -> np.ndarray:
        n = len(xs[0])
        outs = []
        for start in range(0, n, batch_size):
            chunk = [x[start:start + batch_size].astype(d, copy=False) for x, d in zip(xs, self.dtypes)]
            outs.append(self.fn(*chunk).numpy())
        if not outs:
            return np.zeros((0, *self.model.outputs[0].shape[1:]), np.float32)
        out = outs[0] if len(outs) == 1 else np.concatenate(outs)
        return out.reshape(n, -1).astype(np.float32, copy=False)


def _predictor(plan: PredictPlan) -> _Predictor:
    key = plan.model.key
    with _LOCK:
        found = _MODELS.get(key)
        if found is not None:
            _MODELS.move_to_end(key)
            return found
        import tensorflow as tf

        from sparkdl_kit.train.model_source import deserialize_model

        _configure_threads(plan.tf_threads, tf)
        predictor = _Predictor(deserialize_model(plan.model.load_bytes()), tf)
        _MODELS[key] = predictor
        while len(_MODELS) > MAX_CACHED_MODELS:
            _MODELS.popitem(last=False)
        logger.info("model %s loaded in this worker", key[:12])
        return predictor


def cached_model_keys() -> list[str]:
    """The keys of the models loaded in this process (for tests and diagnostics)."""
    return list(_MODELS)


def _inputs(plan: PredictPlan, columns: list[pa.Array], paths: list) -> tuple[list[np.ndarray], np.ndarray]:
    """Model inputs for the rows valid in every column, and that mask; applies handle_invalid='error'."""
    parts = [column_to_numpy(col, spec, path) for col, spec, path in zip(columns, plan.inputs, paths)]
    valid = np.logical_and.reduce([p[1] for p in parts]) if parts else np.ones(0, bool)
    if plan.handle_invalid == "error":
        for spec, (_, ok, problems) in zip(plan.inputs, parts):
            if not ok.all():
                raise DataError(
                    f"input column '{spec.source}': {int((~ok).sum())} row(s) of a batch cannot be predicted "
                    f"(first: {problems[0]}). Fix: filter or fill them first, or set handle_invalid='skip' "
                    "(drop them, counted) or 'keep' (null predictions, counted).")
    xs = [values if ok.all() and valid.all() else values[valid[ok]] for values, ok, _ in parts]
    bad = int((~valid).sum())
    if bad and plan.counter is not None:
        plan.counter.add(bad)
    return xs, valid


def _scores(plan: PredictPlan, out: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """(prediction, probabilities) from the model's raw outputs ``(n, units)``."""
    if not plan.classifier:
        return (out if plan.prediction_is_array else out[:, 0].astype(np.float64)), None
    if plan.prob_mode in (BINARY_PROB, BINARY_LOGIT):
        p = out[:, 0]
        if plan.prob_mode == BINARY_LOGIT:
            p = 1.0 / (1.0 + np.exp(-p))
        probs = np.stack([1.0 - p, p], axis=1).astype(np.float32)
    elif plan.prob_mode == LOGITS:
        shifted = np.exp(out - out.max(axis=1, keepdims=True))
        probs = (shifted / shifted.sum(axis=1, keepdims=True)).astype(np.float32)
    else:
        probs = out
    return probs.argmax(axis=1).astype(np.float64), probs


def _list_array(rows: np.ndarray, valid: np.ndarray | None) -> pa.Array:
    """``(k, m)`` float32 rows as an Arrow list<float> array, with nulls where ``valid`` is False."""
    width = rows.shape[1] if rows.ndim == 2 else 0
    values = pa.array(np.ascontiguousarray(rows, dtype=np.float32).reshape(-1))
    if valid is None:
        offsets = np.arange(len(rows) + 1, dtype=np.int32) * width
        return pa.ListArray.from_arrays(pa.array(offsets), values)
    lengths = np.where(valid, width, 0).astype(np.int32)
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32)
    return pa.ListArray.from_arrays(pa.array(offsets), values, mask=pa.array(~valid))


def _double_array(values: np.ndarray, valid: np.ndarray | None) -> pa.Array:
    if valid is None:
        return pa.array(values, pa.float64())
    full = np.zeros(len(valid), np.float64)
    full[valid] = values
    return pa.array(full, pa.float64(), mask=~valid)


def _output_arrays(plan: PredictPlan, xs: list[np.ndarray], valid: np.ndarray, fill_nulls: bool):
    """The prediction and probability columns (those the plan asks for), as Arrow arrays."""
    out = _predictor(plan).predict(xs, plan.batch_size)
    pred, probs = _scores(plan, out)
    mask = valid if fill_nulls and not valid.all() else None
    arrays = []
    if plan.prediction_col:
        arrays.append(_list_array(pred, mask) if plan.prediction_is_array else _double_array(pred, mask))
    if plan.probability_col and probs is not None:
        arrays.append(_list_array(probs, mask))
    return arrays


def predict_arrow_batches(plan: PredictPlan, batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    """mapInArrow body: each batch comes back with ``plan.keep_cols`` and the output columns appended.

    Example:
        >>> out = df.mapInArrow(functools.partial(predict_arrow_batches, plan), schema)   # doctest: +SKIP
    """
    names = list(plan.keep_cols)
    if plan.prediction_col:
        names.append(plan.prediction_col)
    if plan.probability_col and plan.classifier:
        names.append(plan.probability_col)
    for batch in batches:
        columns = [batch.column(spec.column) for spec in plan.inputs]
        paths = [batch.column(spec.path_column) if spec.path_column else None for spec in plan.inputs]
        xs, valid = _inputs(plan, columns, paths)
        keep = [batch.column(c) for c in plan.keep_cols]
        if plan.handle_invalid == "skip" and not valid.all():
            mask = pa.array(valid)
            keep = [c.filter(mask) for c in keep]
        outputs = _output_arrays(plan, xs, valid, fill_nulls=plan.handle_invalid == "keep")
        yield pa.RecordBatch.from_arrays(keep + outputs, names=names)


def predict_pandas(plan: PredictPlan, *series):
    """pandas UDF body: one Series per model input -> one Series (the prediction, or the probabilities).

    Invalid rows (with ``handle_invalid`` 'skip' or 'keep') get nulls: a column expression cannot drop rows.
    """
    import pandas as pd

    if len(series) != len(plan.inputs):
        raise DataError(f"the prediction UDF got {len(series)} column(s), but the model has {len(plan.inputs)} "
                        f"input(s) ({', '.join(s.source for s in plan.inputs)}). Pass one column per model input.")
    columns = [pa.Array.from_pandas(s) for s in series]
    xs, valid = _inputs(plan, columns, [None] * len(columns))
    (array,) = _output_arrays(plan, xs, valid, fill_nulls=True)
    return array.to_pandas()
