"""Experiment configuration: validation and the errors a user's config can cause."""

from simplexity.config.errors import ConfigError
from simplexity.config.loading import CONFIG_DIR, load_config
from simplexity.config.schema import ExperimentConfig, register_configs
from simplexity.config.validation import validate_experiment_config

__all__ = [
    "CONFIG_DIR",
    "ConfigError",
    "ExperimentConfig",
    "load_config",
    "register_configs",
    "validate_experiment_config",
]
