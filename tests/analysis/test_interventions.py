"""The intervention analyses against a model whose use of the belief is known, and their pieces by hand."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.optimize import minimize

from simplexity.analysis import belief_dataset
from simplexity.analysis.belief_geometry import probe_split
from simplexity.analysis.interventions import analyze_interventions, project_to_beliefs
from simplexity.generative_processes import build_generalized_hidden_markov_model, build_hidden_markov_model
from simplexity.generative_processes.hidden_markov_model import HiddenMarkovModel
from simplexity.predictive_models import AbstractSiteModel

WIDTH = 7


class BeliefStream(AbstractSiteModel):
    """Writes the exact belief into a known subspace of its stream, plus a position code in other directions, and
    predicts from that subspace alone: `P(x | stream @ embedding.T)`."""

    process: HiddenMarkovModel
    embedding: jax.Array  # (states, WIDTH), orthonormal rows
    position_code: jax.Array  # (seq, WIDTH), orthogonal to the embedding's rows

    @property
    def sites(self):
        return ("stream",)

    @property
    def default_sites(self):
        return ("stream",)

    def forward_with_hooks(self, tokens, hooks):
        def beliefs(sequence):
            def step(state, token):
                state = self.process.transition_states(state, token)
                return state, state

            return jax.lax.scan(step, self.process.initial_state, sequence)[1]

        stream = jax.vmap(beliefs)(tokens) @ self.embedding + self.position_code[: tokens.shape[1]]
        read = hooks("stream", stream) @ self.embedding.T
        distributions = jax.vmap(jax.vmap(self.process.observation_probability_distribution))(read)
        return jnp.log(jnp.clip(distributions, 1e-30, None))


@pytest.fixture(scope="module")
def process():
    return build_hidden_markov_model("mess3", x=0.05, a=0.85)


@pytest.fixture(scope="module")
def dataset(process):
    return belief_dataset(process, 4)


@pytest.fixture(scope="module")
def known_model(process):
    basis = np.linalg.qr(np.random.default_rng(0).normal(size=(WIDTH, WIDTH)))[0].T
    position_code = np.random.default_rng(1).normal(size=(4, 4)) @ basis[3:]
    return BeliefStream(process, jnp.asarray(basis[:3], jnp.float32), jnp.asarray(position_code, jnp.float32))


@pytest.fixture(scope="module")
def analysis(known_model, dataset, process):
    # The ridge chosen by cross-validation keeps float32 rounding (variance ~1e-14 in the directions the stream
    # does not use) out of the probe's row space; least squares (ridge=0) would fit it.
    return analyze_interventions(known_model, dataset, process.presentation, num_pairs=64)


def kl(p, q):
    return np.sum(p * np.log(p / q), axis=-1)


def test_the_exact_beliefs_imply_no_excess_loss_and_the_model_has_none(analysis):
    site = analysis.sites["stream"]
    assert site.probe.r2 == pytest.approx(1.0, abs=1e-9)
    np.testing.assert_allclose(site.probe_implied_excess_loss, 0.0, atol=1e-9)
    np.testing.assert_allclose(analysis.model_excess_loss, 0.0, atol=1e-6)
    assert np.all(analysis.markov_implied_excess_loss[1:] > 1e-4)  # one token leaves mess3's belief uncertain


def test_patching_the_belief_subspace_reproduces_the_counterfactual(analysis):
    patch = analysis.sites["stream"].patch_kl
    assert patch["before"] > 0.05
    assert patch["probe"] < 1e-6  # the model now predicts exactly P(. | v)
    assert patch["random_direction"] > 0.1 * patch["before"]
    assert patch["markov_target"] > 1e-3  # the baseline's estimate of b(v) is not b(v)


def test_ablating_the_belief_subspace_costs_the_excess_loss_of_predicting_from_the_mean_belief(
    analysis, dataset, process
):
    site = analysis.sites["stream"]
    assert site.ablation_rank == 2  # beliefs of 3 states vary in 2 directions
    _, weights, _, test = probe_split(dataset, "probability", False, 0.2, 0)
    transition = process.presentation.transition_matrices
    expected = []
    for position in range(dataset.max_context_len):
        here = dataset.positions == position
        mean_belief = np.average(dataset.beliefs[here], axis=0, weights=weights[here])
        predicted = np.einsum("i,xij->x", mean_belief, transition)
        rows = test[dataset.positions[test] == position]
        losses = kl(dataset.next_token_probabilities[rows], predicted)
        expected.append(np.average(losses, weights=weights[rows]))
    np.testing.assert_allclose(site.ablation_excess_loss["probe_subspace"], expected, rtol=1e-4, atol=1e-7)
    # A random 2-dimensional subspace of the 7 mostly misses the belief's 2 directions.
    assert np.mean(site.ablation_excess_loss["random_subspace"]) < np.mean(expected)


def test_the_summary_names_the_best_site_and_is_plain_json(analysis):
    summary = analysis.summary()
    assert summary["best_site"] == "stream"
    assert summary["sites"]["stream"]["patching"]["kl_removed_probe"] > 0.999
    assert len(summary["sites"]["stream"]["ablation"]["excess_loss_probe_subspace_per_position"]) == 4


def test_projection_onto_the_simplex_is_the_nearest_distribution():
    process = build_hidden_markov_model("mess3", x=0.15, a=0.6)
    points = np.random.default_rng(2).normal(scale=0.7, size=(20, 3)) + 1 / 3
    projected = project_to_beliefs(points, process.presentation)
    for point, nearest in zip(points, projected, strict=True):
        result = minimize(
            lambda x, point=point: np.sum((x - point) ** 2),
            np.full(3, 1 / 3),
            constraints=[{"type": "eq", "fun": lambda x: x.sum() - 1}],
            bounds=[(0, None)] * 3,
            method="SLSQP",
            options={"ftol": 1e-14},
        )
        np.testing.assert_allclose(nearest, result.x, atol=1e-6)


def test_projection_for_a_generalized_model_lands_on_the_normalised_states_along_r():
    presentation = build_generalized_hidden_markov_model("fanizza", alpha=2000, lamb=0.49).presentation
    normalizer = presentation.normalizing_eigenvector
    points = np.random.default_rng(3).normal(size=(10, len(normalizer)))
    projected = project_to_beliefs(points, presentation)
    np.testing.assert_allclose(projected @ normalizer, 1.0, atol=1e-12)
    moves = points - projected
    np.testing.assert_allclose(
        moves - np.outer(moves @ normalizer, normalizer) / (normalizer @ normalizer), 0.0, atol=1e-12
    )
