"""A process that has imported the commands and runs each request in a child forked from it.

`python -m tests.command_server` reads one JSON request per line on stdin (`{"script", "arguments", "environment"}`)
and answers each with one JSON line on stdout (`{"returncode", "stdout", "stderr"}`). Each request runs in a new
process, forked from this one: the script runs there as `python SCRIPT ARGUMENTS...` runs it (`sys.argv`, the
script's folder first on `sys.path`, `__main__`), with the request's environment, stdin from /dev/null, stdout and
stderr to files, and the exit code of that process. What the fork saves is starting Python and importing the
library, about 4 of the 5 seconds a command that stops at a config mistake takes, and the libraries the library
loads only when a command uses them (orbax with a checkpointer, MLflow and matplotlib with the analysis' records
and figures), about 3 seconds more of an analysis.

Forking is safe because this process only imports: it starts no thread and no JAX backend (it checks), so each
child starts its own, as a new process would.
"""

import json
import os
import runpy
import shutil
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

# What each child would import first, and what the commands load only when they use it (orbax for checkpoints,
# matplotlib for the figures, MLflow for the run's store), imported once here.
import orbax.checkpoint  # noqa: F401

import simplexity.analysis.plots
import simplexity.commands
import simplexity.logging.mlflow_logger
import simplexity.run_analysis  # noqa: F401

ROOT = Path(__file__).parents[1]


def _run_child(request: dict[str, Any], stdout_path: str, stderr_path: str) -> None:
    """Becomes the command: never returns (the script's exit, or an uncaught exception, ends the process)."""
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    for fd, path in ((1, stdout_path), (2, stderr_path)):
        os.dup2(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), fd)
    os.environ.clear()
    os.environ.update(request["environment"])
    script = str(ROOT / request["script"])
    sys.argv = [request["script"], *request["arguments"]]
    sys.path[0] = str(Path(script).parent)
    runpy.run_path(script, run_name="__main__")
    sys.exit(0)


def _serve() -> None:
    from jax._src import xla_bridge

    output_dir = tempfile.mkdtemp(prefix="simplexity-command-server-")
    stdout_path, stderr_path = f"{output_dir}/stdout", f"{output_dir}/stderr"
    for line in sys.stdin:
        request = json.loads(line)
        # A fork inherits only the forking thread; JAX's threads and backend must start in the child.
        assert threading.active_count() == 1 and not xla_bridge._backends, "the server must stay fork-safe"
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            _run_child(request, stdout_path, stderr_path)
        _, status = os.waitpid(pid, 0)
        answer = {
            "returncode": os.waitstatus_to_exitcode(status),
            "stdout": Path(stdout_path).read_text(errors="replace"),
            "stderr": Path(stderr_path).read_text(errors="replace"),
        }
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()
    shutil.rmtree(output_dir)  # at the end of the input; a child never gets here (its exit leaves the loop)


if __name__ == "__main__":
    os.chdir(ROOT)
    _serve()
