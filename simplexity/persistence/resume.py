"""Which checkpoint a run resumes from, or an analysis restores: one lookup with one-line errors."""

import os
from pathlib import Path
from typing import Any

from simplexity.config.errors import ConfigError, one_line
from simplexity.config.schema import PredictiveModelConfig
from simplexity.persistence.checkpointer import Checkpointer


def choose_checkpoint(directory: Path, requested: int | str, key: str, empty: tuple[str, Any] | None = None) -> int:
    """Returns the step of `requested` (a step or `latest`) among the checkpoints in `directory`.

    Arguments:
        directory: the checkpoint directory.
        requested: a step number or `latest`.
        key: the config key that asked for it, named in the errors.
        empty: the key and value to name when `directory` holds no checkpoint at all (`key` and `requested` when
            None).

    Raises:
        ConfigError: when `directory` holds no checkpoint, or none of that step.
    """
    steps = Checkpointer(directory).steps()
    if not steps:
        empty_key, empty_value = (key, requested) if empty is None else empty
        raise ConfigError.invalid(empty_key, empty_value, f"no checkpoint in {directory}")
    step = steps[-1] if requested == "latest" else requested
    if step not in steps:
        raise ConfigError.invalid(key, requested, f"no checkpoint of that step in {directory}; available: {steps}")
    assert isinstance(step, int)
    return step


def resolve_resume(model: PredictiveModelConfig, checkpoint_dir: Path, template: Any) -> tuple[Any | None, int]:
    """Returns the state to resume from (None for a fresh start) and its step, or raises a `ConfigError`.

    Refuses anything that would overwrite checkpoints already in `checkpoint_dir`, the run's own directory.

    Arguments:
        model: the `predictive_model` settings (`load_checkpoint_step`, `load_checkpoint_dir`).
        checkpoint_dir: where this run writes its checkpoints.
        template: a state of the right structure for restoring (`initial_train_state`).
    """
    step_key = "predictive_model.load_checkpoint_step"
    requested = model.load_checkpoint_step
    own_steps = Checkpointer(checkpoint_dir).steps()
    if requested is None:
        if own_steps:
            raise ConfigError(
                f"persistence.checkpoint_dir={str(checkpoint_dir)!r}: already holds checkpoints {own_steps}; "
                f"resume with {step_key}=latest or write into another hydra.run.dir"
            )
        return None, 0
    load_dir = Path(model.load_checkpoint_dir).absolute() if model.load_checkpoint_dir else checkpoint_dir
    if not load_dir.is_dir() or not os.access(load_dir, os.R_OK | os.X_OK):
        key = "predictive_model.load_checkpoint_dir" if model.load_checkpoint_dir else "persistence.checkpoint_dir"
        raise ConfigError.invalid(key, str(load_dir), "is not a readable directory of checkpoints")
    step = choose_checkpoint(load_dir, requested, step_key)
    later = [s for s in own_steps if s > step]
    if later:
        raise ConfigError.invalid(
            step_key,
            requested,
            f"{checkpoint_dir} already holds later checkpoints {later}, which resuming would overwrite",
        )
    try:
        state = Checkpointer(load_dir).restore(step, template)
    except Exception as error:
        raise ConfigError.invalid(
            step_key, requested, f"checkpoint in {load_dir} does not fit this model and optimizer: {one_line(error)}"
        ) from error
    return state, step
