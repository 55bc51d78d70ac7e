"""Memory checks before a run allocates, and XLA's out-of-memory error as one line naming the sizes' keys."""

import json

import jax
import pytest

from simplexity import run
from simplexity.config import ConfigError, load_config
from simplexity.experiment import Experiment
from simplexity.run import exit_status, run_experiment
from simplexity.training import memory


def test_a_validation_set_larger_than_the_free_memory_is_refused_naming_its_key(monkeypatch):
    # 10 sequences of 8 positions over 3 tokens and 3 states: 80 cells of 4 float64 vocabulary arrays and a belief
    # state (80 * 15 * 8 bytes), and 10 * 9 int32 tokens.
    needed = 80 * (4 * 3 + 3) * 8 + 10 * 9 * 4
    monkeypatch.setattr(memory, "device_memory_available", lambda: None)
    monkeypatch.setattr(memory, "host_memory_available", lambda: needed - 1)
    with pytest.raises(ConfigError, match=r"^validation\.num_sequences=10: the validation set \(10 sequences"):
        memory.check_validation_fits(10, 8, 3, 3)
    device_arrays = 80 * 4 * 3 * 4 + 10 * 9 * 4  # on a CPU they are host memory too
    monkeypatch.setattr(memory, "host_memory_available", lambda: needed + device_arrays)
    memory.check_validation_fits(10, 8, 3, 3)


def test_a_training_step_larger_than_the_free_device_memory_is_refused_naming_the_batch_size(monkeypatch):
    needed = 4 * 9 * 4 + 4 * 8 * 3 * 3 * 4 + 100 * 5 * 4  # tokens, logits with two companions, parameter copies
    monkeypatch.setattr(memory, "device_memory_available", lambda: needed - 1)
    with pytest.raises(ConfigError, match=r"^training\.batch_size=4: a training step .* of device memory"):
        memory.check_step_fits(4, 8, 3, 100)
    monkeypatch.setattr(memory, "device_memory_available", lambda: needed)
    memory.check_step_fits(4, 8, 3, 100)


def test_a_model_whose_parameters_alone_do_not_fit_is_refused_naming_its_size_settings(monkeypatch):
    copies = 100 * 5 * 4  # the parameters, their gradient, Adam's two moments and the update, in float32
    monkeypatch.setattr(memory, "device_memory_available", lambda: copies - 1)
    model = "predictive_model.instance (hidden_size=7)"
    pattern = (
        r"^predictive_model\.instance \(hidden_size=7\): the model's 100 parameters need at least 1\.86e-06 GiB of "
        r"device memory .* which holds at most 99 parameters; make the model smaller$"
    )
    with pytest.raises(ConfigError, match=pattern):
        memory.check_step_fits(4, 8, 3, 100, model)
    # When the parameters fit but not with the batch, the batch is named.
    monkeypatch.setattr(memory, "device_memory_available", lambda: copies)
    with pytest.raises(ConfigError, match=r"^training\.batch_size=4: a training step .* 100 parameters\)"):
        memory.check_step_fits(4, 8, 3, 100, model)


def test_the_size_settings_of_a_model_are_its_integers_but_the_seed_and_vocabulary_size():
    gru = {"_target_": "build_gru_rnn", "vocab_size": 3, "embedding_size": 16, "num_layers": 2, "hidden_size": 64}
    gru |= {"layer_norm": False, "seed": 0}
    assert memory.model_size_settings(gru) == (
        "predictive_model.instance (embedding_size=16, num_layers=2, hidden_size=64)"
    )
    nested = {"config": {"vocab_size": 3, "embedding_dim": 32, "mlp_variant": "swiglu"}, "rng": {"seed": 0}}
    assert memory.model_size_settings(nested) == "predictive_model.instance (config.embedding_dim=32)"
    assert memory.model_size_settings({"_target_": "build"}) == "predictive_model.instance"


def test_a_model_too_large_is_refused_before_it_is_built(monkeypatch, tmp_path):
    def build(config):
        raise AssertionError("the model was built")

    monkeypatch.setattr(run, "build_experiment", build)
    monkeypatch.setattr(memory, "device_memory_available", lambda: None)
    monkeypatch.setattr(memory, "host_memory_available", lambda: 2_000_000)  # room for 100000 parameters
    config = load_config(["training=tiny", "predictive_model.instance.hidden_size=100000"])
    with pytest.raises(ConfigError) as raised:
        run_experiment(config, tmp_path / "run")
    # 9 h^2 + 63 h + 51 parameters for the tiny config's GRU network (40947 at h=64), five float32 copies of each.
    parameters = 9 * 10**10 + 63 * 10**5 + 51
    assert str(raised.value) == (
        "predictive_model.instance (embedding_size=16, num_layers=2, hidden_size=100000): the model's "
        f"{parameters} parameters need at least {parameters * 20 / 2**30:.3g} GiB of host memory in a training step "
        f"(with their gradient, the optimizer's state and the update), more than the {2_000_000 / 2**30:.3g} GiB "
        "free, which holds at most 100000 parameters; make the model smaller"
    )
    assert not (tmp_path / "run").exists()


def test_running_out_of_memory_while_training_is_one_line_naming_the_sizes(monkeypatch, tmp_path):
    def exhausted(self, **kwargs):
        raise jax.errors.JaxRuntimeError(
            "RESOURCE_EXHAUSTED: Out of memory while trying to allocate 123456789 bytes.\nBufferAssignment OOM Debug."
        )

    monkeypatch.setattr(Experiment, "train", exhausted)
    run_dir = tmp_path / "run"
    with pytest.raises(ConfigError) as raised:
        run_experiment(load_config(["training=tiny"]), run_dir)
    message = str(raised.value)
    assert "\n" not in message
    assert message.startswith("training.batch_size=4, training.sequence_len=8, predictive_model.instance (40947 param")
    assert "out of memory (RESOURCE_EXHAUSTED: Out of memory while trying to allocate 123456789 bytes.)" in message
    assert exit_status(raised.value) == 2
    assert json.loads((run_dir / "provenance.json").read_text())[-1]["exit_status"] == 2
