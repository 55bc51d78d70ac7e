"""Belief-geometry probes during training: logged at the right steps, nothing compiled anew, equal to the analysis."""

import json
import subprocess
import sys
from pathlib import Path

import jax
import numpy as np
import pytest

from simplexity import build, load_config
from simplexity.analysis import CONCATENATED, analyze_contexts
from simplexity.analysis.during_training import training_probes
from simplexity.analysis.factors import analyze_factors
from simplexity.config import ConfigError, validate_experiment_config

ROOT = Path(__file__).parents[2]


def count_compiles(monkeypatch) -> list[int]:
    """Counts the trainer's ahead-of-time compiles of its training chunk (`lower(...).compile()`)."""
    calls: list[int] = []
    original = jax.stages.Lowered.compile

    def counting(self, *args, **kwargs):
        calls.append(1)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(jax.stages.Lowered, "compile", counting)
    return calls


@pytest.fixture(scope="module")
def experiment():
    return build(
        load_config(["training=tiny", "analysis.every=4", "training.num_steps=8", "analysis.max_context_len=3"])
    )


def test_probes_log_at_their_steps_and_compile_nothing_more(experiment, monkeypatch):
    probes = training_probes(experiment.config.analysis, experiment.process, experiment.model, 8)
    assert probes is not None and probes.every == 4
    with_probes = count_compiles(monkeypatch)
    result = experiment.train(evaluations=[probes])
    compiles_with = len(with_probes)
    with_probes.clear()
    plain = experiment.train()
    assert compiles_with == len(with_probes) > 0
    logged = {record["step"]: record for record in result.metrics}
    assert [step for step, record in logged.items() if f"analysis/{CONCATENATED}/r2" in record] == [4, 8]
    assert all(not any(key.startswith("analysis/") for key in record) for record in plain.metrics)
    for key in ("r2", "rmse", "rmse_over_untrained", "rmse_over_best_markov"):
        assert np.isfinite(logged[8][f"analysis/layer_0.hidden/{key}"])
    # The same numbers as the analysis of the final model on the same contexts and split.
    geometry = analyze_contexts(result.model, probes.dataset, untrained=experiment.model)
    assert logged[8][f"analysis/{CONCATENATED}/rmse"] == pytest.approx(geometry.probes[CONCATENATED].rmse, rel=1e-9)
    assert logged[8][f"analysis/{CONCATENATED}/rmse_over_untrained"] == pytest.approx(
        geometry.summary()["regression"][CONCATENATED]["rmse_over_untrained"], rel=1e-9
    )


def test_analysis_is_off_by_default_and_every_must_fit_the_logging_steps():
    assert validate_experiment_config(load_config(["training=tiny"])).analysis.every is None
    with pytest.raises(ConfigError, match=r"analysis.every=3: must be a multiple of training.log_every=2"):
        validate_experiment_config(load_config(["training=tiny", "analysis.every=3"]))
    with pytest.raises(ConfigError, match=r"analysis.max_context_len=9: must be at most training.sequence_len=8"):
        validate_experiment_config(load_config(["training=tiny", "analysis.every=2", "analysis.max_context_len=9"]))
    with pytest.raises(ConfigError, match=r"analysis.ridge=-0.5: must be null \(chosen by cross-validation\) or a"):
        validate_experiment_config(load_config(["training=tiny", "analysis.every=2", "analysis.ridge=-0.5"]))


@pytest.mark.slow
def test_a_run_with_analysis_every_writes_the_probes_into_its_metrics(tmp_path):
    overrides = ["training=tiny", "analysis.every=2", "analysis.max_context_len=3", f"hydra.run.dir={tmp_path}"]
    result = subprocess.run(
        [sys.executable, "run_experiment.py", *overrides], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [record["step"] for record in records if "analysis/concatenated/rmse" in record] == [2, 4, 6]


def test_ratios_to_an_exact_control_are_not_logged_as_the_analysis_leaves_them_undefined():
    overrides = ["generative_process@training_data_generator=no_consecutive_ones", "analysis.max_context_len=4"]
    experiment = build(load_config(["training=tiny", "analysis.every=2", *overrides]))
    probes = training_probes(experiment.config.analysis, experiment.process, experiment.model, 8)
    assert probes is not None
    record = probes(experiment.model)
    summary = analyze_contexts(experiment.model, probes.dataset, untrained=experiment.model).summary()
    assert summary["controls"]["best_markov_exact"] is True  # the golden mean has Markov order 1
    for name, scores in summary["regression"].items():
        assert record[f"analysis/{name}/rmse"] == pytest.approx(scores["rmse"], rel=1e-9)
        assert f"analysis/{name}/rmse_over_best_markov" not in record
        # The model is its own untrained control: a ratio of 1 where that control is not exact, none where it is.
        exact = summary["controls"]["untrained"][name]["exact"]
        assert record.get(f"analysis/{name}/rmse_over_untrained") == (None if exact else pytest.approx(1.0))
    assert "analysis/embed/rmse_over_untrained" not in record  # the last token fixes the belief
    assert not any(key.startswith("analysis/factors/") for key in record)  # not a process made of factors


def test_a_factored_process_logs_its_factor_probes_dimensions_and_overlaps_as_the_analysis_computes_them():
    overrides = ["generative_process@training_data_generator=factored", "analysis.max_context_len=2"]
    experiment = build(load_config(["training=tiny", "analysis.every=2", *overrides]))
    probes = training_probes(experiment.config.analysis, experiment.process, experiment.model, 8)
    assert probes is not None
    record = probes(experiment.model)
    geometry = analyze_factors(experiment.model, experiment.process, probes.dataset).curve_point()
    for target in ("factor_0", "factor_1", "factor_2", "factors", "joint"):
        assert record[f"analysis/factors/{target}/rmse"] == pytest.approx(geometry["probes"][target]["rmse"], rel=1e-9)
        assert record[f"analysis/factors/{target}/r2"] == pytest.approx(geometry["probes"][target]["r2"], rel=1e-9)
        # The model is its own untrained control.
        assert record[f"analysis/factors/{target}/rmse_over_untrained"] == pytest.approx(1.0)
    assert record["analysis/factors/reference/factored"] == 6  # three mess3 factors: 3 x (3 - 1)
    assert record["analysis/factors/reference/joint95"] == geometry["reference_dimensions"]["joint"]
    assert record["analysis/factors/layer_1.hidden/dims95"] == geometry["dimensions"]["layer_1.hidden"]["0.95"]
    overlaps = {key for key in record if key.startswith("analysis/factors/layer_1.hidden/overlap_k1/")}
    assert overlaps == {f"analysis/factors/layer_1.hidden/overlap_k1/{pair}" for pair in ("0-1", "0-2", "1-2")}
    for pair in ("0-1", "0-2", "1-2"):
        logged = record[f"analysis/factors/layer_1.hidden/overlap_k1/{pair}"]
        assert logged == pytest.approx(geometry["vary_one_overlap_k1"]["layer_1.hidden"][pair], rel=1e-9)
