"""Training outlives its MLflow tracking server: a real `mlflow server` is stopped mid-run and started again.

The run goes on with one warning line, its checkpoints and metrics.jsonl complete; what MLflow missed is logged
when the server is back, and the MLflow run ends with its real status, then or at the next resume.
"""

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from simplexity.logging.mlflow_logger import mlflow_client
from tests.command_line import finish, read_until, run_experiment, start_experiment
from tests.logging.test_mlflow_server import MLFLOW, answers, free_port, has_distribution
from tests.test_faults import one_stderr_line

pytestmark = [pytest.mark.slow, pytest.mark.extras]

STEPS = ("training=tiny", "training.log_every=10", "training.checkpoint_every=10")


class TrackingServer:
    """An `mlflow server` on one port with one SQLite store, that can be stopped and started again."""

    def __init__(self, root: Path):
        self.root, self.port = root, free_port()
        self.uri = f"http://127.0.0.1:{self.port}"
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        if self._process is not None:
            return
        command = [
            str(MLFLOW),
            "server",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--workers",
            "1",
            "--backend-store-uri",
            f"sqlite:///{self.root / 'mlflow.db'}",
            "--artifacts-destination",
            str(self.root / "artifacts"),
        ]
        env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
        with (self.root / "server.log").open("a") as log:
            self._process = subprocess.Popen(
                command, cwd=self.root, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        deadline = time.monotonic() + 120
        while not answers(f"{self.uri}/health"):
            assert self._process.poll() is None, (self.root / "server.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "the tracking server did not answer /health within 120 s"
            time.sleep(0.2)

    def stop(self) -> None:
        if self._process is None:
            return
        os.killpg(self._process.pid, signal.SIGKILL)  # gone at once, as a crashed server is
        self._process.wait()
        self._process = None

    def run(self, run_dir: Path):
        record = json.loads((run_dir / "mlflow_run.json").read_text())
        client = mlflow_client(self.uri)
        return client.get_run(record["run_id"]), [m.step for m in client.get_metric_history(record["run_id"], "loss")]


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[TrackingServer]:
    if not has_distribution("mlflow"):  # mlflow-skinny, which a plain install gets, has no server
        pytest.skip("`mlflow server` needs the tracking extra: pip install -e '.[tracking]'")
    server = TrackingServer(tmp_path_factory.mktemp("mlflow_server"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


def start_run(server: TrackingServer, run_dir: Path, *overrides: str) -> subprocess.Popen[str]:
    logging = ("logging=mlflow", f"logging.mlflow.tracking_uri={server.uri}", f"hydra.run.dir={run_dir}")
    return start_experiment(*STEPS, *overrides, *logging)


def paused(run: subprocess.Popen[str]):
    """Stops the run while the caller changes the server (SIGSTOP), and lets it go on after."""

    class Pause:
        def __enter__(self) -> None:
            os.killpg(run.pid, signal.SIGSTOP)

        def __exit__(self, *exc_info: object) -> None:
            os.killpg(run.pid, signal.SIGCONT)

    return Pause()


def checkpoint_steps(run_dir: Path) -> list[int]:
    return sorted(int(path.name) for path in (run_dir / "checkpoints").iterdir())


def test_a_server_that_comes_back_gets_every_step_and_the_real_status(server, tmp_path):
    server.start()  # whatever an earlier test left
    run = start_run(server, tmp_path, "training.num_steps=100")
    read_until(run, " step 20/")
    with paused(run):
        server.stop()
    read_until(run, " step 40/")  # steps 30 and 40 could not be logged to MLflow
    with paused(run):
        server.start()
    result = finish(run)
    assert result.returncode == 0, result.stderr
    assert one_stderr_line(result).startswith(f"warning: MLflow at {server.uri} did not answer at step ")
    assert checkpoint_steps(tmp_path) == list(range(10, 101, 10))
    run_info, loss_steps = server.run(tmp_path)
    assert run_info.info.status == "FINISHED"
    assert loss_steps == [0, *range(10, 101, 10)]  # the initial loss, then every logged step
    assert "unfinished" not in json.loads((tmp_path / "mlflow_run.json").read_text())


def test_a_server_that_stays_away_is_recorded_and_the_resume_finishes_the_mlflow_run(server, tmp_path):
    server.start()  # whatever an earlier test left
    run = start_run(server, tmp_path, "training.num_steps=40")
    read_until(run, " step 20/")
    with paused(run):
        server.stop()
    result = finish(run)
    assert result.returncode == 0, result.stderr
    assert one_stderr_line(result).startswith(f"warning: MLflow at {server.uri} did not answer at step ")
    assert checkpoint_steps(tmp_path) == [10, 20, 30, 40]
    unfinished = json.loads((tmp_path / "mlflow_run.json").read_text())["unfinished"]
    assert unfinished["status"] == "FINISHED" and unfinished["since_step"] in (20, 30)
    assert "left RUNNING" in result.stdout
    server.start()
    assert server.run(tmp_path)[0].info.status == "RUNNING"
    resumed = run_experiment(
        *STEPS,
        "training.num_steps=50",
        "predictive_model.load_checkpoint_step=latest",
        "logging=mlflow",
        f"logging.mlflow.tracking_uri={server.uri}",
        f"hydra.run.dir={tmp_path}",
    )
    assert resumed.returncode == 0, resumed.stderr
    assert resumed.stderr == (  # the resume's only line: the longer run it was asked for
        "warning: resuming with changed settings (recorded in provenance.json): training.num_steps: 40 -> 50\n"
    )
    run_info, loss_steps = server.run(tmp_path)
    assert run_info.info.status == "FINISHED"
    assert loss_steps[-1] == 50
    assert "unfinished" not in json.loads((tmp_path / "mlflow_run.json").read_text())
