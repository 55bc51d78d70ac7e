"""Which checkpoint a run resumes from, or an analysis restores: one lookup with one-line errors."""

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from simplexity.errors import (
    ConfigError,
    DamagedCheckpointRequestedError,
    UnfitCheckpointError,
    UserError,
)
from simplexity.persistence.checkpointer import Checkpointer, CheckpointMismatchError, DamagedCheckpointError
from simplexity.persistence.settings import ResumeSettings


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
    with Checkpointer(directory) as checkpointer:
        steps = checkpointer.steps()
    if not steps:
        empty_key, empty_value = (key, requested) if empty is None else empty
        raise ConfigError.invalid(empty_key, empty_value, f"no checkpoint in {directory}")
    step = steps[-1] if requested == "latest" else requested
    if step not in steps:
        raise ConfigError.invalid(key, requested, f"no checkpoint of that step in {directory}; available: {steps}")
    assert isinstance(step, int)
    return step


def _notify_on_stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def resolve_resume(
    model: ResumeSettings,
    checkpoint_dir: Path,
    template: Any,
    notify: Callable[[str], None] = _notify_on_stderr,
    writer: bool = True,
) -> tuple[Any | None, int]:
    """Returns the state to resume from (None for a fresh start) and its step, or raises a `UserError`.

    Refuses anything that would overwrite good checkpoints already in `checkpoint_dir`, the run's own directory.
    `latest` with no checkpoint of the run's own yet (and no `load_checkpoint_dir`) is a fresh start, said in one
    line through `notify`, so that a job requeued before its first checkpoint starts over; a step asked for by
    number must exist.
    Every checkpoint is verified as it is restored. With `latest`, a damaged checkpoint is skipped for the newest
    one that restores, and the run's own damaged checkpoints are moved aside (`<step>.damaged`, never deleted),
    each said in one line through `notify`. Later checkpoints than the one asked for block the resume only when
    they restore; damaged ones are moved aside.

    Arguments:
        model: the `predictive_model` settings (`load_checkpoint_step`, `load_checkpoint_dir`).
        checkpoint_dir: where this run writes its checkpoints.
        template: a state of the right structure for restoring (`initial_train_state`).
        notify: receives each one-line notice (a damaged checkpoint skipped); stderr by default.
        writer: whether this process changes the checkpoint directory. In a multi-host run only process 0 does:
            the others skip damaged checkpoints the same way but leave moving them aside to it, and say nothing.

    Raises:
        ConfigError: a step that does not exist, or good later checkpoints that resuming would overwrite.
        DamagedCheckpointRequestedError: the step asked for is damaged (naming the newest good one).
        UnfitCheckpointError: the checkpoint is readable but does not fit `template`.
    """
    step_key = "predictive_model.load_checkpoint_step"
    requested = model.load_checkpoint_step
    with Checkpointer(checkpoint_dir) as own:
        own_steps = own.steps()
    if requested is None:
        if own_steps:
            raise ConfigError(
                f"persistence.checkpoint_dir={str(checkpoint_dir)!r}: already holds checkpoints {own_steps}; "
                f"resume with {step_key}=latest or write into another hydra.run.dir"
            )
        return None, 0
    if requested == "latest" and not model.load_checkpoint_dir and not own_steps:
        # A requeued job stopped before its first checkpoint: `latest` of nothing is the start.
        if writer:
            notify(f"warning: {step_key}='latest': no checkpoint in {checkpoint_dir} yet; starting at step 0")
        return None, 0
    load_dir = Path(model.load_checkpoint_dir).absolute() if model.load_checkpoint_dir else checkpoint_dir
    if not model.load_checkpoint_dir and not load_dir.exists():
        # Resuming a run directory that has no checkpoints yet: the key the user set is the step.
        raise ConfigError.invalid(step_key, requested, f"no checkpoint in {load_dir}, which does not exist")
    if not load_dir.is_dir() or not os.access(load_dir, os.R_OK | os.X_OK):
        key = "predictive_model.load_checkpoint_dir" if model.load_checkpoint_dir else "persistence.checkpoint_dir"
        raise ConfigError.invalid(key, str(load_dir), "is not a readable directory of checkpoints")
    step = choose_checkpoint(load_dir, requested, step_key)
    with Checkpointer(load_dir) as source:
        candidates = [s for s in source.steps() if s <= step] if requested == "latest" else [step]
        try:
            state, step, damage = _restore_newest_good(
                source, candidates, template, writer and load_dir == checkpoint_dir, notify if writer else _silent
            )
        except CheckpointMismatchError as error:
            raise UnfitCheckpointError.invalid(
                step_key, requested, f"{error.args[0]}: does not fit this model and optimizer ({error.args[1]})"
            ) from error
        if damage is not None:
            raise _damaged_request(source, requested, damage, template)
    with Checkpointer(checkpoint_dir) as own:
        _clear_later(own, step, requested, template, notify, writer)
    return state, step


