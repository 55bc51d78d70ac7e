import os
import re
import shutil
import subprocess
from pathlib import Path

import equinox as eqx
import jax.numpy as jnp
import pytest
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig, OmegaConf

from simplexity import run_analysis
from simplexity.analysis import AnalysisOptions, format_report
from simplexity.analysis.belief_geometry import UntrainedControl
from simplexity.config import (
    CONFIG_DIR,
    AnalyzeConfig,
    ConfigError,
    load_analyze_config,
    register_configs,
    validate_analyze_config,
)
from simplexity.errors import StorageError, UnfitCheckpointError
from simplexity.experiment import build_experiment
from simplexity.persistence import Checkpointer
from simplexity.run_analysis import analyze_run, open_trained_run
from simplexity.training import initial_train_state

CONFIGS = CONFIG_DIR


class UnigramModel(eqx.Module):
    """A trainable model that predicts the same distribution everywhere and has no named activation sites."""

    logits: jnp.ndarray

    def __init__(self, vocab_size: int):
        self.logits = jnp.zeros(vocab_size)

    def __call__(self, tokens):
        return jnp.broadcast_to(self.logits, (*tokens.shape, self.logits.shape[0]))


def training_config(*overrides: str) -> DictConfig:
    register_configs()
    with initialize_config_dir(str(CONFIGS), version_base=None):
        return compose("train", overrides=["training=tiny", *overrides])


def write_run(run_dir: Path, cfg: DictConfig, steps: list[int]) -> Path:
    """Writes config.yaml and a checkpoint of the untrained model at each of `steps`, as a training run would."""
    run_dir.mkdir(parents=True, exist_ok=True)
    OmegaConf.save(cfg, run_dir / "config.yaml", resolve=True)
    experiment = build_experiment(cfg)
    checkpointer = Checkpointer(run_dir / "checkpoints")
    for step in steps:
        checkpointer.save(step, initial_train_state(experiment.model, experiment.optimizer))
    checkpointer.close()
    return run_dir


def assert_one_line(error: pytest.ExceptionInfo[ConfigError], *fragments: str) -> None:
    message = str(error.value)
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message


def test_a_missing_directory_is_refused(tmp_path):
    with pytest.raises(ConfigError) as error:
        open_trained_run(tmp_path / "nope")
    assert_one_line(error, "run_dir=", "is not a directory")


def test_a_directory_without_config_is_refused(tmp_path):
    with pytest.raises(ConfigError) as error:
        open_trained_run(tmp_path)
    assert_one_line(error, "has no config.yaml")


def test_a_run_without_checkpoint_is_refused(tmp_path):
    write_run(tmp_path, training_config(), steps=[])
    with pytest.raises(ConfigError) as error:
        analyze_run(tmp_path)
    assert_one_line(error, "run_dir=", "no checkpoint in")
    assert not (tmp_path / "analysis.json").exists()


def test_the_latest_or_a_named_checkpoint_is_restored(tmp_path):
    write_run(tmp_path, training_config(), steps=[2, 4])
    run = open_trained_run(tmp_path)
    assert run.restore().step == 4
    assert run.restore(2).step == 2
    with pytest.raises(ConfigError) as error:
        run.restore(3)
    assert_one_line(error, "step=3", "[2, 4]")


def test_a_model_without_activations_is_refused(tmp_path):
    cfg = training_config()
    cfg.predictive_model.instance = OmegaConf.create(
        {"_target_": f"{__name__}.UnigramModel", "vocab_size": cfg.training_data_generator.vocab_size}
    )
    write_run(tmp_path, cfg, steps=[6])
    with pytest.raises(ConfigError) as error:
        analyze_run(tmp_path)
    assert_one_line(error, "cannot be analysed", "UnigramModel has no named activation sites")
    assert not (tmp_path / "analysis.json").exists()


def test_a_context_longer_than_trained_is_refused(tmp_path):
    write_run(tmp_path, training_config(), steps=[6])
    with pytest.raises(ConfigError) as error:
        analyze_run(tmp_path, AnalysisOptions(max_context_len=9))
    assert_one_line(error, "max_context_len=9", "sequence_len=8")
    with pytest.raises(ConfigError) as error:
        analyze_run(tmp_path, AnalysisOptions(max_context_len=8, max_contexts=100))
    assert_one_line(error, "max_context_len=8", "at most 3 fits")


