"""Shared pieces of the toolkit's settings dataclasses (TrainConfig, InferenceConfig)."""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

from sparkdl_kit.errors import ConfigError

C = TypeVar("C")


def positive_int(name: str, value: Any, example: str) -> None:
    """Raises ConfigError unless ``value`` is an int >= 1 (booleans refused)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{name}={value!r}: expected an integer >= 1, such as {example}.")


def replace_validated(config: C, kind: str, changes: dict[str, Any]) -> C:
    """A copy of the frozen dataclass ``config`` with ``changes``, validated again.

    Unknown names raise ConfigError listing the known ones, e.g. "unknown training setting(s): epocks".
    """
    known = [f.name for f in dataclasses.fields(config)]
    unknown = sorted(set(changes) - set(known))
    if unknown:
        raise ConfigError(f"unknown {kind} setting(s): {', '.join(unknown)}. Known settings: {', '.join(known)}.")
    return dataclasses.replace(config, **changes)
