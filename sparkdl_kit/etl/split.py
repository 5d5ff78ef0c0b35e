"""Deterministic train/validation split: a seeded fraction, or an existing 0/1 or boolean column.

The fraction is applied to a 64-bit hash of each row's (converted) values and the seed, so the same
rows land in the same split on every run, whatever the partitioning. Identical rows share a split,
which also keeps duplicates from leaking between training and validation.

Example:
    >>> spec = split_spec(df, 0.2, seed=7, hash_cols=[F.col("x"), F.col("label")])   # doctest: +SKIP
    >>> df.where(spec.is_validation)                                                # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass

from sparkdl_kit.errors import ConfigError, SchemaError
from sparkdl_kit.etl.columns import _type_names, column_field

TRAIN, VALIDATION = "train", "validation"
_BUCKETS = 1 << 20


@dataclass(frozen=True)
class SplitSpec:
    """Which rows go to the validation split.

    Attributes:
        is_validation: a boolean expression (``None`` when there is no validation split).
        invalid: true on rows whose split column value is not 0/1/true/false (``None`` for fractions).
        source: the fraction or the column name, as given.
    """

    is_validation: object | None
    invalid: object | None
    source: float | str | None

    @property
    def names(self) -> list[str]:
        """The split names this spec produces."""
        return [TRAIN] if self.is_validation is None else [TRAIN, VALIDATION]


def split_spec(df, validation: float | str | None, seed: int, hash_cols: list) -> SplitSpec:
    """Builds the split rule.

    Args:
        df: the DataFrame.
        validation: ``None`` or ``0`` (train only), a fraction in (0, 1), or the name of a 0/1 or
            boolean column (1/true = validation).
        seed: the seed of the fraction's hash.
        hash_cols: the expressions hashed for the fraction (the converted features and label).

    Raises:
        ConfigError: the fraction is outside (0, 1) or ``validation`` has another type.
        SchemaError: the split column is missing or not integer/boolean.
    """
    from pyspark.sql import functions as F

    if validation is None or (isinstance(validation, (int, float)) and not isinstance(validation, bool)
                              and validation == 0):
        return SplitSpec(None, None, None)
    if isinstance(validation, str):
        T, _ = _type_names()
        field = column_field(df, validation)
        integral = (T.ByteType, T.ShortType, T.IntegerType, T.LongType, T.BooleanType)
        if not isinstance(field.dataType, integral):
            raise SchemaError(
                f"validation column '{validation}' has type {field.dataType.simpleString()}; expected a "
                "0/1 integer or boolean column (1/true = validation row). Fix: cast it, or pass a "
                "fraction such as validation=0.2.")
        value = F.col(validation).cast("int")
        return SplitSpec(value == 1, value.isNull() | ~value.isin(0, 1), validation)
    if isinstance(validation, bool) or not isinstance(validation, (int, float)) or not 0 < validation < 1:
        raise ConfigError(
            f"validation={validation!r}; expected None, a fraction strictly between 0 and 1 (e.g. 0.2), or "
            "the name of a 0/1 or boolean column.")
    if not isinstance(seed, int):
        raise ConfigError(f"seed={seed!r}; expected an integer.")
    bucket = F.pmod(F.xxhash64(F.lit(seed), *hash_cols), F.lit(_BUCKETS))
    return SplitSpec(bucket < F.lit(int(round(validation * _BUCKETS))), None, float(validation))
