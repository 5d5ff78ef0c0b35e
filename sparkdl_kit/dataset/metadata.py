"""The small JSON file that describes a materialized dataset.

It sits at ``<url>/_sparkdl_dataset.json`` (the leading underscore keeps Parquet readers from
treating it as data) next to one Parquet folder per split (``<url>/train``, ``<url>/validation``).

Example:
    >>> info = DatasetInfo.from_json(text)       # doctest: +SKIP
    >>> info.splits["train"].rows                # doctest: +SKIP
    812
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

from sparkdl_kit.errors import DatasetNotFoundError

METADATA_FILE = "_sparkdl_dataset.json"
FORMAT = "sparkdl_kit.dataset"
VERSION = 1


@dataclass
class SplitInfo:
    """One split: its folder (relative to the dataset URL), rows, files, bytes and rows per row group."""

    path: str
    rows: int
    files: int = 0
    bytes: int = 0
    row_groups: list[int] = field(default_factory=list)


@dataclass
class DatasetInfo:
    """Everything :class:`~sparkdl_kit.dataset.Dataset` knows without opening the Parquet files."""

    feature_cols: list[str]
    label_col: str | None
    feature_shapes: dict[str, list[int]]
    feature_dtypes: dict[str, str]
    label_dtype: str | None
    label_mapping: list | None
    num_classes: int | None
    splits: dict[str, SplitInfo]
    storage: dict[str, str] = field(default_factory=dict)
    dropped: dict[str, int] = field(default_factory=dict)
    created: dict = field(default_factory=dict)
    format: str = FORMAT
    version: int = VERSION

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str, where: str = "") -> "DatasetInfo":
        try:
            raw = json.loads(text)
            if raw.get("format") != FORMAT:
                raise ValueError(f"format is {raw.get('format')!r}, not {FORMAT!r}")
            if int(raw.get("version", 0)) > VERSION:
                raise ValueError(f"version {raw['version']} is newer than this sparkdl_kit reads ({VERSION})")
            raw["splits"] = {k: SplitInfo(**v) for k, v in raw["splits"].items()}
            return cls(**raw)
        except (ValueError, KeyError, TypeError) as e:
            raise DatasetNotFoundError(
                f"{where or 'the metadata file'} is not a sparkdl_kit dataset description ({e}). Fix: point "
                "Dataset.load at a URL written by sparkdl_kit.materialize().") from e
