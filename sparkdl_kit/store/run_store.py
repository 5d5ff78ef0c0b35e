"""The layout of one training run inside a store, and atomic writes into it.

A store is a folder URL (``file:///runs``, a plain path, or ``hdfs://...`` / ``s3a://...`` on a
filesystem every worker and the driver can reach). A run is ``<store>/<run_id>/``::

    <store>/<run_id>/
        checkpoints/epoch-0003/     one folder per completed epoch (written aside, then renamed)
        checkpoints/LATEST          the name of the last complete checkpoint (replaced atomically)
        logs/                       TensorBoard event files (rank 0)
        history.json                per-epoch metrics of the whole run so far
        model.keras                 the final model (Keras v3 format: architecture, weights)
        dataset/                    the dataset materialized for this run, when fit() was given a DataFrame

Only local paths (``file://`` or none) are written by this module today; other schemes are rejected
with a clear error (mount them, or add a filesystem implementation here).
"""

from __future__ import annotations

import datetime
import json
import os
import shutil
import tempfile
import uuid
from contextlib import contextmanager
from typing import Any, Iterator
from urllib.parse import urlparse

from sparkdl_kit.errors import ConfigError

LATEST = "LATEST"


def new_run_id() -> str:
    """A sortable, unique run id such as ``run-20261122-101500-3f2a``."""
    return datetime.datetime.now().strftime("run-%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:4]


def local_path(url: str, setting: str = "store") -> str:
    """The local filesystem path of a ``file://`` URL or a plain path."""
    parsed = urlparse(url)
    if parsed.scheme in ("", "file"):
        return os.path.abspath(parsed.path if parsed.scheme else url)
    raise ConfigError(
        f"{setting}={url!r}: only local paths and file:// URLs can be written here, got scheme "
        f"'{parsed.scheme}'. Use a path every worker can reach (a shared mount on a cluster), "
        f"for example {setting}='file:///mnt/shared/runs'.")


class RunStore:
    """The folders and files of one run, with atomic writes.

    Example:
        >>> store = RunStore("file:///tmp/runs", "run-1")
        >>> with store.atomic_dir(store.checkpoint_dir(3)) as tmp:   # doctest: +SKIP
        ...     save_into(tmp)
        >>> store.mark_latest_checkpoint(3)                           # doctest: +SKIP
    """

    def __init__(self, store_url: str, run_id: str):
        if not run_id or "/" in run_id or run_id.startswith("."):
            raise ConfigError(f"run_id={run_id!r}: expected a non-empty name without '/', such as 'digits-1'.")
        self.store_url = store_url
        self.run_id = run_id
        self.root = os.path.join(local_path(store_url), run_id)

    # --- paths ---------------------------------------------------------------------------------
    @property
    def checkpoints(self) -> str:
        return os.path.join(self.root, "checkpoints")

    @property
    def logs(self) -> str:
        return os.path.join(self.root, "logs")

    @property
    def history_file(self) -> str:
        return os.path.join(self.root, "history.json")

    @property
    def model_file(self) -> str:
        return os.path.join(self.root, "model.keras")

    @property
    def dataset_url(self) -> str:
        return "file://" + os.path.join(self.root, "dataset")

    def checkpoint_dir(self, epoch: int) -> str:
        """The folder of the checkpoint taken after ``epoch`` epochs (1-based)."""
        return os.path.join(self.checkpoints, f"epoch-{epoch:04d}")

    # --- checkpoints -----------------------------------------------------------------------------
    def latest_checkpoint(self) -> tuple[int, str] | None:
        """``(epochs_done, folder)`` of the last complete checkpoint, or None for a new run."""
        try:
            with open(os.path.join(self.checkpoints, LATEST), encoding="utf-8") as f:
                name = f.read().strip()
        except FileNotFoundError:
            return None
        folder = os.path.join(self.checkpoints, name)
        if not name.startswith("epoch-") or not os.path.isdir(folder):
            return None
        return int(name.split("-", 1)[1]), folder

    def mark_latest_checkpoint(self, epoch: int) -> None:
        """Points LATEST at the checkpoint of ``epoch``, atomically, and drops the others.

        Older checkpoints go, and so do the temporary folders a killed writer left behind (one writer
        per run: rank 0).
        """
        name = os.path.basename(self.checkpoint_dir(epoch))
        self.write_text(os.path.join(self.checkpoints, LATEST), name + "\n")
        for old in os.listdir(self.checkpoints):
            path = os.path.join(self.checkpoints, old)
            if old.startswith("epoch-") and old != name:
                shutil.rmtree(path, ignore_errors=True)
            elif old.startswith(".") and ".tmp-" in old:
                if os.path.isdir(path):
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    os.unlink(path)

    # --- atomic writes ---------------------------------------------------------------------------
    @contextmanager
    def atomic_dir(self, final: str) -> Iterator[str]:
        """Yields a temporary sibling folder; on success it replaces ``final`` by a rename."""
        parent = os.path.dirname(final)
        os.makedirs(parent, exist_ok=True)
        tmp = tempfile.mkdtemp(prefix=f".{os.path.basename(final)}.tmp-", dir=parent)
        try:
            yield tmp
            if os.path.exists(final):
                shutil.rmtree(final)
            os.rename(tmp, final)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def write_text(self, path: str, text: str) -> None:
        """Writes a small file atomically: a temporary sibling, fsync, rename."""
        os.makedirs(os.path.dirname(path), exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.tmp-", dir=os.path.dirname(path))
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise

    def write_json(self, path: str, value: Any) -> None:
        self.write_text(path, json.dumps(value, indent=2, sort_keys=True))

    def read_history(self) -> dict[str, list[float]]:
        """The per-epoch metrics saved so far (empty for a new run)."""
        try:
            with open(self.history_file, encoding="utf-8") as f:
                return json.load(f)
        except FileNotFoundError:
            return {}
