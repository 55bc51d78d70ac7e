"""A nested config as flat `dotted.key: value` pairs, as MLflow parameters and sweep tables want it."""

from typing import Any


def flatten_config(config: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Returns `{dotted.key: value}` for the leaves of a nested dictionary; lists and empty dicts stay values.

    Example:
        >>> flatten_config({"training": {"batch_size": 64, "optimizer": {"name": "adam"}}, "seed": 0})
        {'training.batch_size': 64, 'training.optimizer.name': 'adam', 'seed': 0}
    """
    flat: dict[str, Any] = {}
    for key, value in config.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            flat.update(flatten_config(value, f"{dotted}."))
        else:
            flat[dotted] = value
    return flat
