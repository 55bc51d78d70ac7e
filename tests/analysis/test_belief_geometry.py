import jax
import jax.numpy as jnp
import numpy as np
import pytest

from simplexity.analysis import CONCATENATED, analyze_model
from simplexity.generative_processes import HiddenMarkovModel, myopic_entropy
from simplexity.predictive_models import AbstractSiteModel, ActivationsUnavailableError


class BayesFilter(AbstractSiteModel):
    """The exact predictor: its only activation is the belief, its logits the log of the next-token distribution."""

    process: HiddenMarkovModel

    def _beliefs(self, tokens):
        def step(state, token):
            state = self.process.transition_states(state, token)
            return state, state

        return jax.lax.scan(step, self.process.initial_state, tokens)[1]

    @property
    def sites(self):
        return ("belief",)

    @property
    def default_sites(self):
        return ("belief",)

    def forward_with_hooks(self, tokens, hooks):
        beliefs = hooks("belief", jax.vmap(self._beliefs)(tokens))
        return jnp.log(jax.vmap(jax.vmap(self.process.observation_probability_distribution))(beliefs))


def test_the_exact_predictor_has_r2_one_and_loss_equal_to_myopic_entropy(mess3):
    geometry = analyze_model(BayesFilter(mess3), mess3, 5, batch_size=64)
    assert geometry.probes["belief"].r2 == pytest.approx(1.0, abs=1e-6)
    np.testing.assert_allclose(geometry.predictions["belief"], geometry.dataset.beliefs, atol=1e-5)
    np.testing.assert_allclose(geometry.model_losses, geometry.myopic_entropies, atol=1e-5)
    np.testing.assert_allclose(geometry.myopic_entropies, myopic_entropy(mess3, 6)[1:], atol=1e-12)


class TokenFrequencies(AbstractSiteModel):
    """Predicts every token with its stationary frequency, whatever came before; its one site is the embedding."""

    log_frequencies: jax.Array
    embedding: jax.Array

    @property
    def sites(self):
        return ("embed",)

    @property
    def default_sites(self):
        return ("embed",)

    def forward_with_hooks(self, tokens, hooks):
        hooks("embed", self.embedding[tokens])
        return jnp.broadcast_to(self.log_frequencies, (*tokens.shape, self.log_frequencies.shape[0]))


def test_predictable_information_captured_is_one_for_the_exact_predictor_and_zero_for_token_frequencies(mess3):
    assert analyze_model(BayesFilter(mess3), mess3, 5, batch_size=64).predictable_information_captured == (
        pytest.approx(1.0, abs=1e-4)
    )
    frequencies = np.einsum("i,xij->x", mess3.presentation.initial_state, mess3.presentation.transition_matrices)
    model = TokenFrequencies(jnp.log(jnp.asarray(frequencies, jnp.float32)), jnp.eye(3))
    geometry = analyze_model(model, mess3, 5, batch_size=64)
    # By hand: the loss of predicting the frequencies is h(1) at every position, so nothing is captured.
    np.testing.assert_allclose(geometry.model_losses, myopic_entropy(mess3, 1)[0], atol=1e-6)
    assert geometry.predictable_information_captured == pytest.approx(0.0, abs=1e-4)
    summary = geometry.summary()["position_loss"]
    assert summary["predictable_information_captured"] == geometry.predictable_information_captured
    assert summary["predictable_information_error_bound"] == 0.0  # every context of every length enumerated
    pruned = analyze_model(model, mess3, 5, batch_size=64, min_probability=0.01)
    assert pruned.predictable_information_error_bound is None


def test_every_activation_and_their_concatenation_is_probed(mess3, tiny_gru_rnn):
    geometry = analyze_model(tiny_gru_rnn, mess3, 4, batch_size=50)
    assert list(geometry.probes) == ["embed", "layer_0.hidden", "layer_1.hidden", CONCATENATED]
    assert geometry.predictions[CONCATENATED].shape == (len(geometry.dataset), 3)
    assert len(geometry.test) + len(geometry.train) == len(geometry.dataset)
    # Cross-entropy is never below entropy.
    assert np.all(geometry.model_losses >= geometry.myopic_entropies - 1e-6)
    summary = geometry.summary()
    assert {"r2", "rmse", "train_r2", "rmse_over_best_markov", "per_position"} <= set(
        summary["regression"][CONCATENATED]
    )
    assert len(summary["position_loss"]["model"]) == 4


def test_concatenated_probe_is_at_least_as_good_on_training_contexts(mess3, tiny_gru_rnn):
    geometry = analyze_model(tiny_gru_rnn, mess3, 4)
    best_single = max(probe.train_r2 for name, probe in geometry.probes.items() if name != CONCATENATED)
    assert geometry.probes[CONCATENATED].train_r2 >= best_single - 1e-9


def test_a_model_without_activations_is_refused_before_running(mess3):
    def uniform(tokens):
        return jnp.zeros((*tokens.shape, 3))

    with pytest.raises(ActivationsUnavailableError, match="has no named activation sites"):
        analyze_model(uniform, mess3, 3)  # pyright: ignore[reportArgumentType]
