"""sparkdl_kit: distributed TensorFlow/Keras on Apache Spark.

ETL into Petastorm/Parquet datasets, data-parallel training launched by Horovod on Spark, and
batch inference on DataFrames. Heavy dependencies (TensorFlow, Horovod, Petastorm) load lazily.

Example:
    >>> import sparkdl_kit as sdk
    >>> spark = sdk.get_session()            # doctest: +SKIP
"""

from sparkdl_kit import errors
from sparkdl_kit.doctor import doctor
from sparkdl_kit.session import get_session

__version__ = "0.1.0"

__all__ = ["__version__", "errors", "doctor", "get_session"]
