import equinox as eqx
import numpy as np
import pytest

from simplexity.generative_processes import SpecialTokenProcess, build_hidden_markov_model, myopic_entropy
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


def test_long_contexts_take_the_converged_myopic_entropy(process):
    optimum = optimal_loss_per_position(process, 64)
    assert optimum.shape == (64,)
    assert optimum[-1] == pytest.approx(myopic_entropy(process, 14)[-1], abs=1e-6)


@pytest.mark.parametrize("with_bos", [False, True])
def test_excess_loss_of_the_exact_predictor_is_near_zero(process, with_bos):
    data = SpecialTokenProcess(process, bos=True) if with_bos else process
    metrics = validate(BeliefStateOracle(data), data)
    # Sampling error of 20,000 sequences: a few thousandths of a nat per position.
    assert abs(metrics["validation/excess_loss"]) < 0.01
    assert np.max(np.abs(metrics["validation/excess_loss_per_position"])) < 0.03
    assert len(metrics["validation/loss_per_position"]) == SEQ


def test_excess_loss_of_an_untrained_model_is_positive(process):
    untrained = build_gru_rnn(vocab_size=3, embedding_size=4, num_layers=1, hidden_size=8, seed=0)
    metrics = validate(untrained, process, num_sequences=2000)
    assert metrics["validation/excess_loss"] > 0.1
    assert min(metrics["validation/excess_loss_per_position"]) > 0.0
    assert 0.0 <= metrics["validation/accuracy"] <= 1.0
