"""A run directory read back, on one tiny real run resumed over steps it had already logged."""

import json
import re
import shutil
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import pytest
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig, OmegaConf

from simplexity import load_run, load_sweep
from simplexity.config import CONFIG_DIR, ConfigError, register_configs
from simplexity.persistence import Checkpointer
from simplexity.run import run_experiment
from simplexity.training import initial_train_state

pytestmark = pytest.mark.stack  # MLflow and pandas: run on the plain-install stack and on the extras' stack

# A decaying learning rate, so that a step logged again by a run going on to 30 steps logs other values.
TINY = ["training=tiny", "logging=quiet", "validation.num_sequences=64", "training/schedule=warmup_cosine"]
TINY += ["training.schedule.warmup_steps=0", "training.log_every=5", "training.checkpoint_every=10"]


def training_config(*overrides: str) -> DictConfig:
    register_configs()
    with initialize_config_dir(str(CONFIG_DIR), version_base=None):
        return compose("train", overrides=[*TINY, *overrides])


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    """A run to step 20 that lost its last checkpoint (as a crash before writing it would), resumed to step 30.

    The resumed run starts from the checkpoint of step 10, so steps 15 and 20 are in `metrics.jsonl` twice.
    """
    run_dir = tmp_path_factory.mktemp("sweep") / "0"
    run_experiment(training_config("training.num_steps=20"), run_dir)
    shutil.rmtree(run_dir / "checkpoints" / "20")
    run_experiment(training_config("training.num_steps=30", "predictive_model.load_checkpoint_step=latest"), run_dir)
    return run_dir


