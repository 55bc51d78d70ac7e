"""Orbax checkpoints of a training state: model parameters, optimizer state and step.

Orbax is imported when a `Checkpointer` is made: importing this module, for its errors or for annotations, does
not load it.
"""

import logging
import shutil
from pathlib import Path
from typing import Any

import jax

from simplexity.errors import one_line
from simplexity.interruption import stopping_signals_deferred
from simplexity.run_directory import checkpoint_steps

# A damaged checkpoint is renamed to `<step>` + this suffix: orbax does not list it, and nothing is deleted.
DAMAGED_SUFFIX = ".damaged"
# Orbax's errors can quote whole TensorStore specs; a reason is cut to this many characters.
_REASON_CHARS = 200


class _OrbaxErrorReports(logging.Filter):
    """While a checkpoint is saved or restored, drops orbax's ERROR records (each with a traceback).

    They describe the failure that `Checkpointer.save` or `restore` then raises as its own one-line error; outside
    those calls everything passes.
    """

    def __init__(self):
        super().__init__()
        self.calls = 0

    def filter(self, record: logging.LogRecord) -> bool:
        return not (self.calls and record.levelno >= logging.ERROR)

    def __enter__(self) -> None:
        self.calls += 1

    def __exit__(self, *exc_info: object) -> None:
        self.calls -= 1


_ORBAX_ERROR_REPORTS = _OrbaxErrorReports()
logging.getLogger("absl").addFilter(_ORBAX_ERROR_REPORTS)  # orbax logs through absl's logger


def short_reason(error: BaseException) -> str:
    """Returns the one-line message of the innermost cause of `error`, cut to `_REASON_CHARS` characters.

    The innermost cause says what failed ("OUT_OF_RANGE: Error reading ... not valid for value of size 10"); the
    outer ones wrap it in a TensorStore spec.
    """
    while (inner := error.__cause__ or error.__context__) is not None:
        error = inner
    reason = one_line(error)
    return reason if len(reason) <= _REASON_CHARS else reason[: _REASON_CHARS - 3] + "..."


class DamagedCheckpointError(Exception):
    """A checkpoint that cannot be read back at all (a truncated or missing file), whatever the template.

    Arguments:
        directory: the checkpoint directory.
        step: the damaged checkpoint's step.
        reason: orbax's error, on one line and short.
    """

    def __init__(self, directory: Path, step: int, reason: str):
        super().__init__(f"checkpoint {step} in {directory} is damaged ({reason})")
        self.directory, self.step, self.reason = directory, step, reason


def _first_mismatch(saved: dict[tuple, Any], expected: dict[tuple, Any]) -> str | None:
    """Returns what first differs between a checkpoint's arrays and a template's (by name), or None."""
    missing, extra = sorted(set(expected) - set(saved)), sorted(set(saved) - set(expected))
    if missing or extra:
        names = ", ".join(".".join(key) for key in (missing or extra)[:3])
        return f"{'the checkpoint lacks' if missing else 'the model lacks'} {names}"
    for key in expected:
        have, want = saved[key], expected[key]
        have_dtype, want_dtype = getattr(have, "dtype", None), getattr(want, "dtype", None)
        if tuple(have.shape) != tuple(want.shape) or (have_dtype is not None and have_dtype != want_dtype):
            return (
                f"{'.'.join(key)} is {tuple(have.shape)} {have_dtype} in the checkpoint, "
                f"{tuple(want.shape)} {want_dtype} in the model"
            )
    return None


def _abstract(template: Any) -> Any:
    """Returns `template` with each array as the shape, dtype and sharding to restore it as."""
    import orbax.checkpoint as ocp

    return jax.tree.map(ocp.utils.to_shape_dtype_struct, template)


class CheckpointWriteError(Exception):
    """A checkpoint could not be written.

    Arguments:
        path: the checkpoint's directory.
        reason: the error, on one line and short (`RESOURCE_EXHAUSTED: ... Failed writing` on a full disk).
    """

    def __init__(self, path: Path, reason: str):
        super().__init__(f"{path}: cannot be written ({reason})")
        self.path, self.reason = path, reason


class CheckpointMismatchError(Exception):
    """A readable checkpoint whose arrays do not have the template's structure, shapes or dtypes.

    Its arguments: which checkpoint (`checkpoint STEP in DIRECTORY`) and orbax's reason, on one line and short.
    """


