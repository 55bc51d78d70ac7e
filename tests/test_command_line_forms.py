"""What the command line accepts and says: the short form of the training process, --help, a missing extra's
hint, and what a rejected config leaves behind."""

import importlib.util

import pytest
from hydra.errors import MissingConfigException

from simplexity import load_config
from simplexity.cli import _exit_on_interrupt, computed_parent_count, describe_user_error
from simplexity.config.loading import expand_override_aliases
from tests.command_line import run_experiment

pytestmark = pytest.mark.slow


def test_generative_process_alone_chooses_the_training_process():
    assert expand_override_aliases(["generative_process=even_ones", "+generative_process@x=coin", "seed=1"]) == [
        "generative_process@training_data_generator=even_ones",
        "+generative_process@x=coin",
        "seed=1",
    ]
    assert load_config(["generative_process=even_ones"]).training_data_generator.name == "even_ones"


def test_the_command_line_takes_generative_process_alone():
    result = run_experiment("generative_process=even_ones", "--cfg", "job")
    assert result.returncode == 0, result.stderr
    node = result.stdout.split("training_data_generator:\n", 1)[1]
    assert node.splitlines()[0].strip() == "name: even_ones"


def test_help_lists_only_groups_a_user_chooses_from_and_the_short_form():
    result = run_experiment("--help")
    assert result.returncode == 0, result.stderr
    groups = result.stdout.split("== Configuration groups ==", 1)[1].split("== Config ==", 1)[0]
    names = [line.split(":", 1)[0] for line in groups.splitlines() if ": " in line and " " not in line.split(":")[0]]
    assert "schema" not in names
    assert {"generative_process", "predictive_model", "training", "experiment"} <= set(names)
    assert "generative_process=NAME chooses the training" in groups


def test_an_option_whose_hydra_plugin_is_missing_names_the_extra_that_installs_it():
    error = MissingConfigException(
        "In 'hydra/launcher/local': Could not load 'hydra/launcher/submitit_local'.", "hydra/launcher/submitit_local"
    )
    assert describe_user_error(error) == (
        'hydra/launcher=local: needs hydra-submitit-launcher, which is not installed: pip install "simplexity[sweeps]"'
    )


@pytest.mark.skipif(
    importlib.util.find_spec("hydra_plugins.hydra_submitit_launcher") is not None,
    reason="the sweeps extra is installed (the plain-install stack runs this)",
)
def test_a_launcher_without_its_extra_is_one_line_naming_the_extra(tmp_path):
    result = run_experiment("--multirun", "hydra/launcher=local", "seed=0,1", f"hydra.sweep.dir={tmp_path}/sweep")
    assert result.returncode == 2
    hint = 'needs hydra-submitit-launcher, which is not installed: pip install "simplexity[sweeps]"'
    assert result.stderr.strip().splitlines() == [f"error: hydra/launcher=local: {hint}"]


@pytest.mark.parametrize(
    ("pattern", "count"),
    [
        ("outputs/${now:%Y-%m-%d}/${now:%H-%M-%S}", 1),
        ("outputs/my_run", 0),
        ("${oc.env:HOME}/runs/${now:%H}/${now:%M}/x", 2),
        ("${oc.env:HOME}/runs/x/${now:%H}", 0),
        ("runs/${now:%Y}/${now:%m}/${now:%d}", 2),
    ],
)
def test_the_parents_a_run_directory_pattern_computes(pattern, count):
    assert computed_parent_count(pattern) == count


def test_a_rejected_config_leaves_no_date_directory_of_the_default_pattern(tmp_path):
    pattern = f"{tmp_path}/outputs/${{now:%Y-%m-%d}}/${{now:%H-%M-%S}}"
    result = run_experiment("training.batch_size=-1", f"hydra.run.dir={pattern}")
    assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
    assert list((tmp_path / "outputs").iterdir()) == []  # the literal outputs/ may stay; no empty date below it


@pytest.mark.parametrize(
    ("command", "where"), [("train", "before training started or after it ended"), ("analyze", "during the analysis")]
)
def test_an_interrupt_outside_a_run_says_where_the_command_stopped(capsys, command, where):
    with pytest.raises(SystemExit) as stop:
        _exit_on_interrupt(KeyboardInterrupt(), command)
    assert stop.value.code == 130
    assert capsys.readouterr().err == f"error: interrupted {where}\n"
