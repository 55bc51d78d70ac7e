"""What a user can name: the options of the model and process config groups."""

from simplexity.config.loading import CONFIG_DIR


def _options(group: str) -> list[str]:
    return sorted(path.stem for path in (CONFIG_DIR / group).glob("*.yaml"))


def list_models() -> list[str]:
    """Returns the names accepted by `predictive_model=NAME` (the YAMLs in `configs/predictive_model/`)."""
    return _options("predictive_model")


def list_processes() -> list[str]:
    """Returns the names accepted by `generative_process@training_data_generator=NAME`."""
    return _options("generative_process")
