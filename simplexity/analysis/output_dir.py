"""The directory an analysis writes into: checked before the analysis runs, and its writes failing in one line.

A directory that cannot be created or written (read-only, under a file, a path of `/proc`) ends the analysis with
a `StorageError` (exit code 5) naming the config key and the path, before any model runs; a write that fails
later (a full disk) ends it the same way.
"""

import os
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from simplexity.errors import StorageError, one_line


def _reason(error: OSError) -> str:
    return error.strerror or one_line(error)


def require_writable(directory: Path, key: str, names: Sequence[str]) -> None:
    """Creates `directory` if it is missing and checks that the files `names` can be written into it.

    Writes nothing that stays: a temporary file is created there and removed.

    Arguments:
        directory: where the files go.
        key: the config key that chose the directory (`output_dir`, `run_dir`), named in the error.
        names: the files the analysis will write there; an existing one must be a writable file.

    Raises:
        StorageError: the directory cannot be created or written, or one of `names` is not a writable file.
    """
    where = f"{key}={str(directory)!r}"
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise StorageError(f"{where}: cannot be created ({_reason(error)})") from error
    try:
        with tempfile.NamedTemporaryFile(dir=directory, prefix=".analysis-"):
            pass
    except OSError as error:
        raise StorageError(f"{where}: cannot be written ({_reason(error)})") from error
    for name in names:
        path = directory / name
        if path.exists() and not path.is_file():
            raise StorageError(f"{where}: {path} cannot be written (it is not a file)")
        if path.exists():
            try:  # opened for appending and closed: the file is left as it was
                os.close(os.open(path, os.O_WRONLY | os.O_APPEND))
            except OSError as error:
                raise StorageError(f"{where}: {path} cannot be written ({_reason(error)})") from error


@contextmanager
def storage_errors(directory: Path, key: str) -> Iterator[None]:
    """Turns an `OSError` of a write into `directory` inside the block into a one-line `StorageError`.

    The error names `key`, the directory and the file where the `OSError` names one; an `OSError` about a file
    elsewhere passes unchanged.
    """
    try:
        yield
    except OSError as error:
        where = f"{key}={str(directory)!r}"
        if error.filename is None:  # a failed write to an open file (a full disk) names no file
            raise StorageError(f"{where}: cannot be written ({_reason(error)})") from error
        path = Path(os.fsdecode(error.filename)).absolute()
        if directory not in path.parents:
            raise
        raise StorageError(f"{where}: {path} cannot be written ({_reason(error)})") from error
