"""Where a run came from: the code, the packages, the machine and the command, one record per start of a run.

The run directory's `provenance.json` is a JSON list with one record per run started in it: the first run, then
one per resume, each kept. A record is written when training starts and completed when it ends, each time by
writing a new file and renaming it over the old one, so a crash leaves the previous complete list.
"""

import datetime
import importlib.metadata
import json
import os
import shlex
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import jax

from simplexity.run_directory import PROVENANCE_FILE

# The packages whose versions decide what a run computes, by distribution name.
RECORDED_PACKAGES = ("simplexity", "jax", "jaxlib", "equinox", "optax", "orbax-checkpoint", "hydra-core")
_GIT_TIMEOUT_SECONDS = 10.0


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")


def _git(source_dir: Path, *arguments: str) -> str | None:
    """Returns the stripped output of `git -C source_dir ARGUMENTS`, or None when git is missing or fails."""
    try:
        done = subprocess.run(
            ["git", "-C", str(source_dir), *arguments],
            capture_output=True,
            text=True,
            timeout=_GIT_TIMEOUT_SECONDS,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def git_state(source_dir: Path | None = None) -> tuple[str | None, bool | None]:
    """Returns the git commit of the checkout simplexity is imported from and whether its tracked files differ.

    `(None, None)` when simplexity is not imported from a git checkout (a wheel installed into site-packages,
    say). Untracked files do not make a tree dirty: run outputs under the checkout would otherwise always do.

    Arguments:
        source_dir: the directory to ask; the directory above the `simplexity` package when None.
    """
    source_dir = source_dir or Path(__file__).resolve().parents[2]
    top = _git(source_dir, "rev-parse", "--show-toplevel")
    if top is None or not (Path(top) / "simplexity" / "__init__.py").is_file():
        return None, None
    commit = _git(source_dir, "rev-parse", "HEAD")
    changes = _git(source_dir, "status", "--porcelain", "--untracked-files=no")
    return commit, None if changes is None else bool(changes)


def package_versions() -> dict[str, str | None]:
    """Returns the installed version of each of `RECORDED_PACKAGES` (None for one not installed)."""
    versions: dict[str, str | None] = {}
    for name in RECORDED_PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def collect_provenance(start_step: int) -> dict[str, Any]:
    """Returns the record of a run starting now at `start_step`: code, packages, devices, host and command."""
    commit, dirty = git_state()
    versions = package_versions()
    return {
        "git_commit": commit,
        "git_dirty": dirty,
        "simplexity_version": versions.pop("simplexity"),
        "packages": versions,
        "devices": [str(device) for device in jax.devices()],
        "process_count": jax.process_count(),
        "host": socket.gethostname(),
        "command": shlex.join([sys.executable, *sys.argv]),
        "working_directory": os.getcwd(),
        "started_at": _now(),
        "start_step": start_step,
        "ended_at": None,
        "end_step": None,
        "exit_status": None,
    }


def read_provenance(run_dir: str | Path) -> list[dict[str, Any]]:
    """Returns the records of `run_dir/provenance.json`, oldest first; none when the file is missing.

    Raises:
        ValueError: when the file is not a JSON list of objects.
    """
    path = Path(run_dir) / PROVENANCE_FILE
    if not path.is_file():
        return []
    try:
        records = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}: not JSON: {error}") from error
    if not isinstance(records, list) or not all(isinstance(record, dict) for record in records):
        raise ValueError(f"{path}: not a JSON list of records")
    return records


def _write(run_dir: Path, records: list[dict[str, Any]]) -> None:
    path = run_dir / PROVENANCE_FILE
    partial = path.with_name(f".{PROVENANCE_FILE}.partial")
    partial.write_text(json.dumps(records, indent=2) + "\n", encoding="utf-8")
    os.replace(partial, path)


class ProvenanceLog:
    """The run directory's provenance list, with the record of the run now starting appended to it.

    Arguments:
        run_dir: the run directory (it must exist).
        record: this run's record (`collect_provenance`).
    """

    def __init__(self, run_dir: str | Path, record: dict[str, Any]):
        self.run_dir = Path(run_dir)
        self.record = record
        try:
            self._earlier = read_provenance(self.run_dir)
        except ValueError:  # a file edited by hand: kept beside, and a new list started
            path = self.run_dir / PROVENANCE_FILE
            path.rename(path.with_name(f"{PROVENANCE_FILE}.unreadable"))
            self._earlier = []
        _write(self.run_dir, [*self._earlier, record])

    def finish(self, exit_status: int, end_step: int | None, error: str | None = None) -> None:
        """Completes this run's record: when it ended, at which step, its exit status (0: success) and error."""
        self.record.update(ended_at=_now(), end_step=end_step, exit_status=exit_status)
        if error is not None:
            self.record["error"] = error
        _write(self.run_dir, [*self._earlier, self.record])
