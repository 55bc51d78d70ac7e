"""Composing the command line's config without the command line: for notebooks and tests."""

from collections.abc import Sequence
from importlib import resources
from pathlib import Path

from hydra import compose, initialize_config_dir
from omegaconf import DictConfig

from simplexity.config.schema import register_configs

CONFIG_PACKAGE = "simplexity.configs"


def config_directory() -> Path:
    """Returns the directory of the YAML configs that `simplexity-train` and `simplexity-analyze` compose.

    In a source tree (a clone, or an editable install of one) that is `configs/` at the repository root, beside the
    `simplexity` package that is running. An installed wheel has no repository root: it carries the same YAMLs as the
    package data of `simplexity.configs` (`site-packages/simplexity/configs/`).
    """
    source_tree = Path(__file__).resolve().parents[2]
    configs = source_tree / "configs"
    if (source_tree / "pyproject.toml").is_file() and (configs / "train.yaml").is_file():
        return configs
    return Path(str(resources.files(CONFIG_PACKAGE)))


CONFIG_DIR = config_directory()
# Short forms of overrides: the training process is chosen from the `generative_process` group into the
# `training_data_generator` node, so `generative_process=NAME` means that.
OVERRIDE_ALIASES = {"generative_process": "generative_process@training_data_generator"}


def expand_override_aliases(overrides: Sequence[str]) -> list[str]:
    """Returns `overrides` with each short form (`OVERRIDE_ALIASES`) written out.

    `generative_process=even_ones` becomes `generative_process@training_data_generator=even_ones`; every other
    override is left as it is.
    """
    expanded = []
    for override in overrides:
        key, equals, value = override.partition("=")
        expanded.append(f"{OVERRIDE_ALIASES[key]}={value}" if equals and key in OVERRIDE_ALIASES else override)
    return expanded


def load_config(overrides: Sequence[str] = (), config_dir: str | Path = CONFIG_DIR) -> DictConfig:
    """Returns the config `python run_experiment.py OVERRIDES...` would run, composed by Hydra.

    Arguments:
        overrides: command-line style overrides, e.g. `["predictive_model=transformer", "seed=3"]`; the short
            forms of `expand_override_aliases` are accepted.
        config_dir: the directory holding `train.yaml` (`CONFIG_DIR`, the package's `configs/`, by default).

    Example:
        >>> cfg = load_config(["predictive_model=lstm", "training=tiny"])
        >>> experiment = build(cfg)
        >>> result = experiment.train()
    """
    return _compose("train", expand_override_aliases(overrides), config_dir)


def load_analyze_config(overrides: Sequence[str] = (), config_dir: str | Path = CONFIG_DIR) -> DictConfig:
    """Returns the config `python run_analysis.py OVERRIDES...` would run with, composed by Hydra.

    An unknown key or a value of the wrong type raises Hydra's `ConfigCompositionException`, as on the command
    line; `validate_analyze_config` turns the composed config into the checked `AnalyzeConfig`.

    Example:
        >>> cfg = load_analyze_config(["run_dir=outputs/2026-01-01/12-00-00", "max_context_len=4"])
        >>> options = validate_analyze_config(cfg).options()
    """
    return _compose("analyze", list(overrides), config_dir)


def _compose(config_name: str, overrides: list[str], config_dir: str | Path) -> DictConfig:
    """Returns the primary config `config_name` of `config_dir` composed with `overrides`, the schemas registered."""
    register_configs()
    with initialize_config_dir(config_dir=str(Path(config_dir).absolute()), version_base=None):
        return compose(config_name=config_name, overrides=overrides)
