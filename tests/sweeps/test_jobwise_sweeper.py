"""A sweep with a value that cannot be converted: that job fails alone, and each failure is said once."""

import subprocess
import sys

import pytest

from simplexity.sweeps import FAILED_JOBS_EXIT_CODE, read_failure
from tests.command_line import ROOT

pytestmark = pytest.mark.slow


def test_a_job_that_cannot_be_composed_fails_alone_and_every_failure_is_said_once(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            "run_experiment.py",
            "--multirun",
            "training.batch_size=4,abc,-1",
            "training=tiny",
            "logging=quiet",
            f"hydra.sweep.dir={tmp_path}",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == FAILED_JOBS_EXIT_CODE, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.splitlines() == [
        "error: job 1 (training.batch_size=abc training=tiny logging=quiet): "
        "training.batch_size: Value 'abc' of type 'str' could not be converted to Integer",
        "error: job 2 (training.batch_size=-1 training=tiny logging=quiet): "
        "training.batch_size=-1: must be a positive integer",
        f"error: 2 job(s) of the sweep failed (a FAILED file in each one's directory); "
        f"`python scripts/summarize_runs.py {tmp_path}` lists every run",
    ]
    assert (tmp_path / "0" / "metrics.jsonl").read_text().count("\n") == 4  # the good job ran: steps 0, 2, 4, 6
    assert sorted(int(path.name) for path in (tmp_path / "0" / "checkpoints").iterdir()) == [2, 4, 6]
    composed = read_failure(tmp_path / "1")
    assert composed is not None and composed.job == 1 and "could not be converted to Integer" in composed.error
    assert not (tmp_path / "1" / "config.yaml").exists()
    assert read_failure(tmp_path / "2") is not None
