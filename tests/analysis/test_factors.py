"""The factored-representation analysis: targets against filters written here, and models built to be factored."""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from simplexity.analysis import belief_dataset
from simplexity.analysis.factors import (
    NotFactoredError,
    analyze_factors,
    dimensions,
    factor_targets,
    vary_one_tokens,
)
from simplexity.generative_processes import (
    ChainedProcess,
    FactoredProcess,
    NoisyChannel,
    SpecialTokenProcess,
    build_hidden_markov_model,
)
from simplexity.predictive_models import AbstractSiteModel


@pytest.fixture(scope="module")
def process() -> FactoredProcess:
    """mess3 (3 states, 3 tokens) beside the even process (2 states, 2 tokens): 6 joint tokens."""
    return FactoredProcess(
        [build_hidden_markov_model("mess3", x=0.15, a=0.6), build_hidden_markov_model("even_ones", p=0.4)]
    )


def filter_factor(presentation, tokens) -> np.ndarray:
    """A factor's belief after `tokens`, by the forward recursion of its own matrices."""
    belief = presentation.initial_state
    for token in tokens:
        belief = belief @ presentation.transition_matrices[token]
        belief = belief / belief.sum()
    return belief


def sub_tokens(word, sizes=(3, 2)):
    return [[token // sizes[1] for token in word], [token % sizes[1] for token in word]]


def test_targets_are_each_factors_belief_and_their_product(process):
    dataset = belief_dataset(process, 3)
    targets = factor_targets(process, dataset)
    assert set(targets) == {"factor_0", "factor_1", "factors", "joint"}
    for i in range(len(dataset)):
        word = dataset.tokens[i, : dataset.lengths[i]]
        expected = [filter_factor(f.presentation, t) for f, t in zip(process.factors, sub_tokens(word), strict=True)]
        np.testing.assert_allclose(targets["factor_0"][i], expected[0], atol=1e-12)
        np.testing.assert_allclose(targets["factor_1"][i], expected[1], atol=1e-12)
        np.testing.assert_allclose(targets["factors"][i], np.concatenate(expected), atol=1e-12)
        np.testing.assert_allclose(targets["joint"][i], np.kron(*expected), atol=1e-12)


def test_after_bos_the_targets_are_those_of_the_content(process):
    framed = SpecialTokenProcess(process, bos=True)
    dataset = belief_dataset(framed, 3)
    targets = factor_targets(framed, dataset)
    for i in range(len(dataset)):
        word = dataset.tokens[i, : dataset.lengths[i]]
        assert word[0] == framed.bos_token
        expected = [
            filter_factor(f.presentation, t) for f, t in zip(process.factors, sub_tokens(word[1:]), strict=True)
        ]
        np.testing.assert_allclose(targets["factor_0"][i], expected[0], atol=1e-12)
        np.testing.assert_allclose(targets["joint"][i], np.kron(*expected), atol=1e-12)


def test_through_noise_the_joint_target_is_the_bayes_belief_and_the_factors_are_noise_blind(process):
    epsilon = 0.2
    noisy = NoisyChannel(process, epsilon)
    dataset = belief_dataset(noisy, 2)
    targets = factor_targets(noisy, dataset)
    clean = np.array(
        [np.kron(a, b) for a, b in itertools.product(*(f.presentation.transition_matrices for f in process.factors))]
    )
    noisy_matrices = (1 - epsilon) * clean + epsilon / 6 * clean.sum(axis=0)
    start = np.kron(*(f.presentation.initial_state for f in process.factors))
    for i in range(len(dataset)):
        word = dataset.tokens[i, : dataset.lengths[i]]
        bayes = start
        for token in word:
            bayes = bayes @ noisy_matrices[token]
            bayes = bayes / bayes.sum()
        np.testing.assert_allclose(targets["joint"][i], bayes, atol=1e-12)
        blind = [filter_factor(f.presentation, t) for f, t in zip(process.factors, sub_tokens(word), strict=True)]
        np.testing.assert_allclose(targets["factors"][i], np.concatenate(blind), atol=1e-12)
    # With noise the Bayes belief is no longer the product of the noise-blind factor beliefs.
    products = np.array([np.kron(a, b) for a, b in zip(targets["factor_0"], targets["factor_1"], strict=True)])
    assert np.abs(products - targets["joint"]).max() > 0.05


def test_dimensions_count_the_components_that_hold_each_share():
    rng = np.random.default_rng(0)
    plane = np.linalg.qr(rng.normal(size=(5, 2)))[0].T  # two orthonormal directions of R^5
    coordinates = rng.normal(size=(4000, 2)) * [2.0, 1.0]  # variances 4 and 1: 80% and 20%
    points = coordinates @ plane
    counts = dimensions(points, np.ones(len(points)), (0.5, 0.9, 0.99))
    assert counts == {0.5: 1, 0.9: 2, 0.99: 2}


def test_vary_one_contexts_freeze_every_factor_but_one(process):
    framed = SpecialTokenProcess(process, bos=True)
    tokens = vary_one_tokens(framed, 1, 50, 6, jax.random.key(0))
    assert tokens.shape == (50, 6) and np.all(tokens[:, 0] == framed.bos_token)
    frozen, varying = process.factor_tokens(tokens[:, 1:])
    assert np.all(frozen == frozen[0]) and len({tuple(row) for row in varying}) > 10
    assert np.isfinite(process.log_probability(tokens[:, 1:])).all()


def test_a_process_without_factors_or_with_dependent_ones_is_named():
    mess3 = build_hidden_markov_model("mess3", x=0.15, a=0.6)
    with pytest.raises(NotFactoredError, match=r"mess3: a factored analysis needs a process of factors"):
        factor_targets(mess3, belief_dataset(mess3, 2))
    chain = ChainedProcess([[mess3], [mess3]])
    with pytest.raises(NotFactoredError, match=r"vary-one contexts need independent factors"):
        vary_one_tokens(chain, 0, 4, 3, jax.random.key(0))


class BeliefEmbedding(AbstractSiteModel):
    """A model whose one activation is the process's exact device state (factor beliefs side by side) times `E`."""

    process: FactoredProcess
    embedding: jax.Array

    def _states(self, tokens):
        def run(sequence):
            def step(state, token):
                state = self.process.transition_states(state, token)
                return state, state

            return jax.lax.scan(step, self.process.initial_state, sequence)[1]

        return jax.vmap(run)(tokens)

    @property
    def sites(self):
        return ("block_0",)

    @property
    def default_sites(self):
        return ("block_0",)

    def forward_with_hooks(self, tokens, hooks):
        hooks("block_0", self._states(tokens) @ self.embedding)
        distributions = jax.vmap(jax.vmap(self.process.observation_probability_distribution))(self._states(tokens))
        return jnp.log(distributions + 1e-30)


def orthogonal_embedding(width: int, seed: int) -> np.ndarray:
    """Factor 0's 3 states to 3 directions, factor 1's 2 to 2 others, all orthogonal, randomly rotated."""
    rotation = np.linalg.qr(np.random.default_rng(seed).normal(size=(width, width)))[0]
    return rotation[:5]


@pytest.fixture(scope="module")
def factored_geometry(process):
    dataset = belief_dataset(process, 4)
    model = BeliefEmbedding(process, jnp.asarray(orthogonal_embedding(8, 0), jnp.float32))
    mixing = np.random.default_rng(1).normal(size=(5, 3))  # five belief coordinates squeezed into three dimensions
    mixed = BeliefEmbedding(process, jnp.asarray(mixing, jnp.float32))
    # A small ridge: the activations span 3 of their 8 dimensions, and least squares would fit float32 rounding in
    # the other 5.
    return analyze_factors(model, process, dataset, untrained=mixed, ridge=1e-6, vary_one_sequences=64, max_k=2)


def test_orthogonal_factor_subspaces_give_zero_overlap_and_right_angles(factored_geometry):
    geometry = factored_geometry
    assert geometry.reference_dimensions["factored"] == 3  # (3 - 1) + (2 - 1)
    assert geometry.dimensions["block_0"][0.99] <= 3
    overlap = geometry.overlaps["block_0"][(0, 1)]
    assert overlap.shape == (1,) and overlap.max() < 1e-6  # the even process's beliefs move along one direction
    angles = geometry.coefficient_angles["block_0"][(0, 1)]
    assert angles.largest_cosine < 1e-4
    for target in ("factor_0", "factor_1", "factors"):
        assert geometry.probes[target]["block_0"].r2 > 0.99
    # The joint belief is the outer product of the factors': no affine image of them side by side.
    assert geometry.probes["joint"]["block_0"].r2 < 0.95
    summary = geometry.summary()
    assert summary["random_overlap"]["block_0"] == pytest.approx([1 / 8])
    assert summary["reference_dimensions"] == geometry.reference_dimensions


def test_squeezed_factor_subspaces_overlap(factored_geometry):
    assert factored_geometry.untrained_overlaps is not None
    assert factored_geometry.untrained_overlaps["block_0"][(0, 1)][0] > 0.05
    assert set(factored_geometry.summary()["untrained_probes"]) == {"factor_0", "factor_1", "factors", "joint"}