def test_the_analysis_writes_its_report_into_output_dir(tmp_path):
    run_dir = write_run(tmp_path / "run", training_config(), steps=[6])
    report = analyze_run(run_dir, AnalysisOptions(max_context_len=3, output_dir=tmp_path / "out"))
    assert (tmp_path / "out" / "analysis.json").is_file()
    assert report["step"] == 6 and report["max_context_len"] == 3
    assert report["figures"] == ["belief_geometry.png", "position_loss.png"]  # no metrics.jsonl: no training curve
    # mess3's mixed states never close, so the machine is its 3-state presentation.
    assert report["machine"] == {
        "kind": "presentation",
        "num_states": 3,
        "files": ["machine.dot", "machine.json", "machine.png"],
    }
    assert all((tmp_path / "out" / name).stat().st_size > 0 for name in report["machine"]["files"])
    assert not (run_dir / "analysis.json").exists()


def test_interventions_at_chosen_sites_go_into_the_report_and_a_figure(tmp_path):
    run_dir = write_run(tmp_path / "run", training_config(), steps=[6])  # the default GRU-RNN, untrained
    sites = ["layer_0.hidden", "layer_1.hidden"]
    options = AnalysisOptions(max_context_len=3, sites=sites, interventions=True, num_pairs=16, output_dir=tmp_path)
    report = analyze_run(run_dir, options)
    assert list(report["regression"]) == [*sites, "concatenated"]
    interventions = report["interventions"]
    assert list(interventions["sites"]) == sites and interventions["num_pairs"] == 16
    for scores in interventions["sites"].values():
        assert scores["patching"]["kl_before"] > 0 and scores["ablation"]["rank"] == 2  # mess3's 3 states
    assert "interventions.png" in report["figures"] and (tmp_path / "interventions.png").stat().st_size > 0
    assert "layer_1.hidden: probe-implied excess loss" in format_report(report)


def test_a_site_the_model_lacks_is_refused_in_one_line_naming_its_sites(tmp_path):
    run_dir = write_run(tmp_path / "run", training_config(), steps=[6])
    with pytest.raises(ConfigError) as error:
        analyze_run(run_dir, AnalysisOptions(sites=["layer_9.hidden"], interventions=True))
    assert_one_line(
        error,
        "sites=['layer_9.hidden']: model 'gru_rnn' has no site 'layer_9.hidden'",
        "its sites are embed, layer_0.hidden, layer_1.hidden",
    )
    assert not (run_dir / "analysis.json").exists()


def test_the_machine_a_model_implements_is_extracted_on_request(tmp_path):
    run_dir = write_run(
        tmp_path / "run", training_config("generative_process@training_data_generator=even_ones"), steps=[6]
    )
    report = analyze_run(run_dir, AnalysisOptions(max_context_len=3, extraction=True, output_dir=tmp_path))
    extraction = report["extraction"]
    assert extraction["true_states"] == 2 and extraction["states_found"] >= 1
    assert extraction["true_statistical_complexity"] == pytest.approx(0.6365141682948128, abs=1e-12)
    assert {"extracted_machine.dot", "extracted_machine.json"} <= set(extraction["files"])
    assert "extracted machine: " in format_report(report)


@pytest.mark.parametrize("setting", ["extraction", "targets"])
def test_an_extraction_from_a_process_without_a_finite_machine_is_refused_in_one_line(tmp_path, setting):
    run_dir = write_run(tmp_path / "run", training_config(), steps=[6])  # mess3
    with pytest.raises(ConfigError) as error:
        analyze_run(
            run_dir, AnalysisOptions(extraction=True) if setting == "extraction" else AnalysisOptions(targets=True)
        )
    assert_one_line(error, f"{setting}=true: process 'mess3' has no finite epsilon-machine")


def test_the_targets_beyond_the_belief_are_probed_on_request(tmp_path):
    config = training_config("generative_process@training_data_generator=mr_name")
    run_dir = write_run(tmp_path / "run", config, steps=[6])
    report = analyze_run(run_dir, AnalysisOptions(max_context_len=3, targets=True, output_dir=tmp_path))
    targets = report["targets"]
    assert set(targets["probes"]) == {"belief", "causal_state", "last_k_tokens", "reverse_belief"}
    assert set(targets["probes"]["causal_state"]) == {"embed", "layer_0.hidden", "layer_1.hidden", "concatenated"}
    assert targets["process"]["crypticity"] > 0.1  # Mr. Name is cryptic
    assert "reverse_belief probe from concatenated" in format_report(report)


