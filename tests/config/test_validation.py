import pytest
from hydra.errors import ConfigCompositionException

from simplexity.config import CONFIG_DIR, ConfigError, load_config, validate_experiment_config


def composed(*overrides: str):
    return load_config(overrides)


def test_default_config_is_valid():
    validate_experiment_config(composed())


@pytest.mark.parametrize("preset", sorted(p.stem for p in (CONFIG_DIR / "experiment").glob("*.yaml")))
def test_every_experiment_preset_composes_into_a_valid_config(preset):
    cfg = composed(f"experiment={preset}")
    validate_experiment_config(cfg)
    assert cfg.predictive_model.instance.vocab_size == cfg.training_data_generator.vocab_size


def test_the_noise_and_chain_presets_change_only_the_process_of_the_factored_preset():
    base = composed("experiment=factored_mess3")
    noisy = composed("experiment=factored_mess3_noisy", "training_data_generator.instance.process.epsilon=0.3")
    chained = composed("experiment=factored_mess3_chained")
    assert noisy.training_data_generator.instance.process._target_.endswith("NoisyChannel")
    assert noisy.training_data_generator.instance.process.epsilon == 0.3
    assert chained.training_data_generator.instance.process._target_.endswith("ChainedProcess")
    for variant in (noisy, chained):
        assert variant.training_data_generator.vocab_size == base.training_data_generator.vocab_size == 28
        assert variant.training == base.training and variant.predictive_model == base.predictive_model


def test_model_vocab_size_comes_from_the_data():
    cfg = composed("training_data_generator.vocab_size=5")
    assert cfg.predictive_model.instance.vocab_size == 5


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("training.batch_size=-1", "training.batch_size=-1: must be a positive integer"),
        ("training.sequence_len=0", "training.sequence_len=0"),
        ("training.log_every=5000", "training.log_every=5000: must be at most training.num_steps=1000"),
        ("training.checkpoint_every=0", "training.checkpoint_every=0: must be a positive integer or null"),
        ("training.loss_ema_decay=1.0", "training.loss_ema_decay=1.0: must be a number in"),
        ("seed=-3", "seed=-3"),
        ("predictive_model.instance.vocab_size=4", "must equal training_data_generator.vocab_size=3"),
        ("predictive_model.load_checkpoint_step=soon", "predictive_model.load_checkpoint_step='soon'"),
        ("training.optimizer.instance.learning_rate=-0.1", "learning_rate=-0.1: must be a positive number"),
        ("persistence.max_to_keep=0", "persistence.max_to_keep=0"),
        ("training.batch_size=???", "training.batch_size: missing required key"),
    ],
)
def test_bad_values_name_their_key(override, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        validate_experiment_config(composed(override))


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("validation.num_sequences=0", "validation.num_sequences=0: must be a positive integer"),
        ("training.schedule.name=linear", "training.schedule.name='linear': must be one of constant, warmup_cosine"),
        ("training.schedule.final_fraction=2", "training.schedule.final_fraction=2.0: must be a number in [0, 1]"),
        ("training.max_grad_norm=-1", "training.max_grad_norm=-1.0: must be a positive number or null"),
        ("logging.loggers=[console,wandb]", "logging.loggers=.*must be a list drawn from console, jsonl, mlflow"),
    ],
)
def test_bad_training_settings_name_their_key(override, message):
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        validate_experiment_config(composed(override))


@pytest.mark.parametrize(
    ("override", "key"),
    [("training.num_steps=abc", "training.num_steps"), ("seed=1.5", "seed"), ("training.batchsize=2", "batchsize")],
)
def test_the_schema_rejects_wrong_types_and_unknown_keys_while_composing(override, key):
    with pytest.raises(ConfigCompositionException) as raised:
        composed(override)
    assert key in str(raised.value) + str(raised.value.__cause__)
