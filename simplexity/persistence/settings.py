"""The settings of persistence: where a run's checkpoints go, how many are kept, and where a run resumes from."""

from dataclasses import dataclass
from typing import Protocol

from simplexity.errors import ConfigError
from simplexity.value_checks import require_optional_positive_int


@dataclass
class PersistenceSettings:
    """`persistence`: where checkpoints go; `checkpoint_dir: null` writes none."""

    name: str = "local"
    checkpoint_dir: str | None = "checkpoints"  # relative paths are taken from the run directory
    max_to_keep: int | None = None

    def check(self) -> None:
        """Raises a `ConfigError` for an empty checkpoint directory or a bad `max_to_keep`."""
        if self.checkpoint_dir is not None and not self.checkpoint_dir:
            raise ConfigError.invalid(
                "persistence.checkpoint_dir", self.checkpoint_dir, "must be a non-empty path or null"
            )
        require_optional_positive_int("persistence.max_to_keep", self.max_to_keep)


class ResumeSettings(Protocol):
    """Where a run resumes from (`resolve_resume`): an experiment's `predictive_model` node holds these two keys."""

    @property
    def load_checkpoint_step(self) -> int | str | None:
        """None for a fresh start, `latest`, or a step."""
        ...

    @property
    def load_checkpoint_dir(self) -> str | None:
        """The directory of that checkpoint; None for the run's own checkpoint directory."""
        ...
