"""Faults a user meets, through `run_experiment.py`: one line on stderr, a distinct exit code, nothing lost.

Damaged checkpoints, a full disk, Ctrl-C, a directory that cannot be written, a checkpoint that does not fit, and
config mistakes. Two runs into one directory: `tests/persistence/test_run_lock.py`; an unusable tracking URI:
`tests/logging/test_mlflow_server.py`.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import orbax.checkpoint as ocp
import pytest

from simplexity.logging import read_jsonl_metrics
from tests.command_line import ROOT, file_digests, run_experiment, start_experiment

pytestmark = pytest.mark.slow


def one_stderr_line(result: subprocess.CompletedProcess[str]) -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    return lines[0]


def saved_arrays(checkpoint: Path) -> list[np.ndarray]:
    """The arrays of one checkpoint, read as saved (no template), in a fixed order."""
    with ocp.StandardCheckpointer() as checkpointer:
        tree = checkpointer.restore(checkpoint / "default")
    return [np.asarray(leaf) for leaf in ocp.tree.to_flat_dict(tree).values()]


def assert_same_checkpoint(first: Path, second: Path) -> None:
    for a, b in zip(saved_arrays(first), saved_arrays(second), strict=True):
        np.testing.assert_array_equal(a, b)


TINY = ("training=tiny",)  # 6 steps, checkpoints every 2


@pytest.fixture
def uninterrupted(tiny_run: Path) -> Path:
    """A tiny run straight to step 6 with checkpoints 2, 4 and 6: what every faulted run must end as."""
    return tiny_run


def damaged_copy(uninterrupted: Path, destination: Path, step: int, damage: str) -> Path:
    shutil.copytree(uninterrupted, destination)
    checkpoint = destination / "checkpoints" / str(step) / "default"
    if damage == "truncate":
        largest = max((checkpoint / "ocdbt.process_0" / "d").iterdir(), key=lambda path: path.stat().st_size)
        os.truncate(largest, 10)
    else:
        (checkpoint / "_METADATA").unlink()
    return destination


@pytest.mark.parametrize("damage", ["truncate", "delete_metadata"])
def test_latest_falls_back_past_a_damaged_checkpoint_and_ends_bit_identical(uninterrupted, tmp_path, damage):
    run_dir = damaged_copy(uninterrupted, tmp_path / "run", 6, damage)
    result = run_experiment(*TINY, "predictive_model.load_checkpoint_step=latest", f"hydra.run.dir={run_dir}")
    assert result.returncode == 0, result.stderr
    line = one_stderr_line(result)
    assert line.startswith(f"warning: checkpoint 6 in {run_dir / 'checkpoints'} is damaged (")
    assert line.endswith(f"moved aside to {run_dir / 'checkpoints' / '6.damaged'}; trying step 4")
    assert "starting at step 4 of 6" in result.stdout
    assert (run_dir / "checkpoints" / "6.damaged").is_dir()  # moved aside, not deleted
    assert_same_checkpoint(run_dir / "checkpoints" / "6", uninterrupted / "checkpoints" / "6")


def test_a_damaged_checkpoint_asked_for_by_step_names_the_newest_good_one(uninterrupted, tmp_path):
    run_dir = damaged_copy(uninterrupted, tmp_path / "run", 6, "truncate")
    before = file_digests(run_dir, ignore=("provenance.json",))
    result = run_experiment(*TINY, "predictive_model.load_checkpoint_step=6", f"hydra.run.dir={run_dir}")
    assert result.returncode == 4
    line = one_stderr_line(result)
    assert line.startswith(
        f"error: predictive_model.load_checkpoint_step=6: checkpoint 6 in {run_dir / 'checkpoints'} is damaged ("
    )
    assert line.endswith("; the newest good checkpoint is step 4")
    assert file_digests(run_dir, ignore=("provenance.json",)) == before


def test_an_older_good_step_resumes_when_the_newer_ones_are_damaged(uninterrupted, tmp_path):
    run_dir = damaged_copy(uninterrupted, tmp_path / "run", 6, "truncate")
    result = run_experiment(*TINY, "predictive_model.load_checkpoint_step=4", f"hydra.run.dir={run_dir}")
    assert result.returncode == 0, result.stderr
    assert one_stderr_line(result).startswith("warning: checkpoint 6 in ")
    assert_same_checkpoint(run_dir / "checkpoints" / "6", uninterrupted / "checkpoints" / "6")
    # Step 6 was logged by both runs; it is read once, as the resumed run logged it.
    raw = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [record["step"] for record in raw] == [0, 2, 4, 6, 6]
    records = read_jsonl_metrics(run_dir / "metrics.jsonl")
    assert [record["step"] for record in records] == [0, 2, 4, 6]
    assert records[-1] == raw[-1]


def test_a_checkpoint_that_does_not_fit_is_one_line_without_asyncio_noise(uninterrupted, tmp_path):
    run_dir = tmp_path / "run"
    shutil.copytree(uninterrupted, run_dir)
    before = file_digests(run_dir, ignore=("provenance.json",))
    result = run_experiment(
        *TINY,
        "predictive_model.load_checkpoint_step=latest",
        "predictive_model.instance.hidden_size=32",
        f"hydra.run.dir={run_dir}",
    )
    assert result.returncode == 7
    line = one_stderr_line(result)
    assert "does not fit this model and optimizer" in line and "is (192, 16) float32 in the checkpoint" in line
    assert "Event loop is closed" not in result.stderr
    assert file_digests(run_dir, ignore=("provenance.json",)) == before


def mount_tmpfs(directory: Path, size: str) -> None:
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("a full disk is simulated with a small tmpfs, which needs root")
    directory.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(directory)], check=False)
    if mounted.returncode != 0:
        pytest.skip("mounting a tmpfs is not permitted here")


def test_a_full_disk_names_the_path_and_the_last_good_checkpoint(uninterrupted, tmp_path):
    disk = tmp_path / "disk"
    mount_tmpfs(disk, "2m")
    try:
        run_dir = disk / "run"
        result = run_experiment(*TINY, "training.checkpoint_every=1", f"hydra.run.dir={run_dir}")
        assert result.returncode == 5
        line = one_stderr_line(result)
        assert line.startswith("error: ") and "cannot be written" in line, line
        complete = sorted(int(path.name) for path in (run_dir / "checkpoints").iterdir() if path.name.isdigit())
        assert complete and line.endswith(
            f"the last good checkpoint is step {complete[-1]} in {run_dir / 'checkpoints'}"
        )
        assert not [path for path in (run_dir / "checkpoints").iterdir() if "tmp" in path.name]
        kept = tmp_path / "kept"
        shutil.copytree(run_dir, kept)
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)
    resumed = run_experiment(*TINY, "predictive_model.load_checkpoint_step=latest", f"hydra.run.dir={kept}")
    assert resumed.returncode == 0, resumed.stderr
    assert_same_checkpoint(kept / "checkpoints" / "6", uninterrupted / "checkpoints" / "6")


@pytest.mark.parametrize("save", [False, True])
def test_ctrl_c_exits_130_in_one_line_and_the_run_resumes_bit_identical(tmp_path, save):
    run_dir = tmp_path / "run"
    overrides = [
        *TINY,
        "training.num_steps=100000",
        "training.log_every=10",
        "training.checkpoint_every=20",
        f"training.checkpoint_on_interrupt={str(save).lower()}",
        f"hydra.run.dir={run_dir}",
    ]
    run = start_experiment(*overrides)  # in its own process group, as a terminal's Ctrl-C reaches it
    assert run.stdout is not None
    for line in run.stdout:
        if " step 40/" in line:  # two checkpoints written
            break
    os.killpg(run.pid, signal.SIGINT)
    stdout, stderr = run.communicate(timeout=120)
    assert run.returncode == 130, stderr
    result = subprocess.CompletedProcess(run.args, run.returncode, stdout, stderr)
    line = one_stderr_line(result)
    steps = sorted(int(path.name) for path in (run_dir / "checkpoints").iterdir() if path.name.isdigit())
    if save:
        assert line.startswith("error: interrupted at step ")
        interrupted = int(line.removeprefix("error: interrupted at step ").split(";")[0])
        assert line.endswith(f"; saved checkpoint {interrupted} in {run_dir / 'checkpoints'}")
        assert steps[-1] == interrupted
    else:
        assert line.startswith("error: interrupted at step ")
        assert line.endswith(f"; the last checkpoint is step {steps[-1]} in {run_dir / 'checkpoints'}")
    # Resumed to two steps past the last checkpoint, the run equals one that was never interrupted.
    end = steps[-1] + 2
    resume = [*TINY, f"training.num_steps={end}", "training.log_every=1", "training.checkpoint_every=null"]
    resumed = run_experiment(*resume, "predictive_model.load_checkpoint_step=latest", f"hydra.run.dir={run_dir}")
    assert resumed.returncode == 0, resumed.stderr
    straight = run_experiment(*resume, f"hydra.run.dir={tmp_path / 'straight'}")
    assert straight.returncode == 0, straight.stderr
    assert_same_checkpoint(run_dir / "checkpoints" / str(end), tmp_path / "straight" / "checkpoints" / str(end))


def test_a_directory_that_cannot_be_written_is_one_line(tmp_path):
    result = run_experiment(*TINY, "hydra.run.dir=/proc/1")
    assert result.returncode == 5
    assert one_stderr_line(result).startswith("error: hydra.run.dir='/proc/1': /proc/1/.lock cannot be written (")
    (tmp_path / "file").write_text("not a directory")
    result = run_experiment(*TINY, f"hydra.run.dir={tmp_path / 'file' / 'run'}")
    assert result.returncode == 5
    assert (
        one_stderr_line(result)
        == f"error: hydra.run.dir: {tmp_path / 'file' / 'run'} cannot be created (Not a directory)"
    )


@pytest.mark.parametrize(
    ("overrides", "line"),
    [
        (
            ["predictive_model.instance.seed=-5"],
            "error: predictive_model.instance.seed=-5: must be a non-negative integer",
        ),
        (
            ["generative_process@training_data_generator=fanizza", "training_data_generator.instance.alpha=nan"],
            "error: training_data_generator.instance: fanizza: alpha=nan must be a finite number",
        ),
        (
            [
                "generative_process@training_data_generator=post_quantum",
                "training_data_generator.instance.log_alpha=inf",
            ],
            "error: training_data_generator.instance: post_quantum: log_alpha=inf must be a finite number",
        ),
        (
            ["predictive_model.load_checkpoint_step=999"],
            "error: predictive_model.load_checkpoint_step=999: no checkpoint in {run_dir}/checkpoints, which does not",
        ),
        (
            ["generative_process@training_data_generator=nope"],
            "error: generative_process@training_data_generator=nope: no such option in config group",
        ),
    ],
)
def test_a_rejected_config_is_one_line_and_leaves_no_directory(tmp_path, overrides, line):
    run_dir = tmp_path / "run"
    result = run_experiment(*overrides, f"hydra.run.dir={run_dir}")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(line.format(run_dir=run_dir)), result.stderr
    assert not run_dir.exists()


def test_a_rejected_config_keeps_a_directory_the_user_made(tmp_path):
    # A directory whose status changed within a second of the command's start counts as the command's own (file
    # clocks are coarse); a new interpreter starts later than that after `tmp_path` was made, as a user's does.
    result = run_experiment("training.batch_size=-1", f"hydra.run.dir={tmp_path}", new_interpreter=True)
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert tmp_path.is_dir()


def test_with_hydra_full_error_a_rejected_config_keeps_its_traceback_and_leaves_no_directory(tmp_path):
    run_dir = tmp_path / "run"
    result = subprocess.run(
        [sys.executable, "run_experiment.py", "training.batch_size=-1", f"hydra.run.dir={run_dir}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "HYDRA_FULL_ERROR": "1"},
        timeout=600,
        check=False,
    )
    assert result.returncode == 1
    assert "Traceback" in result.stderr and "training.batch_size=-1: must be a positive integer" in result.stderr
    assert not run_dir.exists()