def raw_records(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


def test_metrics_have_one_row_per_step_holding_the_resumed_runs_values(run_dir):
    raw = raw_records(run_dir)
    assert [record["step"] for record in raw] == [0, 5, 10, 15, 20, 15, 20, 25, 30]
    metrics = load_run(run_dir).metrics
    assert metrics.index.name == "step"
    assert list(metrics.index) == [0, 5, 10, 15, 20, 25, 30]
    last_written = {record["step"]: record for record in raw}
    for name in ("loss", "learning_rate", "steps_per_second"):  # step 0 has a loss, but no step's rate or speed
        expected = {step: record[name] for step, record in last_written.items() if name in record}
        assert metrics[name].dropna().to_dict() == expected
    assert metrics.loc[15, "learning_rate"] != raw[3]["learning_rate"]  # not the first run's value


def test_per_position_metrics_are_columns_of_lists(run_dir):
    metrics = load_run(run_dir).metrics
    per_position = metrics.loc[30, "validation/loss_per_position"]
    assert isinstance(per_position, list) and len(per_position) == 8


def test_the_config_is_that_of_the_latest_start_and_builds_its_process(run_dir):
    run = load_run(run_dir)
    assert (run_dir / "config.1.yaml").is_file()
    assert run.config.training.num_steps == 30
    assert run.config.training.log_every == 5
    assert run.process.name == run.config.training_data_generator.name == "mess3"
    assert run.process.vocab_size == 3


def test_checkpoints_are_the_saved_steps(run_dir):
    assert load_run(run_dir).checkpoints == [10, 20, 30]


def test_a_model_is_restored_from_the_checkpoint_of_its_step(run_dir):
    run = load_run(run_dir)
    checkpointer = Checkpointer(run_dir / "checkpoints")
    state = checkpointer.restore(10, initial_train_state(run.experiment.model, run.experiment.optimizer))
    checkpointer.close()
    direct = eqx.combine(state.params, eqx.filter(run.experiment.model, eqx.is_array, inverse=True))
    tokens = jnp.array([[0, 1, 2, 0, 1, 2, 0, 1], [2, 2, 1, 1, 0, 0, 2, 1]])
    at_10, at_30, latest = (run.model(step)(tokens) for step in (10, 30, "latest"))
    assert jnp.array_equal(at_10, direct(tokens))
    assert not jnp.allclose(at_10, at_30)
    assert jnp.array_equal(latest, at_30)


def test_a_model_is_restored_from_a_checkpoint_holding_other_training_statistics(run_dir, tmp_path):
    run = load_run(run_dir)
    state = initial_train_state(run.experiment.model, run.experiment.optimizer)
    params = jax.tree.map(lambda array: array + 0.5, state.params)
    older = tmp_path / "older"
    shutil.copytree(run_dir, older, ignore=shutil.ignore_patterns("checkpoints"))
    # The layout of a trainer that kept no loss statistics: parameters, optimizer state and step only.
    with Checkpointer(older / "checkpoints") as checkpointer:
        checkpointer.save(40, {"params": params, "opt_state": state.opt_state, "step": jnp.asarray(40)})
    restored = load_run(older).model(40)
    for have, want in zip(jax.tree.leaves(eqx.filter(restored, eqx.is_array)), jax.tree.leaves(params), strict=True):
        assert jnp.array_equal(have, want)


def test_a_missing_step_is_refused_naming_the_available_ones(run_dir):
    with pytest.raises(ConfigError) as error:
        load_run(run_dir).model(7)
    message = str(error.value)
    assert "\n" not in message
    assert "step=7" in message and "available: [10, 20, 30]" in message


def copy_config(run_dir: Path, directory: Path) -> Path:
    """Returns `directory` holding only the run's config: a run directory before its first logged step."""
    directory.mkdir()
    shutil.copy(run_dir / "config.yaml", directory / "config.yaml")
    return directory


def test_provenance_is_read_from_its_file(run_dir, tmp_path):
    directory = copy_config(run_dir, tmp_path / "run")
    records = [{"started": "2024-05-01T12:00:00", "git_commit": "abc"}, {"started": "2024-05-02T08:00:00"}]
    (directory / "provenance.json").write_text(json.dumps(records))
    assert load_run(directory).provenance == records


def test_a_run_without_provenance_metrics_or_checkpoints_reads_as_empty(run_dir, tmp_path):
    run = load_run(copy_config(run_dir, tmp_path / "run"))
    assert run.provenance == []
    assert run.checkpoints == []
    assert run.metrics.empty and run.metrics.index.name == "step"
    with pytest.raises(ConfigError, match="no checkpoint in"):
        run.model()


def test_a_run_that_wrote_no_checkpoints_says_so(run_dir, tmp_path):
    directory = copy_config(run_dir, tmp_path / "run")
    config = OmegaConf.load(directory / "config.yaml")
    config.persistence.checkpoint_dir = None
    OmegaConf.save(config, directory / "config.yaml")
    run = load_run(directory)
    assert (run.checkpoint_dir, run.checkpoints) == (None, [])
    with pytest.raises(ConfigError, match="wrote no checkpoints"):
        run.model()


def test_provenance_that_is_not_a_list_of_records_is_refused(run_dir, tmp_path):
    directory = copy_config(run_dir, tmp_path / "run")
    (directory / "provenance.json").write_text('{"started": "now"}')
    with pytest.raises(ValueError, match=re.escape("provenance.json: not a JSON list of records")):
        load_run(directory)


@pytest.mark.parametrize(("name", "expected"), [("missing", "not a directory"), ("empty", "not a run directory")])
def test_a_directory_that_is_not_a_run_is_refused_in_one_line(tmp_path, name, expected):
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError) as error:
        load_run(tmp_path / name)
    message = str(error.value)
    assert "\n" not in message
    assert str(tmp_path / name) in message and expected in message


def test_a_sweep_table_lists_the_run_with_its_final_metrics(run_dir):
    [row] = load_sweep(run_dir.parent).to_dict("records")
    assert (row["run"], row["status"], row["last_step"], row["num_steps"]) == ("0", "ok", 30, 30)
    assert row["loss"] == raw_records(run_dir)[-1]["loss"]
    assert load_run(row["run_dir"]).run_dir == run_dir
