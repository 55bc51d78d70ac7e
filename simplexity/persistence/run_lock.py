"""One run at a time in a run directory: an advisory lock that the operating system releases when the run ends.

The lock is an `fcntl` lock on `.lock` in the run directory, so a killed run never leaves a stale lock behind.
"""

import fcntl
import os
from pathlib import Path
from types import TracebackType

from simplexity.errors import ConfigError
from simplexity.run_directory import LOCK_FILE


class RunDirectoryLock:
    """Holds the lock of `run_dir` from `__enter__` to `__exit__` (or until the process dies).

    Arguments:
        run_dir: the run directory; created if missing.
        key: the config key that named the directory, for the error.

    Raises:
        ConfigError: on entering, when another run holds the lock; it names the directory and that run's process.
    """

    def __init__(self, run_dir: Path, key: str = "hydra.run.dir"):
        self.path = run_dir / LOCK_FILE
        self.key = key
        self._file = None

    def __enter__(self) -> "RunDirectoryLock":
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(self.path, "a+", encoding="utf-8")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as error:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            handle.close()
            raise ConfigError.invalid(
                self.key,
                str(self.path.parent),
                f"is in use by another run (process {holder}); wait for it to end or choose another directory",
            ) from error
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        self._file = handle
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        if self._file is not None:
            fcntl.flock(self._file, fcntl.LOCK_UN)
            self._file.close()
            self._file = None