def test_step_all_analyses_each_checkpoint_once_and_fits_the_untrained_probes_once(tmp_path, monkeypatch):
    run_dir = write_run(tmp_path / "run", training_config(), steps=[2, 4, 6])
    calls = []
    original = run_analysis.analyze_contexts

    def recorded(model, dataset, **arguments):
        calls.append(arguments["untrained"])
        return original(model, dataset, **arguments)

    monkeypatch.setattr(run_analysis, "analyze_contexts", recorded)
    report = analyze_run(run_dir, AnalysisOptions(max_context_len=3, all_steps=True, output_dir=tmp_path))
    assert len(calls) == 3  # one per checkpoint, the latest reused for the report
    assert not isinstance(calls[0], UntrainedControl) and all(isinstance(call, UntrainedControl) for call in calls[1:])
    assert [point["step"] for point in report["curve"]] == [2, 4, 6]
    assert report["curve"][-1]["regression"]["concatenated"]["r2"] == report["regression"]["concatenated"]["r2"]
    # Every checkpoint holds the untrained model here, so each point's probes are the untrained ones.
    untrained = report["controls"]["untrained"]["concatenated"]["r2"]
    assert all(point["regression"]["concatenated"]["r2"] == untrained for point in report["curve"])


def analysis_options(*overrides: str) -> AnalysisOptions:
    return validate_analyze_config(load_analyze_config(["run_dir=somewhere", *overrides])).options()


def test_analysis_options_of_the_default_config():
    assert analysis_options() == AnalysisOptions()
    assert analysis_options("step=7", "output_dir=out").step == 7
    assert analysis_options("step=all").all_steps


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("step=first", "step='first': must be `latest`, `all`"),
        ("max_context_len=0", "max_context_len=0: must be a positive integer"),
        ("test_fraction=1.0", "test_fraction=1.0: must be a number strictly between 0 and 1"),
        ("min_probability=-0.1", "min_probability=-0.1"),
        ("batch_size=0", "batch_size=0"),
        ("weights=flat", "weights='flat': must be one of probability, uniform"),
        ("contexts=all", "contexts='all': must be one of enumerate, sample"),
        ("ridge=-1", "ridge=-1: must be null (chosen by cross-validation) or a number at least 0"),
        ("sites=[]", "sites=[]: must be null or a non-empty list of site names"),
        ("num_pairs=0", "num_pairs=0"),
        ("extraction_depth=0", "extraction_depth=0"),
    ],
)
def test_bad_analysis_options_are_refused_in_one_line(override, expected):
    with pytest.raises(ConfigError, match=re.escape(expected)):
        analysis_options(override)


def test_a_value_of_another_type_set_from_python_is_refused_by_the_check():
    config = AnalyzeConfig(run_dir="somewhere", last_position_only=3)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=re.escape("last_position_only=3: must be true or false")):
        config.check()


def test_a_checkpoint_of_another_model_does_not_fit_with_exit_code_7(tmp_path):
    write_run(tmp_path, training_config("predictive_model.instance.hidden_size=32"), steps=[6])
    OmegaConf.save(training_config(), tmp_path / "config.yaml", resolve=True)  # the config of a smaller model
    with pytest.raises(UnfitCheckpointError) as error:
        open_trained_run(tmp_path).restore()
    assert error.value.exit_code == 7
    assert_one_line(error, "step=6: checkpoint 6 in", "does not fit the model of the run's config (")


def test_an_output_file_that_is_a_directory_is_refused_before_the_analysis(tmp_path):
    run_dir = write_run(tmp_path / "run", training_config(), steps=[6])
    (tmp_path / "out" / "analysis.json").mkdir(parents=True)
    with pytest.raises(StorageError) as error:
        analyze_run(run_dir, AnalysisOptions(max_context_len=3, output_dir=tmp_path / "out"))
    assert error.value.exit_code == 5
    out = tmp_path / "out"
    assert str(error.value) == f"output_dir={str(out)!r}: {out / 'analysis.json'} cannot be written (it is not a file)"
    assert [path.name for path in (tmp_path / "out").iterdir()] == ["analysis.json"]


def test_a_disk_that_fills_during_the_writes_is_one_storage_error(tmp_path):
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("a full disk is simulated with a small tmpfs, which needs root")
    run_dir = write_run(tmp_path / "run", training_config(), steps=[6])
    disk = tmp_path / "disk"
    disk.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16k", "tmpfs", str(disk)], check=False).returncode:
        pytest.skip("mounting a tmpfs is not permitted here")
    try:
        with pytest.raises(StorageError) as error:
            analyze_run(run_dir, AnalysisOptions(max_context_len=3, output_dir=disk))
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)
    assert error.value.exit_code == 5
    assert str(error.value) == f"output_dir={str(disk)!r}: cannot be written (No space left on device)"
