"""Faults in a run's records, through the command line: a damaged `metrics.jsonl`, a resume onto a full disk.

Each: the exit code, exactly one line on stderr and no traceback, the files that must not change unchanged, and
the resume that follows ends as a run that was never interrupted.
"""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from simplexity.logging import read_jsonl_metrics
from tests.command_line import ROOT, file_digests, run_experiment, run_script
from tests.test_faults import TINY, assert_same_checkpoint, mount_tmpfs, one_stderr_line

pytestmark = pytest.mark.slow

# What a resume rewrites in the run directory: the lock (its process id) and the list of starts.
REWRITTEN = (".lock", "provenance.json")


@pytest.fixture
def finished(tiny_run: Path) -> Path:
    """A tiny run straight to step 6: metrics of steps 0, 2, 4 and 6, checkpoints 2, 4 and 6."""
    return tiny_run


def without_last_checkpoint(finished: Path, destination: Path) -> Path:
    """A copy of the run as if it had stopped after checkpoint 4 (its metrics of step 6 kept)."""
    shutil.copytree(finished, destination)
    shutil.rmtree(destination / "checkpoints" / "6")
    return destination


def load_run_in_subprocess(run_dir: Path) -> subprocess.CompletedProcess[str]:
    code = "import sys, simplexity; print(list(simplexity.load_run(sys.argv[1]).metrics.index))"
    return subprocess.run(
        [sys.executable, "-c", code, str(run_dir)], cwd=ROOT, capture_output=True, text=True, timeout=300, check=False
    )


def test_a_resume_after_an_unfinished_metrics_line_keeps_its_own_record(finished, tmp_path):
    run_dir = without_last_checkpoint(finished, tmp_path / "run")
    metrics = run_dir / "metrics.jsonl"
    # A later start crashed (or met a full disk) while writing the record of step 8.
    with metrics.open("ab") as file:
        file.write(b'{"step": 8, "loss": 1.0')
    kept = file_digests(run_dir / "checkpoints")
    result = run_experiment(*TINY, "predictive_model.load_checkpoint_step=latest", f"hydra.run.dir={run_dir}")
    assert result.returncode == 0, result.stderr
    assert one_stderr_line(result) == (
        f"warning: {metrics}: its last line was unfinished (a crash or a full disk); ended it there"
    )
    lines = metrics.read_bytes().splitlines()
    assert lines[4] == b'{"step": 8, "loss": 1.0'  # after the records of steps 0, 2, 4 and 6
    records = read_jsonl_metrics(metrics, notify=lambda message: None)
    assert [record["step"] for record in records] == [0, 2, 4, 6]
    assert records[-1] == json.loads(lines[5])  # the resumed run's step 6, not the earlier run's
    assert_same_checkpoint(run_dir / "checkpoints" / "6", finished / "checkpoints" / "6")
    assert {path: digest for path, digest in file_digests(run_dir / "checkpoints").items() if path in kept} == kept

    summary = run_script("scripts/summarize_runs.py", str(tmp_path))
    assert summary.returncode == 0, summary.stderr
    assert one_stderr_line(summary) == (
        f"warning: {metrics}: skipped 1 damaged line (line 5): not a complete metrics record"
    )
    assert summary.stdout.splitlines()[1].split()[:2] == ["run", "ok"]


def test_a_byte_that_is_not_utf8_costs_its_line_only(finished, tmp_path):
    run_dir = tmp_path / "run"
    shutil.copytree(finished, run_dir)
    metrics = run_dir / "metrics.jsonl"
    lines = metrics.read_bytes().splitlines(keepends=True)
    lines[2] = lines[2].replace(b'"loss"', b'"lo\xffss"', 1)  # the record of step 4 (after steps 0 and 2)
    metrics.write_bytes(b"".join(lines))
    before = file_digests(run_dir)
    loaded = load_run_in_subprocess(run_dir)
    assert loaded.returncode == 0, loaded.stderr
    assert (
        one_stderr_line(loaded) == f"warning: {metrics}: skipped 1 damaged line (line 3): not a complete metrics record"
    )
    assert loaded.stdout.strip() == "[0, 2, 6]"
    summary = run_script("scripts/summarize_runs.py", str(tmp_path))
    assert summary.returncode == 0, summary.stderr
    assert one_stderr_line(summary).endswith("(line 3): not a complete metrics record")
    assert file_digests(run_dir) == before


def fill(disk: Path) -> None:
    """Writes zeros into `disk` until it is full."""
    with (disk / "filler").open("wb", buffering=0) as filler:
        try:
            while filler.write(b"\0" * 4096):
                pass
        except OSError:  # no space left on the device
            pass


def test_a_resume_onto_a_full_disk_leaves_no_config_behind_and_resumes_later(finished, tmp_path):
    disk = tmp_path / "disk"
    size = sum(path.stat().st_size for path in finished.rglob("*") if path.is_file())
    mount_tmpfs(disk, f"{size // 1024 + 2048}k")  # the run, less its last checkpoint, and room for one more
    try:
        run_dir = without_last_checkpoint(finished, disk / "run")
        before = file_digests(run_dir, ignore=REWRITTEN)
        fill(disk)
        result = run_experiment(*TINY, "predictive_model.load_checkpoint_step=latest", f"hydra.run.dir={run_dir}")
        assert result.returncode == 5, result.stderr
        line = one_stderr_line(result)
        assert line.startswith(f"error: hydra.run.dir={str(run_dir)!r}: ") and "cannot be written" in line, line
        assert line.endswith(f"the last good checkpoint is step 4 in {run_dir / 'checkpoints'}")
        assert sorted(path.name for path in run_dir.iterdir() if path.name.startswith((".config", "config"))) == [
            "config.yaml"
        ]
        assert file_digests(run_dir, ignore=REWRITTEN) == before
        (disk / "filler").unlink()
        loaded = load_run_in_subprocess(run_dir)
        assert loaded.returncode == 0 and loaded.stderr == "", loaded.stderr
        resumed = run_experiment(*TINY, "predictive_model.load_checkpoint_step=latest", f"hydra.run.dir={run_dir}")
        assert resumed.returncode == 0, resumed.stderr
        assert_same_checkpoint(run_dir / "checkpoints" / "6", finished / "checkpoints" / "6")
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


def test_an_empty_later_config_is_passed_over_in_one_line(finished, tmp_path):
    run_dir = tmp_path / "run"
    shutil.copytree(finished, run_dir)
    (run_dir / "config.1.yaml").write_bytes(b"")  # what a start that met a full disk could leave
    loaded = load_run_in_subprocess(run_dir)
    assert loaded.returncode == 0, loaded.stderr
    assert one_stderr_line(loaded) == f"warning: {run_dir}: passed over config.1.yaml (empty); read config.yaml"
    analysis = run_script("run_analysis.py", f"run_dir={run_dir}", "step=latest", "max_contexts=200")
    assert analysis.returncode == 0, analysis.stderr
    assert "Traceback" not in analysis.stderr
