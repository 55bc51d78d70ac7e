"""Two processes on one machine, joined through `jax.distributed.initialize`, train as one process does.

Each process has one CPU device; the global batch of every step is split over the two, and the gradients are
summed across processes by gloo (JAX's CPU collectives). The logged losses and the checkpointed state must equal
those of one process on one device, to float tolerance, from a fresh start and when resumed from a checkpoint.
"""

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import jax
import numpy as np
import orbax.checkpoint as ocp
import pytest

from simplexity.persistence import Checkpointer

ROOT = Path(__file__).parents[2]
pytestmark = pytest.mark.slow

OVERRIDES = (
    "training=tiny",
    "training.num_steps=20",
    "training.log_every=10",
    "training.checkpoint_every=10",
    "training.batch_size=8",
    "predictive_model.instance.embedding_size=4",
    "predictive_model.instance.num_layers=1",
    "predictive_model.instance.hidden_size=8",
    "validation.num_sequences=16",
)
COMPARED = ("loss", "grad_norm", "validation/loss")
TIMEOUT_SECONDS = 300


def one_device_env() -> dict[str, str]:
    """The environment of a process that sees exactly one CPU device."""
    env = {key: value for key, value in os.environ.items() if key not in ("XLA_FLAGS", "JAX_NUM_CPU_DEVICES")}
    return {**env, "JAX_PLATFORMS": "cpu"}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def metrics(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


def run_two_processes(run_dir: Path, *overrides: str) -> list[str]:
    """Runs processes 0 and 1 in one run directory (a cluster's shared file system) and returns their stdout."""
    distributed = (f"distributed.coordinator_address=127.0.0.1:{free_port()}", "distributed.num_processes=2")
    logs = [run_dir.parent / f"process-{process_id}" for process_id in (0, 1)]
    with contextlib.ExitStack() as files:
        processes = []
        for process_id, log in enumerate(logs):
            command = [
                sys.executable,
                "run_experiment.py",
                *OVERRIDES,
                *overrides,
                f"hydra.run.dir={run_dir}",
                *distributed,
                f"distributed.process_id={process_id}",
            ]
            stdout = files.enter_context(open(log.with_suffix(".out"), "w", encoding="utf-8"))
            stderr = files.enter_context(open(log.with_suffix(".err"), "w", encoding="utf-8"))
            processes.append(subprocess.Popen(command, cwd=ROOT, env=one_device_env(), stdout=stdout, stderr=stderr))
        try:
            deadline = time.monotonic() + TIMEOUT_SECONDS
            codes = [process.wait(timeout=max(deadline - time.monotonic(), 0)) for process in processes]
        finally:
            # A process left waiting for its peer (the other one failed) would otherwise outlive the test.
            for process in processes:
                if process.poll() is None:
                    process.kill()
                    process.wait()
    assert codes == [0, 0], [log.with_suffix(".err").read_text() for log in logs]
    return [log.with_suffix(".out").read_text() for log in logs]


@pytest.fixture(scope="module")
def single_process_run(tmp_path_factory) -> Path:
    run_dir = tmp_path_factory.mktemp("single") / "run"
    completed = subprocess.run(
        [sys.executable, "run_experiment.py", *OVERRIDES, f"hydra.run.dir={run_dir}"],
        cwd=ROOT,
        env=one_device_env(),
        capture_output=True,
        text=True,
        timeout=TIMEOUT_SECONDS,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    return run_dir


@pytest.fixture(scope="module")
def two_process_run(tmp_path_factory) -> tuple[Path, list[str]]:
    """A fresh two-process run to step 20: its run directory and the stdout of each process."""
    run_dir = tmp_path_factory.mktemp("two") / "run"
    return run_dir, run_two_processes(run_dir)


@pytest.fixture(scope="module")
def resumed_two_process_run(two_process_run, tmp_path_factory) -> Path:
    """Two processes resuming the two-process run's step-10 checkpoint, in a directory of their own."""
    run_dir = tmp_path_factory.mktemp("resumed") / "run"
    checkpoints = two_process_run[0] / "checkpoints"
    outputs = run_two_processes(
        run_dir, "predictive_model.load_checkpoint_step=10", f"predictive_model.load_checkpoint_dir={checkpoints}"
    )
    assert "starting at step 10 of 20" in outputs[0]
    return run_dir


def test_each_process_sees_both_devices(two_process_run):
    _, outputs = two_process_run
    for output in outputs:
        devices = next(line for line in output.splitlines() if line.startswith("devices: "))
        assert devices.split(";")[0].count(",") == 1, devices


def test_only_process_zero_writes_config_and_metrics(two_process_run):
    run_dir, _ = two_process_run
    # A second writer would leave `config.1.yaml` beside `config.yaml` and each record twice.
    assert sorted(path.name for path in run_dir.glob("config*.yaml")) == ["config.yaml"]
    assert [record["step"] for record in metrics(run_dir)] == [0, 10, 20]


def test_two_processes_log_the_losses_of_one(single_process_run, two_process_run):
    one, two = metrics(single_process_run), metrics(two_process_run[0])
    assert [record["step"] for record in two] == [record["step"] for record in one]
    for name in COMPARED:
        np.testing.assert_allclose(
            [r[name] for r in two if name in r], [r[name] for r in one if name in r], rtol=1e-5, err_msg=name
        )


def test_two_processes_checkpoint_the_state_of_one(single_process_run, two_process_run):
    manager = ocp.CheckpointManager(single_process_run / "checkpoints")
    reference = manager.restore(20)
    manager.close()
    checkpointer = Checkpointer(two_process_run[0] / "checkpoints")
    assert checkpointer.steps() == [10, 20]
    restored = checkpointer.restore(20, reference)
    checkpointer.close()
    assert jax.tree.structure(restored) == jax.tree.structure(reference)
    for ours, theirs in zip(jax.tree.leaves(restored), jax.tree.leaves(reference), strict=True):
        np.testing.assert_allclose(np.asarray(ours), np.asarray(theirs), rtol=1e-5, atol=1e-7)


def test_two_processes_resume_as_one_continues(single_process_run, resumed_two_process_run):
    (resumed,) = metrics(resumed_two_process_run)
    reference = metrics(single_process_run)[-1]
    assert resumed["step"] == reference["step"] == 20
    for name in COMPARED:
        np.testing.assert_allclose(resumed[name], reference[name], rtol=1e-5, err_msg=name)
