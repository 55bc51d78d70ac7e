"""The machine read off a model's predictions: exactly the epsilon-machine for the exact predictor."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from simplexity.analysis.extraction import extract_machine
from simplexity.generative_processes import build_hidden_markov_model, random_epsilon_machine
from simplexity.generative_processes.export import from_dot, to_dot
from simplexity.predictive_models import BeliefStateOracle


@pytest.mark.parametrize(
    "build",
    [
        lambda: build_hidden_markov_model("no_consecutive_ones"),
        lambda: build_hidden_markov_model("even_ones"),
        lambda: build_hidden_markov_model("rrxor"),
        lambda: random_epsilon_machine(5, 2, seed=0),
    ],
    ids=["golden_mean", "even", "rrxor", "random_5_states"],
)
def test_the_exact_predictor_implements_the_epsilon_machine(build):
    process = build()
    extracted = extract_machine(BeliefStateOracle(process), process, context_len=6, depth=3)
    assert extracted.recovered
    assert len(extracted.machine.labels) == len(extracted.true_machine.labels)
    assert extracted.transition_agreement == 1.0
    # Under the matching, every transition probability is the true one (to float32 rounding of the predictions).
    order = np.argsort(extracted.matching)
    matched = extracted.machine.matrices[:, order][:, :, order]
    np.testing.assert_allclose(matched, extracted.true_machine.matrices, atol=1e-5)
    assert extracted.statistical_complexity == pytest.approx(extracted.true_statistical_complexity, abs=1e-6)
    np.testing.assert_array_equal(from_dot(to_dot(extracted.machine)).matrices, extracted.machine.matrices)


class TokenFrequencies(eqx.Module):
    """Predicts each token with its stationary frequency whatever came before: a one-state machine."""

    log_frequencies: jax.Array

    def __call__(self, tokens):
        return jnp.broadcast_to(self.log_frequencies, (*tokens.shape, self.log_frequencies.shape[0]))


def test_a_model_without_memory_implements_one_state_and_misses_the_others():
    process = build_hidden_markov_model("even_ones")
    frequencies = np.einsum("i,xij->x", process.presentation.initial_state, process.presentation.transition_matrices)
    extracted = extract_machine(TokenFrequencies(jnp.log(jnp.asarray(frequencies))), process, context_len=5, depth=2)
    assert len(extracted.machine.labels) == 1 and not extracted.recovered
    assert extracted.statistical_complexity == 0.0 and extracted.true_statistical_complexity > 0.6
    assert extracted.transition_agreement < 1.0 and extracted.excess_loss > 0.01


def test_contexts_and_continuations_beyond_the_limit_are_refused():
    process = build_hidden_markov_model("mess3")
    with pytest.raises(ValueError, match="context_len=12 and depth=3 ask for up to 3"):
        extract_machine(BeliefStateOracle(process), process, context_len=12, depth=3)
