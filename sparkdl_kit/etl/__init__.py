"""ETL: DataFrame columns -> training-ready columns (float32 arrays, class ids, uint8 images, splits).

Example:
    >>> from sparkdl_kit import etl
    >>> df = etl.read_images(spark, "file:///data/pets", size=(64, 64))        # doctest: +SKIP
    >>> prep = etl.prepare(df, ["image"], "label", validation=0.2)              # doctest: +SKIP
"""

from sparkdl_kit.etl.columns import FeatureSpec, feature_spec
from sparkdl_kit.etl.images import decode_images, read_images
from sparkdl_kit.etl.labels import LabelSpec, label_spec
from sparkdl_kit.etl.prepare import SPLIT_COL, Prepared, prepare
from sparkdl_kit.etl.sources import check_input_exists, read_table
from sparkdl_kit.etl.split import TRAIN, VALIDATION, split_spec

__all__ = ["FeatureSpec", "feature_spec", "LabelSpec", "label_spec", "decode_images", "read_images",
           "prepare", "Prepared", "SPLIT_COL", "read_table", "check_input_exists", "split_spec",
           "TRAIN", "VALIDATION"]
