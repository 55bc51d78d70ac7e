"""A run's models restored from its checkpoints for an analysis, past damaged checkpoints where it can go on.

Checkpoints are verified as they are restored (`Checkpointer.restore_part`). Like training's resume
(`simplexity.persistence.resume`), `latest` falls back to the newest checkpoint that restores and says each damaged
one in a warning line; a damaged checkpoint asked for by step ends the analysis (exit code 4) naming the newest good
step. An analysis only reads: a damaged checkpoint is left in place, never moved aside.
"""

import sys
from collections.abc import Callable
from pathlib import Path

import equinox as eqx

from simplexity.errors import DamagedCheckpointRequestedError, UnfitCheckpointError
from simplexity.experiment import Experiment
from simplexity.persistence import Checkpointer
from simplexity.persistence.checkpointer import CheckpointMismatchError, DamagedCheckpointError
from simplexity.predictive_models import PredictiveModel, split_parameters

Notify = Callable[[str], None]


def notify_on_stderr(message: str) -> None:
    """Prints a one-line notice (a damaged checkpoint skipped) on stderr."""
    print(message, file=sys.stderr, flush=True)


def restore_checkpoint(experiment: Experiment, checkpoint_dir: Path, step: int) -> PredictiveModel:
    """Returns the experiment's model with the parameters of the checkpoint of `step`.

    Raises:
        DamagedCheckpointError: the checkpoint cannot be read.
        UnfitCheckpointError: it is readable but its parameters do not fit the model of the run's config.
    """
    params, static = split_parameters(experiment.model)
    with Checkpointer(checkpoint_dir) as checkpointer:
        try:
            params = checkpointer.restore_part(step, "params", params)
        except CheckpointMismatchError as error:
            where, reason = error.args
            raise UnfitCheckpointError.invalid(
                "step", step, f"{where} does not fit the model of the run's config ({reason})"
            ) from error
    return eqx.combine(params, static)


def restore_latest(
    experiment: Experiment, checkpoint_dir: Path, steps: list[int], notify: Notify = notify_on_stderr
) -> tuple[PredictiveModel, int]:
    """Returns the model of the newest of `steps` (ascending) that restores, and its step.

    Each damaged checkpoint passed over is said in one line through `notify`.

    Raises:
        DamagedCheckpointRequestedError: none of `steps` restores.
        UnfitCheckpointError: the newest readable checkpoint does not fit the model.
    """
    for index, step in enumerate(reversed(steps)):
        try:
            return restore_checkpoint(experiment, checkpoint_dir, step), step
        except DamagedCheckpointError as error:
            older = steps[-index - 2] if index + 1 < len(steps) else None
            then = f"trying step {older}" if older is not None else "no older checkpoint is left"
            notify(f"warning: {error}; left in place; {then}")
    raise DamagedCheckpointRequestedError(f"step='latest': no checkpoint in {checkpoint_dir} restores")


def restore_step(experiment: Experiment, checkpoint_dir: Path, steps: list[int], step: int) -> PredictiveModel:
    """Returns the model of the checkpoint of `step` (one of `steps`).

    Raises:
        DamagedCheckpointRequestedError: that checkpoint is damaged; the message names the newest good step.
        UnfitCheckpointError: it does not fit the model.
    """
    try:
        return restore_checkpoint(experiment, checkpoint_dir, step)
    except DamagedCheckpointError as damage:
        good = _newest_good_step(experiment, checkpoint_dir, [other for other in steps if other != step])
        advice = f"the newest good checkpoint is step {good}" if good is not None else "no other checkpoint restores"
        raise DamagedCheckpointRequestedError(f"step={step}: {damage}; {advice}") from damage


def _newest_good_step(experiment: Experiment, checkpoint_dir: Path, steps: list[int]) -> int | None:
    """Returns the newest of `steps` whose checkpoint restores into the model, or None."""
    for step in reversed(steps):
        try:
            restore_checkpoint(experiment, checkpoint_dir, step)
        except (DamagedCheckpointError, UnfitCheckpointError):
            continue
        return step
    return None
