"""`run_experiment.py` end to end, in subprocesses, as a user runs it."""

import json
import re
import subprocess
from pathlib import Path

import jax
import pytest

from tests.command_line import ROOT, file_digests, run_experiment

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory) -> Path:
    """A tiny run to step 4, then resumed from its latest checkpoint to step 6 in the same directory."""
    run_dir = tmp_path_factory.mktemp("run")
    first = run_experiment("training=tiny", "training.num_steps=4", f"hydra.run.dir={run_dir}")
    assert first.returncode == 0, first.stderr
    resumed = run_experiment(
        "training=tiny", "predictive_model.load_checkpoint_step=latest", f"hydra.run.dir={run_dir}"
    )
    assert resumed.returncode == 0, resumed.stderr
    assert "starting at step 4 of 6" in resumed.stdout
    return run_dir


def test_run_writes_config_metrics_and_checkpoints(finished_run):
    assert (finished_run / "config.yaml").is_file()
    assert "vocab_size: 3" in (finished_run / "config.yaml").read_text()
    assert (finished_run / "config.1.yaml").is_file()  # the resumed run keeps the first run's config
    records = [json.loads(line) for line in (finished_run / "metrics.jsonl").read_text().splitlines()]
    assert [record["step"] for record in records] == [0, 2, 4, 6]
    assert all("loss" in record for record in records)
    assert sorted(int(path.name) for path in (finished_run / "checkpoints").iterdir()) == [2, 4, 6]


def test_provenance_keeps_one_record_per_start(finished_run):
    records = json.loads((finished_run / "provenance.json").read_text())
    assert [(r["start_step"], r["end_step"], r["exit_status"]) for r in records] == [(0, 4, 0), (4, 6, 0)]
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=False)
    if head.returncode == 0:
        assert records[0]["git_commit"] == head.stdout.strip()
        assert isinstance(records[0]["git_dirty"], bool)
    assert records[0]["packages"]["jax"] == jax.__version__
    assert records[1]["devices"] == [str(device) for device in jax.devices()]
    assert "predictive_model.load_checkpoint_step=latest" in records[1]["command"]
    assert records[0]["started_at"] <= records[0]["ended_at"] <= records[1]["started_at"]


def test_resume_from_another_directory(finished_run, tmp_path):
    result = run_experiment(
        "training=tiny",
        "training.num_steps=8",
        "predictive_model.load_checkpoint_step=6",
        f"predictive_model.load_checkpoint_dir={finished_run / 'checkpoints'}",
        f"hydra.run.dir={tmp_path}",
    )
    assert result.returncode == 0, result.stderr
    assert sorted(int(path.name) for path in (tmp_path / "checkpoints").iterdir()) == [8]


# Each bad input with the text its one-line error must hold: the key, and what is wrong with the value.
MISTAKES = [
    (
        "predictive_model=nope",
        "predictive_model=nope: no such option in config group 'predictive_model'; available: gru_rnn",
    ),
    ("training=huge", "training=huge: no such option in config group 'training'"),
    ("training.batch_size=-1", "training.batch_size=-1: must be a positive integer"),
    ("training.batch_size=abc", "training.batch_size: Value 'abc' of type 'str' could not be converted to Integer"),
    ("training.batchsize=3", "training.batchsize: no such key"),
    ("training.batch_size=???", "training.batch_size: missing required key"),
    ("training.log_every=100", "training.log_every=100: must be at most training.num_steps=6"),
    (
        "training.optimizer.instance.learning_rate=-0.1",
        "training.optimizer.instance.learning_rate=-0.1: must be a positive",
    ),
    ("training.schedule.name=linear", "training.schedule.name='linear': must be one of constant, warmup_cosine"),
    ("training.max_grad_norm=0", "training.max_grad_norm=0.0: must be a positive number or null"),
    ("seed=-1", "seed=-1: must be a non-negative integer"),
    ("seed=a=b", "seed=a=b: cannot parse this override"),
    (
        "predictive_model.instance.vocab_size=5",
        "predictive_model.instance.vocab_size=5: must equal training_data_generator",
    ),
    ("+generative_process@validation_data_generator=even_ones", "validation_data_generator.vocab_size=2: must equal"),
    ("training_data_generator.instance.x=0.9", "training_data_generator.instance: mess3: x=0.9 must be in [0, 0.5]"),
    ("training_data_generator.instance.a=1.5", "training_data_generator.instance: mess3: a=1.5"),
    (
        "generative_process@training_data_generator=even_ones training_data_generator.instance.p=-0.1",
        "even_ones: p=-0.1",
    ),
    ("training_data_generator=even_ones", "choose one with generative_process@training_data_generator=even_ones"),
    ("predictive_model.instance.num_layers=0", "predictive_model.instance: num_layers=0 must be a positive integer"),
    ("predictive_model.load_checkpoint_step=3", "predictive_model.load_checkpoint_step=3: no checkpoint of that step"),
    (
        "predictive_model.load_checkpoint_step=soon",
        "predictive_model.load_checkpoint_step='soon': must be null, `latest`",
    ),
    (
        "predictive_model.load_checkpoint_step=latest predictive_model.load_checkpoint_dir=/nonexistent/checkpoints",
        "predictive_model.load_checkpoint_dir='/nonexistent/checkpoints': is not a readable directory of checkpoints",
    ),
    ("logging.loggers=[console,wandb]", "logging.loggers="),
    ("validation.num_sequences=0", "validation.num_sequences=0: must be a positive integer"),
    ("training.num_steps=8", "already holds checkpoints [2, 4, 6]"),
]


def test_at_least_fifteen_distinct_mistakes_are_covered():
    assert len({override.split("=")[0] for override, _ in MISTAKES}) >= 15


@pytest.mark.parametrize(("override", "expected"), MISTAKES, ids=[override for override, _ in MISTAKES])
def test_mistakes_exit_with_one_line_and_change_no_file(finished_run, override, expected):
    before = file_digests(finished_run)
    result = run_experiment("training=tiny", *override.split(), f"hydra.run.dir={finished_run}")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert expected in lines[0]
    assert "Traceback" not in result.stderr + result.stdout
    assert file_digests(finished_run) == before


def test_a_non_finite_loss_ends_in_one_line_naming_the_step_and_keeps_the_checkpoint(tmp_path):
    result = run_experiment(
        "training=tiny",
        "predictive_model=transformer",
        "training/optimizer=sgd",
        "training.optimizer.instance.learning_rate=1e6",
        "training.num_steps=40",
        "training.checkpoint_every=1",
        f"hydra.run.dir={tmp_path}",
    )
    assert result.returncode == 3, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr
    assert re.fullmatch(
        r"error: loss became non-finite at step (\d+); the last good checkpoint is step (\d+) in .*", lines[0]
    )
    step, kept = map(int, re.findall(r"step (\d+)", lines[0]))
    assert kept == step - 1
    assert sorted(int(path.name) for path in (tmp_path / "checkpoints").iterdir())[-1] == kept
