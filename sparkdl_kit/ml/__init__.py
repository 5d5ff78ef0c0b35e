"""Spark ML Estimator and Model over the toolkit's training (Pipeline-compatible)."""

from sparkdl_kit.ml.estimator import KerasEstimator
from sparkdl_kit.ml.model import KerasModel

__all__ = ["KerasEstimator", "KerasModel"]
