"""Experiment configuration: the typed schemas of the commands, their one conversion and checks, and user errors.

The schemas aggregate the settings each package declares beside its code (`simplexity.training.settings`,
`simplexity.logging.settings`, `simplexity.persistence.settings`, `simplexity.analysis.settings`).
"""

from simplexity.config.loading import CONFIG_DIR, load_analyze_config, load_config
from simplexity.config.schema import AnalyzeConfig, ExperimentConfig, register_configs
from simplexity.config.validation import validate_analyze_config, validate_experiment_config
from simplexity.errors import ConfigError, UserError

__all__ = [
    "CONFIG_DIR",
    "AnalyzeConfig",
    "ConfigError",
    "ExperimentConfig",
    "UserError",
    "load_analyze_config",
    "load_config",
    "register_configs",
    "validate_analyze_config",
    "validate_experiment_config",
]
