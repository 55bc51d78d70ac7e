"""The analysis command's typed schema (`analyze_schema`): keys and types checked while Hydra composes."""

import pytest
from hydra.errors import ConfigCompositionException

from simplexity.analysis import AnalysisOptions, AnalysisSettings, ProbeSettings
from simplexity.cli import USER_ERROR_EXIT_CODE, _exit_code, describe_user_error
from simplexity.config import (
    AnalyzeConfig,
    ConfigError,
    load_analyze_config,
    load_config,
    validate_analyze_config,
    validate_experiment_config,
)


def test_the_defaults_are_the_schemas():
    assert validate_analyze_config(load_analyze_config(["run_dir=somewhere"])) == AnalyzeConfig(run_dir="somewhere")
    assert validate_experiment_config(load_config()).analysis == AnalysisSettings()


def test_the_probe_settings_are_shared_but_max_contexts():
    during_training, of_a_run = AnalysisSettings(), AnalysisOptions()
    assert during_training.max_contexts == 20_000 and of_a_run.max_contexts == 300_000
    for name in ProbeSettings.__dataclass_fields__:
        if name != "max_contexts":
            assert getattr(during_training, name) == getattr(of_a_run, name), name


@pytest.mark.parametrize(
    ("override", "line"),
    [
        ("foo=1", "foo: no such key in the config; add a new key with +foo=VALUE"),
        ("max_context_length=3", "max_context_length: no such key in the config"),
        ("batch_size=abc", "batch_size: Value 'abc' of type 'str' could not be converted to Integer"),
        ("last_position_only=maybe", "last_position_only: Value 'maybe' is not a valid bool"),
        ("step=1.5", "step: Value '1.5' of type 'float' is incompatible with type hint"),
    ],
)
def test_an_unknown_key_or_a_wrong_type_is_one_line_with_exit_code_2_before_anything_is_read(override, line, tmp_path):
    # A run directory that does not exist: reading it would fail with another line.
    overrides = [f"run_dir={tmp_path / 'no_run'}", override]
    with pytest.raises(ConfigCompositionException) as raised:
        load_analyze_config(overrides)
    # What the command line makes of it: the exit code and the one line it prints after "error: ".
    assert (_exit_code(raised.value, task_started=False) or USER_ERROR_EXIT_CODE) == 2
    message = describe_user_error(raised.value, overrides, task_started=False)
    assert "\n" not in message and message.startswith(line), message


def test_a_missing_run_dir_is_named_with_how_to_give_it():
    for overrides in ([], ["run_dir="], ["run_dir=???"]):
        with pytest.raises(ConfigError, match="run_dir: missing; give the training run directory to analyse"):
            validate_analyze_config(load_analyze_config(overrides))


def test_step_and_output_dir_become_the_options_analyze_run_takes():
    config = validate_analyze_config(load_analyze_config(["run_dir=r", "step=all", "output_dir=out", "ridge=0"]))
    options = config.options()
    assert options.step is None and options.all_steps and str(options.output_dir) == "out"
    assert isinstance(options.ridge, float) and options.ridge == 0.0
    assert validate_analyze_config(load_analyze_config(["run_dir=r", "step=4"])).options().step == 4
