"""The project's commands run as a user runs them: in a subprocess from the repository root."""

import hashlib
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[1]


def run_script(script: str, *overrides: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """Runs `python SCRIPT OVERRIDES...` and returns its exit code and output."""
    return subprocess.run(
        [sys.executable, script, *overrides], cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=False
    )


def run_experiment(*overrides: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """Runs `python run_experiment.py OVERRIDES...`."""
    return run_script("run_experiment.py", *overrides, timeout=timeout)


def file_digests(directory: Path, ignore: tuple[str, ...] = ()) -> dict[str, str]:
    """Returns the SHA-256 of every file under `directory` by relative path, but for the names in `ignore`."""
    return {
        str(path.relative_to(directory)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(directory.rglob("*"))
        if path.is_file() and path.name not in ignore
    }
