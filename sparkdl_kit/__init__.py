"""sparkdl_kit: distributed TensorFlow/Keras on Apache Spark.

ETL into Petastorm/Parquet datasets, data-parallel training launched by Horovod on Spark, and
batch inference on DataFrames. Heavy dependencies (TensorFlow, Horovod, Petastorm) load lazily.

Example:
    >>> import sparkdl_kit as sdk
    >>> spark = sdk.get_session()            # doctest: +SKIP
"""

from sparkdl_kit import errors
from sparkdl_kit.console import log_to_stderr
from sparkdl_kit.dataset import Dataset, materialize
from sparkdl_kit.doctor import doctor
from sparkdl_kit.inference import predict_udf
from sparkdl_kit.launch import run, worker_context
from sparkdl_kit.ml import KerasEstimator, KerasModel
from sparkdl_kit.session import get_session
from sparkdl_kit.train import TrainConfig, TrainResult, train

__version__ = "0.1.0"

__all__ = ["__version__", "errors", "doctor", "get_session", "run", "worker_context",
           "train", "TrainConfig", "TrainResult", "KerasEstimator", "KerasModel",
           "materialize", "Dataset", "predict_udf", "log_to_stderr"]
