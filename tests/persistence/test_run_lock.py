"""One run at a time in a run directory."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from simplexity.config import ConfigError
from simplexity.persistence.run_lock import RunDirectoryLock
from simplexity.run_directory import LOCK_FILE

ROOT = Path(__file__).parents[2]
HOLDER = """
import time
from pathlib import Path
from simplexity.persistence.run_lock import RunDirectoryLock
lock = RunDirectoryLock(Path({directory!r})).__enter__()
print("held", flush=True)
time.sleep(60)
"""


def test_a_second_holder_is_refused_naming_the_directory_and_the_first_process(tmp_path):
    with RunDirectoryLock(tmp_path):
        assert (tmp_path / LOCK_FILE).read_text().strip() == str(os.getpid())
        # A second process would be refused; in this process a second open file description is refused too.
        with pytest.raises(
            ConfigError, match=rf"hydra.run.dir='{tmp_path}': is in use by another run \(process {os.getpid()}\)"
        ):
            RunDirectoryLock(tmp_path).__enter__()
    with RunDirectoryLock(tmp_path):  # released on exit
        pass


def test_a_killed_holder_leaves_no_stale_lock(tmp_path):
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER.format(directory=str(tmp_path))],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    with pytest.raises(ConfigError, match=f"process {holder.pid}"):
        RunDirectoryLock(tmp_path).__enter__()
    holder.kill()
    holder.wait()
    with RunDirectoryLock(tmp_path):
        pass


@pytest.mark.slow
def test_two_runs_started_at_once_into_one_directory_leave_exactly_one_complete_run(tmp_path):
    command = [
        sys.executable,
        "run_experiment.py",
        "training=tiny",  # both reach the lock as they start; the run's length does not matter
        "training.num_steps=300",
        "training.log_every=100",
        "training.checkpoint_every=100",
        f"hydra.run.dir={tmp_path}",
    ]
    runs = [
        subprocess.Popen(
            [*command, f"seed={seed}"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for seed in (0, 1)
    ]
    outcomes = [(run.wait(timeout=600), *run.communicate()) for run in runs]
    codes = sorted(code for code, _, _ in outcomes)
    assert codes == [0, 2], [stderr for _, _, stderr in outcomes]
    (winner,) = [index for index, (code, _, _) in enumerate(outcomes) if code == 0]
    loser_stderr = outcomes[1 - winner][2].strip().splitlines()
    assert len(loser_stderr) == 1 and loser_stderr[0].startswith("error: ")
    assert "is in use by another run" in loser_stderr[0] or "already holds checkpoints" in loser_stderr[0]
    assert "Traceback" not in outcomes[1 - winner][2]
    assert sorted(int(path.name) for path in (tmp_path / "checkpoints").iterdir()) == [100, 200, 300]
    assert f"seed: {winner}" in (tmp_path / "config.yaml").read_text()
    assert not (tmp_path / "config.1.yaml").exists()
