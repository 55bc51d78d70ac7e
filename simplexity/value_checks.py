"""Checks of single config values, each raising a one-line `ConfigError` that names the key."""

import importlib
import inspect
import math
import typing
from collections.abc import Mapping
from typing import Any

from simplexity.errors import ConfigError

# The largest seed: `jax.random.key` keeps only the low 32 bits of a seed (unless `jax_enable_x64` is set), so a
# larger one would draw what a smaller one draws, and above 2**63 - 1 it fails.
MAX_SEED = 2**32 - 1


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


def require_seed(key: str, value: Any) -> int:
    """Returns `value` if it is a seed that draws its own stream: an integer in [0, 2**32 - 1]."""
    if not _is_int(value) or not 0 <= value <= MAX_SEED:
        raise ConfigError.invalid(key, value, f"must be a non-negative integer at most 2**32 - 1 = {MAX_SEED}")
    return value


def is_number(value: Any) -> bool:
    """Returns whether `value` is an int or a float (a bool, which Python counts as an int, is not)."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def require_finite_positive(key: str, value: Any) -> float:
    """Returns `value` if it is a finite number above 0."""
    if not is_number(value) or not 0 < value < math.inf:
        raise ConfigError.invalid(key, value, "must be a positive number (finite)")
    return value


# Optimizer arguments of optax and their ranges: (low, high, whether low is allowed, what is allowed).
_OPTIMIZER_RANGES: dict[str, tuple[float, float, bool, str]] = {
    "b1": (0.0, 1.0, True, "must be a number in [0, 1)"),
    "b2": (0.0, 1.0, True, "must be a number in [0, 1)"),
    "decay": (0.0, 1.0, True, "must be a number in [0, 1)"),
    "momentum": (0.0, 1.0, True, "must be a number in [0, 1) or null"),
    "eps": (0.0, math.inf, False, "must be a finite number above 0"),
    "eps_root": (0.0, math.inf, True, "must be a finite number at least 0"),
    "weight_decay": (0.0, math.inf, True, "must be a finite number at least 0"),
}


def check_optimizer_arguments(key: str, instance: Mapping[str, Any]) -> None:
    """Raises a `ConfigError` naming `key.<name>` for an optax argument out of its range (`b1`, `b2`, `eps`, ...)."""
    for name, (low, high, low_allowed, allowed) in _OPTIMIZER_RANGES.items():
        if name not in instance or (name == "momentum" and instance[name] is None):
            continue
        value = instance[name]
        above_low = value >= low if low_allowed else value > low
        if not is_number(value) or not (above_low and value < high):
            raise ConfigError.invalid(f"{key}.{name}", value, allowed)


_SIMPLE_TYPES: dict[Any, tuple[type, str]] = {
    bool: (bool, "must be true or false"),
    int: (int, "must be an integer"),
    float: (float, "must be a number"),
    str: (str, "must be a string"),
}


def _matches(value: Any, expected: type) -> bool:
    if expected is bool:
        return isinstance(value, bool)
    if expected is int:
        return _is_int(value)
    if expected is float:
        return is_number(value)
    return isinstance(value, expected)


def locate(path: str) -> Any:
    """Returns the object a dotted `_target_` path names (`package.module.function`, `module.Class.method`).

    Raises:
        ImportError: when no prefix of `path` is an importable module.
        AttributeError: when the rest of `path` does not name an attribute of that module.
    """
    parts = path.split(".")
    for split in range(len(parts), 0, -1):
        try:
            found = importlib.import_module(".".join(parts[:split]))
        except ModuleNotFoundError:
            continue
        for name in parts[split:]:
            found = getattr(found, name)
        return found
    raise ImportError(f"no module in {path!r}")


def check_builder_arguments(key: str, instance: Mapping[str, Any]) -> None:
    """Raises a `ConfigError` naming `key.<name>` for an argument whose value is not of the builder's type.

    Only arguments the builder (`_target_`) annotates as `bool`, `int`, `float` or `str` are checked (YAML and
    the command line give `layer_norm=maybe` as a string, which Python would take as true); a target that cannot
    be found is left for building to report.
    """
    try:
        builder = locate(str(instance["_target_"]))
        hints = typing.get_type_hints(builder)
        parameters = inspect.signature(builder).parameters
    except Exception:  # reported, with its cause, when the node is built
        return
    for name, value in instance.items():
        if name.startswith("_") or name not in parameters or hints.get(name) not in _SIMPLE_TYPES:
            continue
        expected, allowed = _SIMPLE_TYPES[hints[name]]
        if not _matches(value, expected):
            raise ConfigError.invalid(f"{key}.{name}", value, allowed)


def require_mapping_with_target(key: str, value: Any) -> Mapping[str, Any]:
    """Returns `value` if it is a mapping with a `_target_` (something Hydra can build)."""
    if not isinstance(value, Mapping) or "_target_" not in value:
        raise ConfigError(f"{key}: must be a mapping with a `_target_` naming what to build")
    return value
