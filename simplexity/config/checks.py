"""Checks of single config values, each raising a one-line `ConfigError` that names the key."""

from collections.abc import Mapping
from typing import Any

from simplexity.config.errors import ConfigError


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def require_positive_int(key: str, value: Any) -> int:
    """Returns `value` if it is an integer of at least 1."""
    if not _is_int(value) or value < 1:
        raise ConfigError.invalid(key, value, "must be a positive integer")
    return value


def require_optional_positive_int(key: str, value: Any) -> int | None:
    """Returns `value` if it is None or an integer of at least 1."""
    if value is not None and (not _is_int(value) or value < 1):
        raise ConfigError.invalid(key, value, "must be a positive integer or null")
    return value


def require_non_negative_int(key: str, value: Any) -> int:
    """Returns `value` if it is an integer of at least 0."""
    if not _is_int(value) or value < 0:
        raise ConfigError.invalid(key, value, "must be a non-negative integer")
    return value


def require_mapping_with_target(key: str, value: Any) -> Mapping[str, Any]:
    """Returns `value` if it is a mapping with a `_target_` (something Hydra can build)."""
    if not isinstance(value, Mapping) or "_target_" not in value:
        raise ConfigError(f"{key}: must be a mapping with a `_target_` naming what to build")
    return value
