"""Datasets: ``materialize`` a DataFrame to Parquet splits + metadata, ``Dataset.load`` it, read it sharded.

Example:
    >>> import sparkdl_kit as sdk
    >>> ds = sdk.materialize(df, "file:///data/x", label_col="label", validation=0.2)   # doctest: +SKIP
    >>> ds = sdk.Dataset.load("file:///data/x")                                        # doctest: +SKIP
"""

from sparkdl_kit.dataset.core import Dataset
from sparkdl_kit.dataset.materialize import materialize
from sparkdl_kit.dataset.metadata import DatasetInfo, SplitInfo

__all__ = ["Dataset", "materialize", "DatasetInfo", "SplitInfo"]
