"""Checks of an experiment config that need nothing built: presence, types, ranges, agreement of sizes."""

from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf

from simplexity.config.errors import ConfigError
from simplexity.training.optimizer import SCHEDULES

_MISSING = object()
# Nodes filled from a config group, and the override that selects the group's option for them.
GROUP_OF_NODE = {
    "training_data_generator": "generative_process@training_data_generator",
    "predictive_model": "predictive_model",
    "training": "training",
    "persistence": "persistence",
    "validation": "validation",
    "logging": "logging",
}
LOGGERS = ("console", "jsonl", "mlflow")


def select(cfg: DictConfig, key: str) -> Any:
    """Returns the value at dotted `key`, or raises a `ConfigError` naming the key when it is absent."""
    value = OmegaConf.select(cfg, key, default=_MISSING, throw_on_missing=False)
    if value is _MISSING or OmegaConf.is_missing(cfg, key):
        raise ConfigError(f"{key}: missing required key")
    return value


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def require_positive_int(cfg: DictConfig, key: str) -> int:
    """Returns the value at `key` if it is an integer of at least 1."""
    value = select(cfg, key)
    if not _is_int(value) or value < 1:
        raise ConfigError.invalid(key, value, "must be a positive integer")
    return value


def require_optional_positive_int(cfg: DictConfig, key: str) -> int | None:
    """Returns the value at `key` if it is null or an integer of at least 1."""
    value = select(cfg, key)
    if value is not None and (not _is_int(value) or value < 1):
        raise ConfigError.invalid(key, value, "must be a positive integer or null")
    return value


def validate_experiment_config(cfg: DictConfig) -> None:
    """Raises a `ConfigError` for the first value of an experiment config that cannot be used.

    Checks what can be checked before anything is built: required keys, integer types and ranges,
    `training.log_every <= training.num_steps`, the checkpoint step's form, and that the model's
    `vocab_size` equals the training data's.
    """
    for key, group in GROUP_OF_NODE.items():
        node = select(cfg, key)
        if not isinstance(node, DictConfig):
            raise ConfigError.invalid(key, node, f"is a config node; choose one with {group}={node}")
    seed = select(cfg, "seed")
    if not _is_int(seed) or seed < 0:
        raise ConfigError.invalid("seed", seed, "must be a non-negative integer")
    for key in ["sequence_len", "batch_size", "num_steps", "log_every"]:
        require_positive_int(cfg, f"training.{key}")
    require_optional_positive_int(cfg, "training.checkpoint_every")
    log_every, num_steps = cfg.training.log_every, cfg.training.num_steps
    if log_every > num_steps:
        raise ConfigError.invalid("training.log_every", log_every, f"must be at most training.num_steps={num_steps}")
    for key in ["training_data_generator.instance", "predictive_model.instance", "training.optimizer.instance"]:
        if not isinstance(select(cfg, key), DictConfig) or "_target_" not in select(cfg, key):
            raise ConfigError(f"{key}: must be a mapping with a `_target_` naming what to build")

    learning_rate = OmegaConf.select(cfg, "training.optimizer.instance.learning_rate", default=None)
    is_number = _is_number(learning_rate)
    # A mapping is a schedule to be built by Hydra; anything else must be a positive number.
    if (
        learning_rate is not None
        and not isinstance(learning_rate, DictConfig)
        and not (is_number and learning_rate > 0)
    ):
        raise ConfigError.invalid(
            "training.optimizer.instance.learning_rate", learning_rate, "must be a positive number"
        )

    data_vocab_size = require_positive_int(cfg, "training_data_generator.vocab_size")
    model_vocab_size = OmegaConf.select(cfg, "predictive_model.instance.vocab_size", default=None)
    if model_vocab_size is not None and model_vocab_size != data_vocab_size:
        raise ConfigError.invalid(
            "predictive_model.instance.vocab_size",
            model_vocab_size,
            f"must equal training_data_generator.vocab_size={data_vocab_size}",
        )

    validation_generator = select(cfg, "validation_data_generator")
    if validation_generator is not None:
        validation_vocab_size = require_positive_int(cfg, "validation_data_generator.vocab_size")
        if validation_vocab_size != data_vocab_size:
            raise ConfigError.invalid(
                "validation_data_generator.vocab_size",
                validation_vocab_size,
                f"must equal training_data_generator.vocab_size={data_vocab_size}",
            )
    require_positive_int(cfg, "validation.num_sequences")
    validation_seed = select(cfg, "validation.seed")
    if not _is_int(validation_seed) or validation_seed < 0:
        raise ConfigError.invalid("validation.seed", validation_seed, "must be a non-negative integer")
    schedule = select(cfg, "training.schedule.name")
    if schedule not in SCHEDULES:
        raise ConfigError.invalid("training.schedule.name", schedule, f"must be one of {', '.join(SCHEDULES)}")
    warmup_steps = select(cfg, "training.schedule.warmup_steps")
    if not _is_int(warmup_steps) or warmup_steps < 0:
        raise ConfigError.invalid("training.schedule.warmup_steps", warmup_steps, "must be a non-negative integer")
    final_fraction = select(cfg, "training.schedule.final_fraction")
    if not _is_number(final_fraction) or not 0.0 <= final_fraction <= 1.0:
        raise ConfigError.invalid("training.schedule.final_fraction", final_fraction, "must be a number in [0, 1]")
    max_grad_norm = select(cfg, "training.max_grad_norm")
    if max_grad_norm is not None and (not _is_number(max_grad_norm) or max_grad_norm <= 0):
        raise ConfigError.invalid("training.max_grad_norm", max_grad_norm, "must be a positive number or null")
    loggers = select(cfg, "logging.loggers")
    if not isinstance(loggers, ListConfig) or not set(loggers) <= set(LOGGERS):
        raise ConfigError.invalid("logging.loggers", loggers, f"must be a list drawn from {', '.join(LOGGERS)}")

    step = select(cfg, "predictive_model.load_checkpoint_step")
    if step is not None and step != "latest" and (not _is_int(step) or step < 0):
        raise ConfigError.invalid(
            "predictive_model.load_checkpoint_step", step, "must be null, `latest` or a non-negative integer"
        )
    load_dir = OmegaConf.select(cfg, "predictive_model.load_checkpoint_dir", default=None)
    if load_dir is not None and not isinstance(load_dir, str):
        raise ConfigError.invalid("predictive_model.load_checkpoint_dir", load_dir, "must be a path or null")
    checkpoint_dir = select(cfg, "persistence.checkpoint_dir")
    if checkpoint_dir is not None and (not isinstance(checkpoint_dir, str) or not checkpoint_dir):
        raise ConfigError.invalid("persistence.checkpoint_dir", checkpoint_dir, "must be a non-empty path or null")
    require_optional_positive_int(cfg, "persistence.max_to_keep")
