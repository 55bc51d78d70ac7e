"""The one typed boundary: a composed (or loaded) config converted once into its schema's dataclass and checked.

`validate_experiment_config` gives the `ExperimentConfig` of a training run, `validate_analyze_config` the
`AnalyzeConfig` of an analysis.
"""

from typing import TypeVar, cast

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from simplexity.config.schema import AnalyzeConfig, ExperimentConfig
from simplexity.errors import ConfigError, one_line

Schema = TypeVar("Schema", ExperimentConfig, AnalyzeConfig)

# Nodes filled from a config group, and the override that selects the group's option for them.
GROUP_OF_NODE = {
    "training_data_generator": "generative_process@training_data_generator",
    "predictive_model": "predictive_model",
    "training": "training",
    "persistence": "persistence",
    "validation": "validation",
    "logging": "logging",
    "analysis": "analysis",
}


def validate_experiment_config(cfg: DictConfig | ExperimentConfig) -> ExperimentConfig:
    """Returns `cfg` as a checked `ExperimentConfig`, or raises a `ConfigError` for its first unusable value.

    A config composed by Hydra already has the schema's types; one loaded from a run's `config.yaml` is merged
    into the schema first. Interpolations are resolved and the `instance` nodes become plain dicts, ready for
    `hydra.utils.instantiate`.
    """
    if isinstance(cfg, ExperimentConfig):
        cfg.check()
        return cfg
    for key, group in GROUP_OF_NODE.items():
        node = OmegaConf.select(cfg, key, throw_on_missing=False)
        if node is not None and not OmegaConf.is_missing(cfg, key) and not isinstance(node, DictConfig):
            raise ConfigError.invalid(key, node, f"is a config node; choose one with {group}={node}")
    typed = _to_object(cfg, ExperimentConfig)
    typed.check()
    return typed


def validate_analyze_config(cfg: DictConfig) -> AnalyzeConfig:
    """Returns an analysis config as a checked `AnalyzeConfig`, or raises a `ConfigError` for its first bad value.

    Hydra has checked types and keys while composing `analyze.yaml` (which starts from `analyze_schema`); what is
    left are the values out of range, and `run_dir`, which has no default.
    """
    if "run_dir" not in cfg or OmegaConf.is_missing(cfg, "run_dir"):
        raise ConfigError("run_dir: missing; give the training run directory to analyse, run_dir=PATH")
    typed = _to_object(cfg, AnalyzeConfig)
    typed.check()
    return typed


def _to_object(cfg: DictConfig, schema: type[Schema]) -> Schema:
    """Returns `cfg` merged into `schema` (unless Hydra composed it from there) and converted into its dataclass.

    Raises a one-line `ConfigError` for a missing required key or a value the schema cannot hold.
    """
    try:
        if OmegaConf.get_type(cfg) is not schema:
            cfg = cast(DictConfig, OmegaConf.merge(OmegaConf.structured(schema), cfg))
        missing = sorted(OmegaConf.missing_keys(cfg))
        if missing:
            raise ConfigError(f"{missing[0]}: missing required key")
        typed = OmegaConf.to_object(cfg)
    except OmegaConfBaseException as error:
        key = getattr(error, "full_key", None)
        raise ConfigError(f"{key}: {one_line(error)}" if key else one_line(error)) from error
    assert isinstance(typed, schema)
    return typed
