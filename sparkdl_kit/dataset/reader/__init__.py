"""Readers: one shard of one split -> numpy batches -> tf.data.

Example:
    >>> from sparkdl_kit.dataset.reader import PetastormReader, batches     # doctest: +SKIP
"""

from sparkdl_kit.dataset.reader.base import Reader
from sparkdl_kit.dataset.reader.batching import batches
from sparkdl_kit.dataset.reader.petastorm import PetastormReader

__all__ = ["Reader", "PetastormReader", "batches"]
