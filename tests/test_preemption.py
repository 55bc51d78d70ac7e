"""Preemption through `run_experiment.py`: SIGTERM stops a run as Ctrl-C does, and a requeued job resumes.

A scheduler (SLURM) sends SIGTERM and later requeues the same command with `load_checkpoint_step=latest`; a job
stopped before its first checkpoint starts over. A second Ctrl-C while a run stops changes nothing it reports.
"""

import json
import os
import signal
from pathlib import Path

import pytest

from tests.command_line import finish, read_until, run_experiment, start_experiment
from tests.test_faults import assert_same_checkpoint, one_stderr_line

pytestmark = pytest.mark.slow

TINY = ("training=tiny",)
LONG = (*TINY, "training.num_steps=100000", "training.log_every=10")
# Every stopped run is resumed to step 100, one step per chunk whatever step it stopped at.
TO_100 = (*TINY, "training.num_steps=100", "training.log_every=1", "training.checkpoint_every=null")


@pytest.fixture(scope="module")
def straight(tmp_path_factory) -> Path:
    """The checkpoint at step 100 of a run never stopped: what every requeued run must end as."""
    run_dir = tmp_path_factory.mktemp("straight")
    result = run_experiment(*TO_100, f"hydra.run.dir={run_dir}")
    assert result.returncode == 0, result.stderr
    return run_dir / "checkpoints" / "100"


def checkpoint_entries(run_dir: Path) -> list[str]:
    return sorted(path.name for path in (run_dir / "checkpoints").iterdir())


def last_provenance(run_dir: Path) -> dict:
    return json.loads((run_dir / "provenance.json").read_text())[-1]


def test_sigterm_saves_exits_143_in_one_line_and_the_requeued_run_resumes_bit_identical(straight, tmp_path):
    run_dir = tmp_path / "run"
    save = ("training.checkpoint_every=20", "training.checkpoint_on_interrupt=true")
    run = start_experiment(*LONG, *save, f"hydra.run.dir={run_dir}")
    read_until(run, " step 40/")  # the run is logging and saving step 40 now
    os.kill(run.pid, signal.SIGTERM)  # as SLURM signals the job's processes
    result = finish(run)
    assert result.returncode == 143, result.stderr
    line = one_stderr_line(result)
    assert line.startswith("error: terminated by SIGTERM at step ")
    stopped = int(line.removeprefix("error: terminated by SIGTERM at step ").split(";")[0])
    assert line.endswith(f"; saved checkpoint {stopped} in {run_dir / 'checkpoints'}")
    entries = checkpoint_entries(run_dir)
    assert all(entry.isdigit() for entry in entries), entries  # no partial checkpoint directory
    assert max(map(int, entries)) == stopped
    record = last_provenance(run_dir)
    assert (record["exit_status"], record["end_step"]) == (143, stopped) and record["ended_at"] is not None
    # The requeued command ends as a run that was never stopped.
    requeued = run_experiment(*TO_100, "predictive_model.load_checkpoint_step=latest", f"hydra.run.dir={run_dir}")
    assert requeued.returncode == 0, requeued.stderr
    assert f"starting at step {stopped} of 100" in requeued.stdout
    assert_same_checkpoint(run_dir / "checkpoints" / "100", straight)


def test_a_job_stopped_before_its_first_checkpoint_is_requeued_as_a_fresh_start(straight, tmp_path):
    run_dir = tmp_path / "run"
    run = start_experiment(*LONG, "training.checkpoint_every=null", f"hydra.run.dir={run_dir}")
    read_until(run, " step 20/")
    os.kill(run.pid, signal.SIGTERM)
    result = finish(run)
    assert result.returncode == 143, result.stderr
    assert one_stderr_line(result).endswith("; no checkpoint was written")
    assert not (run_dir / "checkpoints").exists()
    requeued = run_experiment(*TO_100, "predictive_model.load_checkpoint_step=latest", f"hydra.run.dir={run_dir}")
    assert requeued.returncode == 0, requeued.stderr
    checkpoints = run_dir / "checkpoints"
    lines = requeued.stderr.strip().splitlines()  # the fresh start, and the settings that differ from the first try's
    assert "Traceback" not in requeued.stderr
    assert lines[0] == (
        f"warning: predictive_model.load_checkpoint_step='latest': no checkpoint in {checkpoints} yet; "
        "starting at step 0"
    )
    assert lines[1:] == [
        "warning: resuming with changed settings (recorded in provenance.json): training.log_every: 10 -> 1, "
        "training.num_steps: 100000 -> 100"
    ]
    assert_same_checkpoint(checkpoints / "100", straight)


def test_a_second_ctrl_c_while_the_run_saves_changes_nothing_it_reports(tmp_path):
    run_dir = tmp_path / "run"
    # No checkpoint but the interrupt's own, so that the interrupt always writes one.
    save = ("training.checkpoint_every=null", "training.checkpoint_on_interrupt=true")
    run = start_experiment(*LONG, *save, f"hydra.run.dir={run_dir}")
    read_until(run, " step 30/")
    os.killpg(run.pid, signal.SIGINT)
    read_until(run, "stopping at step ")
    # Held while the second Ctrl-C arrives, so that it lands while the run saves or finishes, never after.
    os.killpg(run.pid, signal.SIGSTOP)
    os.killpg(run.pid, signal.SIGINT)
    os.killpg(run.pid, signal.SIGCONT)
    result = finish(run)
    assert result.returncode == 130, result.stderr
    line = one_stderr_line(result)
    assert line.startswith("error: interrupted at step "), line
    stopped = int(line.removeprefix("error: interrupted at step ").split(";")[0])
    assert line.endswith(f"; saved checkpoint {stopped} in {run_dir / 'checkpoints'}")
    assert checkpoint_entries(run_dir) == [str(stopped)]
    assert last_provenance(run_dir)["exit_status"] == 130
