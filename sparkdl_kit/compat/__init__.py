"""Familiar entry points for code written for Elephas, TensorFlowOnSpark, Databricks' HorovodRunner,
Deep Learning Pipelines and dist-keras, each a thin layer over the same core (``sdk.run``,
``sdk.train``, ``sdk.KerasEstimator``, ``sdk.KerasModel``). docs/migrating.md compares them side by side.

Porting is mostly a matter of imports:

    ==========================================  ====================================================
    theirs                                      here
    ==========================================  ====================================================
    ``from sparkdl import HorovodRunner``        ``from sparkdl_kit.compat import HorovodRunner``
    ``from elephas.spark_model import ...``      ``from sparkdl_kit.compat.elephas import ...``
    ``from tensorflowonspark import TFCluster``  ``from sparkdl_kit.compat.tfos import TFCluster``
    ``from sparkdl import KerasImageFile...``    ``from sparkdl_kit.compat.dlp import KerasImageFile...``
    ``from distkeras.predictors import ...``     ``from sparkdl_kit.compat.dlp import ModelPredictor``
    ==========================================  ====================================================

Example:
    >>> from sparkdl_kit.compat import HorovodRunner
    >>> HorovodRunner(np=2).run(train_hvd, learning_rate=0.1)     # doctest: +SKIP
"""

from sparkdl_kit.compat._common import CompatWarning
from sparkdl_kit.compat.horovod_runner import HorovodRunner

__all__ = ["HorovodRunner", "CompatWarning"]
