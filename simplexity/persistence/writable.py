"""Whether a directory a run will write into can be written, found out before the run writes anything."""

import tempfile
from pathlib import Path

from simplexity.errors import StorageError


def _nearest_existing(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def cannot_write_into(directory: Path) -> str | None:
    """Returns why `directory` cannot be written into or created, or None when it can.

    Asks the directory itself, or its nearest existing parent when it is missing, by opening an unnamed temporary
    file there (`O_TMPFILE` where the file system has it), so that the answer holds for root and read-only file
    systems alike and nothing is left behind.
    """
    existing = _nearest_existing(directory.absolute())
    if not existing.is_dir():
        return f"{existing} is not a directory"
    try:
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as error:
        return f"{existing} cannot be written ({error.strerror or type(error).__name__})"
    return None


def require_writable_checkpoint_dir(checkpoint_dir: Path, run_dir: Path) -> None:
    """Raises a `StorageError` (exit code 5) naming `persistence.checkpoint_dir` when it cannot be written.

    A checkpoint directory inside the run directory that is missing with the run directory is left to the run
    directory's own check (its lock is the first thing the run writes).
    """
    existing = _nearest_existing(checkpoint_dir.absolute())
    run_dir = run_dir.absolute()
    if checkpoint_dir.absolute().is_relative_to(run_dir) and run_dir.is_relative_to(existing):
        return
    reason = cannot_write_into(checkpoint_dir)
    if reason is not None:
        raise StorageError(f"persistence.checkpoint_dir={str(checkpoint_dir)!r}: {reason}; nothing was written")
