"""Experiment configuration: validation and the errors a user's config can cause."""

from simplexity.config.errors import ConfigError
from simplexity.config.validation import validate_experiment_config

__all__ = ["ConfigError", "validate_experiment_config"]