class Checkpointer:
    """Saves and restores pytrees by training step in one directory.

    Orbax writes each step into a temporary directory and renames it when complete, so an interrupted
    write never damages an earlier checkpoint.

    Arguments:
        directory: where step directories live; created on the first save.
        max_to_keep: how many of the newest checkpoints to keep; all when None.
    """

    def __init__(self, directory: str | Path, max_to_keep: int | None = None):
        import orbax.checkpoint as ocp

        self.directory = Path(directory).absolute()
        self._manager = ocp.CheckpointManager(
            self.directory,
            options=ocp.CheckpointManagerOptions(max_to_keep=max_to_keep, create=False),
            item_handlers=ocp.StandardCheckpointHandler(),  # lets `item_metadata` read a step's array metadata
        )

    def steps(self) -> list[int]:
        """Returns the steps that have a complete checkpoint, ascending (`run_directory.checkpoint_steps`)."""
        if not self.directory.is_dir():
            return []
        self._manager.reload()  # the directory may have changed since the manager last looked
        return checkpoint_steps(self.directory)

    def save(self, step: int, state: Any) -> None:
        """Writes `state` (any pytree of arrays) as the checkpoint of `step` and waits until it is complete.

        Ctrl-C or SIGTERM during the write takes effect once it is complete (`stopping_signals_deferred`), so a
        stop never leaves a partial checkpoint directory.

        Raises:
            CheckpointWriteError: the write failed (a full disk, say); its partial directory is removed, and the
                complete checkpoints are untouched.
        """
        import orbax.checkpoint as ocp

        with stopping_signals_deferred():
            try:
                self.directory.mkdir(parents=True, exist_ok=True)
                with _ORBAX_ERROR_REPORTS:
                    self._manager.save(step, args=ocp.args.StandardSave(state))
                    self._manager.wait_until_finished()
            except Exception as error:
                for partial in self.directory.glob(f"{step}.orbax-checkpoint-tmp*"):
                    shutil.rmtree(partial, ignore_errors=True)
                raise CheckpointWriteError(self.directory / str(step), short_reason(error)) from error

    def restore(self, step: int, template: Any) -> Any:
        """Returns the checkpoint of `step` with the structure, shapes and dtypes of `template`.

        The checkpoint's metadata is compared with `template` before any array is read (a failed read leaves
        orbax's pending reads to be reported when the interpreter exits); then every array is read, so a
        checkpoint that restores is complete.

        Raises:
            CheckpointMismatchError: the checkpoint's arrays are not `template`'s (names, shapes or dtypes).
            DamagedCheckpointError: its metadata or an array cannot be read.
        """
        self._require_fit(step, self._metadata(step), template)
        return self._read(step, _abstract(template))

    def restore_part(self, step: int, name: str, template: Any) -> Any:
        """Returns the entry `name` of the checkpoint of `step` (its `params`, say), with `template`'s structure.

        Only that entry has to fit `template`: a checkpoint whose other entries differ (written by a trainer that
        kept other statistics beside the parameters) still gives up its parameters.

        Raises:
            CheckpointMismatchError: the checkpoint has no entry `name`, or its arrays are not `template`'s.
            DamagedCheckpointError: its metadata or an array cannot be read.
        """
        metadata = self._metadata(step)
        if not isinstance(metadata, dict) or name not in metadata:
            raise CheckpointMismatchError(f"checkpoint {step} in {self.directory}", f"the checkpoint lacks {name}")
        self._require_fit(step, metadata[name], template)
        # The other entries are read as host arrays of the shapes and dtypes their metadata give, wherever saved.
        others = jax.tree.map(lambda leaf: jax.ShapeDtypeStruct(tuple(leaf.shape), leaf.dtype), metadata)
        return self._read(step, {**others, name: _abstract(template)})[name]

    def _require_fit(self, step: int, saved: Any, template: Any) -> None:
        """Raises a `CheckpointMismatchError` when the saved arrays' metadata are not `template`'s arrays."""
        import orbax.checkpoint as ocp

        mismatch = _first_mismatch(ocp.tree.to_flat_dict(saved), ocp.tree.to_flat_dict(template))
        if mismatch is not None:
            raise CheckpointMismatchError(f"checkpoint {step} in {self.directory}", mismatch)

    def _metadata(self, step: int) -> Any:
        """Returns the tree of array metadata of the checkpoint of `step`, read without reading any array."""
        try:
            metadata = self._manager.item_metadata(step)
        except Exception as error:
            raise DamagedCheckpointError(self.directory, step, short_reason(error)) from error
        if metadata is None or getattr(metadata, "tree", None) is None:
            missing = self.directory / str(step) / "default" / "_METADATA"
            raise DamagedCheckpointError(self.directory, step, f"its metadata ({missing}) cannot be read")
        return metadata.tree

    def _read(self, step: int, abstract: Any) -> Any:
        """Reads every array of the checkpoint of `step` into the structure of `abstract` (shape-dtype structs)."""
        import orbax.checkpoint as ocp

        try:
            with _ORBAX_ERROR_REPORTS:
                return self._manager.restore(step, args=ocp.args.StandardRestore(abstract))
        except Exception as error:
            raise DamagedCheckpointError(self.directory, step, short_reason(error)) from error

    def move_aside(self, step: int) -> Path:
        """Renames the checkpoint of `step` to `<step>.damaged` (`.damaged.1`, ... if taken); returns the new path."""
        source = self.directory / str(step)
        target, index = self.directory / f"{step}{DAMAGED_SUFFIX}", 0
        while target.exists():
            index += 1
            target = self.directory / f"{step}{DAMAGED_SUFFIX}.{index}"
        source.rename(target)
        self._manager.reload()
        return target

    def close(self) -> None:
        """Waits for pending writes and releases the manager."""
        self._manager.close()

    def __enter__(self) -> "Checkpointer":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
