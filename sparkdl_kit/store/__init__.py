"""Run folders: checkpoints, logs, history and the final model of one training run."""

from sparkdl_kit.store.run_store import RunStore, new_run_id

__all__ = ["RunStore", "new_run_id"]
