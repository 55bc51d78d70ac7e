import equinox as eqx
import numpy as np
import pytest

from simplexity.generative_processes import (
    GenerativeProcess,
    SpecialTokenProcess,
    build_hidden_markov_model,
    myopic_entropy,
    nonergodic_mixture,
)
from simplexity.predictive_models import BeliefStateOracle, build_gru_rnn
from simplexity.training import ValidationConfig, Validator, optimal_loss_per_position

SEQ = 8


@pytest.fixture(scope="module")
def process():
    return build_hidden_markov_model("mess3", x=0.05, a=0.85)


def validate(model, process, num_sequences=20_000):
    validator = Validator(model, ValidationConfig(process, num_sequences, seed=0), SEQ)
    return validator(eqx.filter(model, eqx.is_array))


def test_optimum_is_the_myopic_entropy_of_the_next_position(process):
    myopic = myopic_entropy(process, SEQ + 1)
    np.testing.assert_allclose(optimal_loss_per_position(process, SEQ), myopic[1:])
    with_bos = SpecialTokenProcess(process, bos=True)
    np.testing.assert_allclose(optimal_loss_per_position(with_bos, SEQ), myopic[:SEQ])
    framed = SpecialTokenProcess(process, bos=True, eos=True)
    np.testing.assert_allclose(optimal_loss_per_position(framed, SEQ), [*myopic[: SEQ - 1], 0.0])


def test_long_contexts_take_the_converged_myopic_entropy(mess3):
    optimum = optimal_loss_per_position(mess3, 64)
    assert optimum.shape == (64,)
    assert optimum[-1] == pytest.approx(myopic_entropy(mess3, 13)[-1], abs=1e-6)


@pytest.fixture(scope="module")
def registered_processes():
    from tests.generative_processes.test_exact_quantities import PROCESS_NAMES
    from tests.generative_processes.test_exact_quantities import process as build

    processes: dict[str, GenerativeProcess] = {name: build(name) for name in PROCESS_NAMES}
    mess3 = build_hidden_markov_model("mess3", x=0.05, a=0.85)
    processes["mess3_bos"] = SpecialTokenProcess(mess3, bos=True)
    processes["mess3_bos_eos"] = SpecialTokenProcess(mess3, bos=True, eos=True)
    processes["mixture"] = nonergodic_mixture([build("no_consecutive_ones"), build("fanizza")], [0.3, 0.7])
    return processes


def test_excess_loss_of_the_exact_predictor_is_zero_for_every_process(registered_processes):
    for name, data in registered_processes.items():
        if name == "mess3_bos_eos":
            continue  # the oracle does not predict EOS
        oracle = BeliefStateOracle(data)
        for seed in (0, 1, 2):
            validator = Validator(oracle, ValidationConfig(data, 256, seed=seed), SEQ)
            metrics = validator(eqx.filter(oracle, eqx.is_array))
            assert 0.0 <= metrics["validation/excess_loss"] < 1e-6, (name, seed, metrics["validation/excess_loss"])
            assert max(metrics["validation/excess_loss_per_position"]) < 1e-6, name
            assert len(metrics["validation/loss_per_position"]) == SEQ


def test_excess_loss_is_the_divergence_from_the_exact_distribution(process):
    untrained = build_gru_rnn(vocab_size=3, embedding_size=4, num_layers=1, hidden_size=8, seed=0)
    validator = Validator(untrained, ValidationConfig(process, 64, seed=0), SEQ)
    metrics = validator(eqx.filter(untrained, eqx.is_array))
    logits = np.asarray(untrained(validator.tokens[:, :-1]), dtype=np.float64)
    log_model = logits - np.log(np.exp(logits).sum(axis=-1, keepdims=True))
    exact = np.asarray(validator.exact_probabilities, dtype=np.float64)
    divergence = np.sum(np.where(exact > 0, exact * (np.log(np.where(exact > 0, exact, 1.0)) - log_model), 0.0), -1)
    np.testing.assert_allclose(metrics["validation/excess_loss_per_position"], divergence.mean(axis=0), atol=1e-5)


def test_the_exact_distribution_of_a_framed_sequence_ends_with_eos(registered_processes):
    framed = registered_processes["mess3_bos_eos"]
    validator = Validator(BeliefStateOracle(framed), ValidationConfig(framed, 16, seed=0), SEQ)
    exact = np.asarray(validator.exact_probabilities)
    np.testing.assert_allclose(exact[:, -1, framed.eos_token], 1.0)
    np.testing.assert_allclose(exact[:, :-1, framed.vocab_size - 2 :], 0.0)  # BOS and EOS are never next before
    np.testing.assert_allclose(exact.sum(axis=-1), 1.0, atol=1e-6)


def test_excess_loss_of_an_untrained_model_is_positive(process):
    untrained = build_gru_rnn(vocab_size=3, embedding_size=4, num_layers=1, hidden_size=8, seed=0)
    metrics = validate(untrained, process, num_sequences=2000)
    assert metrics["validation/excess_loss"] > 0.01
    assert min(metrics["validation/excess_loss_per_position"]) > 0.0
    assert 0.0 <= metrics["validation/accuracy"] <= 1.0
