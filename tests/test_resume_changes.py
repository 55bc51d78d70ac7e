"""What a resume in the same run directory may change, through the command line (`simplexity.config.resume_changes`).

Refused, with one line and nothing written: what the checkpoint's data stream and model mean. Accepted, with one
warning line and a `changed` record in `provenance.json`: the training settings a researcher changes on resume.
"""

import json
import shutil
from pathlib import Path

import pytest

from tests.command_line import file_digests, run_experiment
from tests.test_faults import TINY, assert_same_checkpoint, one_stderr_line

pytestmark = pytest.mark.slow
LATEST = "predictive_model.load_checkpoint_step=latest"


@pytest.fixture
def finished(tiny_run: Path) -> Path:
    """A tiny run straight to step 6, with checkpoints 2, 4 and 6."""
    return tiny_run


@pytest.mark.parametrize(
    ("override", "line"),
    [
        ("seed=1", "error: seed=1: a resume must keep seed=0 of config.yaml ("),
        (
            "training_data_generator.instance.x=0.2",
            "error: training_data_generator.instance.x=0.2: a resume must keep training_data_generator.instance.x=0.15",
        ),
        (
            "generative_process=post_quantum",  # another process of the same vocabulary (3 tokens)
            "error: training_data_generator.instance._target_="
            "'simplexity.generative_processes.build_generalized_hidden_markov_model': a resume must keep "
            "training_data_generator.instance._target_='simplexity.generative_processes.build_hidden_markov_model' "
            "of config.yaml",
        ),
        ("predictive_model.instance.seed=5", "error: predictive_model.instance.seed=5: a resume must keep"),
        (
            "training.precision=bfloat16",
            "error: training.precision='bfloat16': a resume must keep training.precision='float32' of config.yaml",
        ),
    ],
)
def test_a_resume_that_changes_what_the_checkpoint_means_is_refused(finished, tmp_path, override, line):
    run_dir = tmp_path / "run"
    shutil.copytree(finished, run_dir)
    before = file_digests(run_dir)
    result = run_experiment(*TINY, "training.num_steps=8", LATEST, override, f"hydra.run.dir={run_dir}")
    assert result.returncode == 2, result.stderr
    refused = one_stderr_line(result)
    assert refused.startswith(line), refused
    assert refused.endswith("branch off into a new hydra.run.dir with predictive_model.load_checkpoint_dir")
    assert file_digests(run_dir) == before


def test_a_longer_resume_says_what_changed_records_it_and_ends_as_a_straight_run(finished, tmp_path):
    run_dir = tmp_path / "run"
    shutil.copytree(finished, run_dir)
    result = run_experiment(*TINY, "training.num_steps=8", "training.log_every=1", LATEST, f"hydra.run.dir={run_dir}")
    assert result.returncode == 0, result.stderr
    assert one_stderr_line(result) == (
        "warning: resuming with changed settings (recorded in provenance.json): "
        "training.log_every: 2 -> 1, training.num_steps: 6 -> 8"
    )
    records = json.loads((run_dir / "provenance.json").read_text())
    assert "changed" not in records[0]
    assert records[-1]["changed"] == {
        "training.log_every": {"from": 2, "to": 1},
        "training.num_steps": {"from": 6, "to": 8},
    }
    straight = run_experiment(
        *TINY, "training.num_steps=8", "training.log_every=1", f"hydra.run.dir={tmp_path / 'straight'}"
    )
    assert straight.returncode == 0, straight.stderr
    assert_same_checkpoint(run_dir / "checkpoints" / "8", tmp_path / "straight" / "checkpoints" / "8")


def test_a_resume_with_other_training_settings_goes_on_and_records_them(finished, tmp_path):
    run_dir = tmp_path / "run"
    shutil.copytree(finished, run_dir)
    shutil.rmtree(run_dir / "checkpoints" / "6")
    overrides = [
        "training.optimizer.instance.learning_rate=0.001",
        "training.batch_size=8",
        "training.sequence_len=16",
        "training/schedule=warmup_cosine",
        "training.schedule.warmup_steps=2",
    ]
    result = run_experiment(*TINY, *overrides, LATEST, f"hydra.run.dir={run_dir}")
    assert result.returncode == 0, result.stderr
    assert one_stderr_line(result) == (
        "warning: resuming with changed settings (recorded in provenance.json): "
        "training.batch_size: 4 -> 8, training.optimizer.instance.learning_rate: 0.003 -> 0.001, "
        "training.schedule.final_fraction: 1.0 -> 0.1, training.schedule.name: 'constant' -> 'warmup_cosine', "
        "training.schedule.warmup_steps: 0 -> 2, training.sequence_len: 8 -> 16"
    )
    assert json.loads((run_dir / "provenance.json").read_text())[-1]["changed"] == {
        "training.batch_size": {"from": 4, "to": 8},
        "training.optimizer.instance.learning_rate": {"from": 0.003, "to": 0.001},
        "training.schedule.final_fraction": {"from": 1.0, "to": 0.1},
        "training.schedule.name": {"from": "constant", "to": "warmup_cosine"},
        "training.schedule.warmup_steps": {"from": 0, "to": 2},
        "training.sequence_len": {"from": 8, "to": 16},
    }
    assert (run_dir / "checkpoints" / "6").is_dir()


def test_a_branch_into_a_new_directory_may_change_the_process(finished, tmp_path):
    result = run_experiment(
        *TINY,
        "training.num_steps=8",
        "training_data_generator.instance.x=0.2",
        "predictive_model.load_checkpoint_step=6",
        f"predictive_model.load_checkpoint_dir={finished / 'checkpoints'}",
        f"hydra.run.dir={tmp_path / 'branch'}",
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
