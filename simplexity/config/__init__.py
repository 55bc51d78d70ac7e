"""Experiment configuration: the typed schema, its one conversion and checks, and the errors a user can cause."""

from simplexity.config.loading import CONFIG_DIR, load_config
from simplexity.config.schema import ExperimentConfig, TrainingConfig, register_configs
from simplexity.config.validation import validate_experiment_config
from simplexity.errors import ConfigError, UserError

__all__ = [
    "CONFIG_DIR",
    "ConfigError",
    "ExperimentConfig",
    "TrainingConfig",
    "UserError",
    "load_config",
    "register_configs",
    "validate_experiment_config",
]