def _silent(message: str) -> None:
    del message


def _restore_newest_good(
    source: Checkpointer, steps: list[int], template: Any, owned: bool, notify: Callable[[str], None]
) -> tuple[Any | None, int, DamagedCheckpointError | None]:
    """Restores the newest of `steps` that is not damaged.

    Returns `(state, step, None)`, or `(None, step, damage)` when the one step asked for is damaged.
    With several candidates (`latest`), damaged ones are skipped (moved aside when `owned`) and said through
    `notify`; with one, its damage is the caller's to report.
    """
    for index, step in enumerate(reversed(steps)):
        try:
            return source.restore(step, template), step, None
        except DamagedCheckpointError as error:
            if len(steps) == 1:
                return None, step, error
            where = f"moved aside to {source.move_aside(step)}" if owned else "left in place"
            older = steps[-index - 2] if index + 1 < len(steps) else None
            then = f"trying step {older}" if older is not None else "no older checkpoint is left"
            notify(f"warning: {error}; {where}; {then}")
    raise DamagedCheckpointRequestedError(
        f"predictive_model.load_checkpoint_step={steps[-1] if steps else None!r}: no checkpoint in "
        f"{source.directory} restores"
    )


def _newest_good_step(checkpointer: Checkpointer, below: int, template: Any) -> int | None:
    """Returns the newest step below `below` whose checkpoint restores into `template`, or None."""
    for step in reversed([s for s in checkpointer.steps() if s < below]):
        try:
            checkpointer.restore(step, template)
        except (DamagedCheckpointError, CheckpointMismatchError):
            continue
        return step
    return None


def _damaged_request(source: Checkpointer, requested: Any, damage: DamagedCheckpointError, template: Any) -> UserError:
    """Returns the error for a damaged checkpoint asked for by step, naming the newest good one."""
    good = _newest_good_step(source, damage.step, template)
    advice = f"the newest good checkpoint is step {good}" if good is not None else "no older checkpoint restores"
    return DamagedCheckpointRequestedError(f"predictive_model.load_checkpoint_step={requested!r}: {damage}; {advice}")


def _clear_later(
    own: Checkpointer, step: int, requested: Any, template: Any, notify: Callable[[str], None], writer: bool
) -> None:
    """Refuses to resume below good checkpoints of the run's own; the writer moves damaged later ones aside."""
    damaged: list[DamagedCheckpointError] = []
    kept = []
    for later_step in [s for s in own.steps() if s > step]:
        try:
            own.restore(later_step, template)
        except DamagedCheckpointError as damage:
            damaged.append(damage)
            continue
        except CheckpointMismatchError:
            pass  # readable: a checkpoint of another model is still a run's work
        kept.append(later_step)
    if kept:
        raise ConfigError.invalid(
            "predictive_model.load_checkpoint_step",
            requested,
            f"{own.directory} already holds later checkpoints {kept}, which resuming would overwrite",
        )
    for damage in damaged if writer else []:
        notify(f"warning: {damage}; moved aside to {own.move_aside(damage.step)}")
