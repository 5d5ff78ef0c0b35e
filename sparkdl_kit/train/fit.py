"""Driver side of training: check, launch one worker per slot, gather the model and its history."""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

from sparkdl_kit._deps import require
from sparkdl_kit.errors import DataError, WorkerFailedError
from sparkdl_kit.store import RunStore, new_run_id
from sparkdl_kit.train.checks import check_model_matches_dataset
from sparkdl_kit.train.config import TrainConfig
from sparkdl_kit.train.model_source import ModelSource
from sparkdl_kit.train.worker import TRAIN, TrainJob, build_optimizer, train_worker

logger = logging.getLogger(__name__)


@dataclasses.dataclass
class TrainResult:
    """What a training run produced.

    Attributes:
        model: the trained Keras model, loaded on the driver.
        history: per-epoch metrics of the whole run (resumed epochs included), averaged across ranks.
        run_id: the run's name in the store; fit again with it to resume.
        model_path: where the final model is saved (``<store>/<run_id>/model.keras``).
        initial_epoch: the epoch this call started from (non-zero when it resumed).
    """

    model: Any
    history: dict[str, list[float]]
    run_id: str
    model_path: str
    initial_epoch: int


def train(model: Any, dataset: Any, config: TrainConfig | None = None, *, num_proc: int | None = None,
          store: str = "file:///tmp/sparkdl_kit/runs", run_id: str | None = None, timeout: float | None = None,
          **settings) -> TrainResult:
    """Trains ``model`` on ``dataset`` with one Horovod worker per process, data-parallel.

    Args:
        model: a tf.keras.Model, a function returning one, a saved model path, or ``'module:function'``.
        dataset: a :class:`sparkdl_kit.Dataset` or its URL (see :func:`sparkdl_kit.materialize`).
        config: a :class:`TrainConfig`; ``settings`` (``epochs=5``, ``batch_size=64``...) override it.
        num_proc: number of workers; by default every task slot Spark has.
        store: the folder URL where runs live (checkpoints, logs, the final model).
        run_id: the run's name; an existing run with this name resumes from its last checkpoint.
        timeout: seconds for the whole run before the workers are stopped with an error (default: none).

    Example:
        >>> result = sdk.train(build_mlp, ds, epochs=5, batch_size=32, num_proc=2,   # doctest: +SKIP
        ...                    store="file:///tmp/runs", run_id="digits")
        >>> result.history["val_accuracy"][-1]                                      # doctest: +SKIP
        0.95
    """
    from sparkdl_kit.dataset import Dataset

    config = (config or TrainConfig()).replace(**settings)
    ds = dataset if isinstance(dataset, Dataset) else Dataset.load(dataset)
    source = ModelSource.of(model)
    check_model_matches_dataset(source.load(), ds, config.loss)
    build_optimizer(config.optimizer, config.learning_rate)   # an unknown optimizer fails here, not on the workers
    run_store = RunStore(store, run_id or new_run_id())
    if TRAIN not in ds.splits or ds.row_count(TRAIN) == 0:
        raise DataError(f"dataset {ds.url} has no rows in its '{TRAIN}' split; materialize it with training rows.")
    job = TrainJob(source, ds.url, config, store, run_store.run_id)
    results = _run_resuming(job, run_store, num_proc, timeout)
    chief = next(r for r in results if r["rank"] == 0)
    tf = require("tensorflow")
    trained = tf.keras.models.load_model(chief["model_path"], compile=False)
    return TrainResult(trained, chief["history"], run_store.run_id, chief["model_path"], chief["initial_epoch"])


#: elastic runs that lose every worker start again from their last checkpoint, this many times at most
ELASTIC_RESTARTS = 2


def _run_resuming(job: TrainJob, run_store: RunStore, num_proc: int | None, timeout: float | None) -> list:
    """Launches the workers; an elastic run that fails after checkpointing progress is started again.

    Elastic Horovod replaces a lost worker only while another one survives to hand over the state; when
    none does (Horovod 0.28.1 workers can abort on the lost peer's Gloo connection, horovod issue 2907),
    the run resumes from the run store instead, as a rerun with the same ``run_id`` would.
    """
    from sparkdl_kit.launch import run

    config, restarts = job.config, 0
    while True:
        before = _epochs_done(run_store)
        if before:
            logger.info("run %s: resuming after epoch %d of %d", run_store.run_id, before, config.epochs)
        try:
            return run(train_worker, args=(job,), num_proc=num_proc, timeout=timeout, elastic=config.elastic)
        except WorkerFailedError as e:
            if not config.elastic or restarts == ELASTIC_RESTARTS or _epochs_done(run_store) <= before:
                raise
            restarts += 1
            logger.warning("run %s: every elastic worker was lost (%s); starting again from the last checkpoint",
                           run_store.run_id, e.exc_type)


def _epochs_done(run_store: RunStore) -> int:
    latest = run_store.latest_checkpoint()
    return latest[0] if latest else 0
