"""The project's commands run as a user runs them: each in a process of its own, from the repository root."""

import hashlib
import json
import os
import select
import signal
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

ROOT = Path(__file__).parents[1]


class _CommandServer:
    """The test process's `tests.command_server`: started at the first command, restarted after a timeout."""

    def __init__(self) -> None:
        self._process: subprocess.Popen[str] | None = None
        self._environment: dict[str, str] = {}

    def can_run(self) -> bool:
        """Whether a command may run in the server: JAX's settings from the environment are as it started with.

        JAX reads them when it is imported, which the server did before the command's environment was known.
        """
        return not self._is_running() or _jax_settings(os.environ) == _jax_settings(self._environment)

    def _is_running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def run(self, script: str, overrides: tuple[str, ...], timeout: float) -> subprocess.CompletedProcess[str]:
        """Runs `python SCRIPT OVERRIDES...` in a child of the server; the answer a subprocess would give."""
        if not self._is_running():
            self._environment = dict(os.environ)
            self._process = subprocess.Popen(
                [sys.executable, "-m", "tests.command_server"],
                cwd=ROOT,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
                start_new_session=True,  # a timeout stops the server and the command it runs together
            )
        assert self._process is not None and self._process.stdin is not None and self._process.stdout is not None
        request = {"script": script, "arguments": list(overrides), "environment": dict(os.environ)}
        self._process.stdin.write(json.dumps(request) + "\n")
        self._process.stdin.flush()
        ready, _, _ = select.select([self._process.stdout], [], [], timeout)
        if not ready:
            os.killpg(self._process.pid, signal.SIGKILL)
            self._process.wait()
            raise subprocess.TimeoutExpired([script, *overrides], timeout)
        answer = json.loads(self._process.stdout.readline())
        return subprocess.CompletedProcess(
            [sys.executable, script, *overrides], answer["returncode"], answer["stdout"], answer["stderr"]
        )


def _jax_settings(environment: Mapping[str, str]) -> dict[str, str]:
    return {key: value for key, value in environment.items() if key.startswith(("JAX_", "XLA_"))}


_server = _CommandServer()


def run_script(
    script: str, *overrides: str, timeout: float = 600, new_interpreter: bool = False
) -> subprocess.CompletedProcess[str]:
    """Runs `python SCRIPT OVERRIDES...` from the repository root and returns its exit code and output.

    The command runs in a process of its own, forked from one that has imported the library once
    (`tests.command_server`), which spares each command the start of Python and the imports; it gets this
    process's environment. It runs as a plain subprocess with `new_interpreter`, or when this process's JAX
    settings in the environment differ from the server's.
    """
    if not new_interpreter and _server.can_run():
        return _server.run(script, overrides, timeout)
    return subprocess.run(
        [sys.executable, script, *overrides], cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=False
    )


def run_experiment(
    *overrides: str, timeout: float = 600, new_interpreter: bool = False
) -> subprocess.CompletedProcess[str]:
    """Runs `python run_experiment.py OVERRIDES...` (see `run_script`)."""
    return run_script("run_experiment.py", *overrides, timeout=timeout, new_interpreter=new_interpreter)


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
