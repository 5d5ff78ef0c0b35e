"""Data-parallel Keras training with Horovod: the worker trainer and its driver side."""

from sparkdl_kit.train.config import TrainConfig
from sparkdl_kit.train.fit import TrainResult, train

__all__ = ["TrainConfig", "TrainResult", "train"]
