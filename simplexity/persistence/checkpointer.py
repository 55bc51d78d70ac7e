"""Orbax checkpoints of a training state: model parameters, optimizer state and step."""

from pathlib import Path
from typing import Any

import jax
import orbax.checkpoint as ocp


class Checkpointer:
    """Saves and restores pytrees by training step in one directory.

    Orbax writes each step into a temporary directory and renames it when complete, so an interrupted
    write never damages an earlier checkpoint.

    Arguments:
        directory: where step directories live; created on the first save.
        max_to_keep: how many of the newest checkpoints to keep; all when None.
    """

    def __init__(self, directory: str | Path, max_to_keep: int | None = None):
        self.directory = Path(directory).absolute()
        self._manager = ocp.CheckpointManager(
            self.directory,
            options=ocp.CheckpointManagerOptions(max_to_keep=max_to_keep, create=False),
        )

    def steps(self) -> list[int]:
        """Returns the steps that have a complete checkpoint, ascending."""
        if not self.directory.is_dir():
            return []
        return sorted(self._manager.all_steps(read=True))

    def save(self, step: int, state: Any) -> None:
        """Writes `state` (any pytree of arrays) as the checkpoint of `step` and waits until it is complete."""
        self.directory.mkdir(parents=True, exist_ok=True)
        self._manager.save(step, args=ocp.args.StandardSave(state))
        self._manager.wait_until_finished()

    def restore(self, step: int, template: Any) -> Any:
        """Returns the checkpoint of `step` with the structure, shapes and dtypes of `template`."""
        abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, template)
        return self._manager.restore(step, args=ocp.args.StandardRestore(abstract))

    def close(self) -> None:
        """Waits for pending writes and releases the manager."""
        self._manager.close()
