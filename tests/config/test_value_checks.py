"""Values refused before anything is written, through the command line: one line, its exit code, no directory."""

import subprocess
import sys

import pytest

from tests.command_line import ROOT, run_experiment

pytestmark = pytest.mark.slow

# The parameters of the default 2-layer GRU network (vocabulary 3, embeddings 16) are 9 h^2 + 63 h + 51 for
# hidden_size=h (40947 at h=64); a step holds five float32 copies of them.
HUGE_GRU = 9 * 10**12 + 63 * 10**6 + 51


@pytest.mark.parametrize(
    ("overrides", "code", "line"),
    [
        (
            ["validation.seed=18446744073709551616"],
            2,
            "error: validation.seed=18446744073709551616: must be a non-negative integer at most 2**32 - 1 = "
            "4294967295",
        ),
        (["seed=4294967296"], 2, "error: seed=4294967296: must be a non-negative integer at most 2**32 - 1"),
        (
            ["predictive_model.instance.layer_norm=maybe"],
            2,
            "error: predictive_model.instance.layer_norm='maybe': must be true or false",
        ),
        (
            ["training.optimizer.instance.b1=1.5"],
            2,
            "error: training.optimizer.instance.b1=1.5: must be a number in [0, 1)",
        ),
        (
            ["training.optimizer.instance.eps=-1"],
            2,
            "error: training.optimizer.instance.eps=-1: must be a finite number above 0",
        ),
        (
            ["training.optimizer.instance.learning_rate=inf"],
            2,
            "error: training.optimizer.instance.learning_rate=inf: must be a positive number (finite)",
        ),
        (
            ["validation.num_sequences=1000000000"],
            2,
            "error: validation.num_sequences=1000000000: the validation set (1000000000 sequences of "
            "training.sequence_len=8 tokens with their exact next-token distributions) needs at least 928 GiB of host",
        ),
        (
            ["training.batch_size=1000000000"],
            2,
            "error: training.batch_size=1000000000: a training step (training.batch_size=1000000000 sequences of "
            "training.sequence_len=8 tokens, 40947 parameters) needs at least",
        ),
        (
            ["persistence.checkpoint_dir=/proc/1/checkpoints"],
            5,
            "error: persistence.checkpoint_dir='/proc/1/checkpoints': /proc/1 cannot be written (",
        ),
        (
            ["logging=mlflow", "logging.mlflow.tracking_uri=not a uri"],
            6,
            "error: logging.mlflow.tracking_uri='not a uri': has no scheme and is not an absolute path; use file:PATH",
        ),
        (
            ["predictive_model.instance.hidden_size=1000000"],
            2,
            "error: predictive_model.instance (embedding_size=16, num_layers=2, hidden_size=1000000): the model's "
            f"{HUGE_GRU} parameters need at least {HUGE_GRU * 5 * 4 / 2**30:.3g} GiB of ",
        ),
    ],
)
def test_a_value_that_cannot_be_used_is_refused_in_one_line_before_anything_is_written(tmp_path, overrides, code, line):
    run_dir = tmp_path / "run"
    result = run_experiment("training=tiny", *overrides, f"hydra.run.dir={run_dir}")
    assert result.returncode == code, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(line), result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert not run_dir.exists()


def test_an_empty_run_directory_is_refused_and_nothing_is_written_where_the_command_runs(tmp_path):
    result = subprocess.run(
        [sys.executable, str(ROOT / "run_experiment.py"), "training=tiny", "hydra.run.dir="],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.strip() == "error: hydra.run.dir='': must be a non-empty path (the run directory)"
    assert list(tmp_path.iterdir()) == []
