"""The project's commands run as a user runs them: in a subprocess from the repository root."""

import hashlib
import signal
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


def start_experiment(*overrides: str) -> subprocess.Popen[str]:
    """Starts `python run_experiment.py OVERRIDES...` as a terminal's foreground job: Ctrl-C (SIGINT) reaches it.

    The run has a session of its own, so that a signal can reach its group. It takes SIGINT as Python does by
    default even when the suite runs where SIGINT is ignored (started in the background by a shell), which a
    child would otherwise inherit.
    """
    ignored = signal.getsignal(signal.SIGINT) == signal.SIG_IGN
    if ignored:  # a handled signal is reset to its default action in the child
        signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        return subprocess.Popen(
            [sys.executable, "run_experiment.py", *overrides],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
    finally:
        if ignored:
            signal.signal(signal.SIGINT, signal.SIG_IGN)


def read_until(run: subprocess.Popen[str], text: str) -> None:
    """Reads the run's stdout line by line until a line holds `text`."""
    assert run.stdout is not None
    for line in run.stdout:
        if text in line:
            return
    raise AssertionError(f"the run ended without printing {text!r}")


def finish(run: subprocess.Popen[str], timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Waits for a started run and returns its exit code and the rest of its output."""
    stdout, stderr = run.communicate(timeout=timeout)
    return subprocess.CompletedProcess(run.args, run.returncode, stdout, stderr)


def file_digests(directory: Path, ignore: tuple[str, ...] = ()) -> dict[str, str]:
    """Returns the SHA-256 of every file under `directory` by relative path, but for the names in `ignore`."""
    return {
        str(path.relative_to(directory)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(directory.rglob("*"))
        if path.is_file() and path.name not in ignore
    }
