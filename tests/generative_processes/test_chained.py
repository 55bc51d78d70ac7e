"""Chained factors, against a forward filter over the joint hidden states written here."""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from simplexity.generative_processes import (
    ChainedProcess,
    build_hidden_markov_model,
    myopic_entropy,
)

# Factor 0 emits 0/1; its token picks one of two mess3 variants for factor 1, whose token picks one of three even
# processes for factor 2: 12 joint tokens, 12 joint states.
FACTORS = [
    [("no_consecutive_ones", {"p": 0.4})],
    [("mess3", {"x": 0.15, "a": 0.6}), ("mess3", {"x": 0.05, "a": 0.85})],
    [("even_ones", {"p": 0.3}), ("even_ones", {"p": 0.5}), ("even_ones", {"p": 0.8})],
]


@pytest.fixture(scope="module")
def chain() -> ChainedProcess:
    return ChainedProcess(
        [[build_hidden_markov_model(name, **params) for name, params in variants] for variants in FACTORS]
    )


def factor_matrices(chain):
    """For each factor, its variants' matrices `T[v][x, i, j]` in float64."""
    return [[v.presentation.transition_matrices for v in variants] for variants in chain.factors]


def joint_by_loops(chain):
    """The chain's joint matrices over (state tuples, token tuples), built entry by entry from the definition."""
    matrices = factor_matrices(chain)
    vocab = [m[0].shape[0] for m in matrices]
    states = [m[0].shape[1] for m in matrices]
    token_tuples = list(itertools.product(*(range(v) for v in vocab)))
    state_tuples = list(itertools.product(*(range(d) for d in states)))
    joint = np.zeros((len(token_tuples), len(state_tuples), len(state_tuples)))
    for x, tokens in enumerate(token_tuples):
        for i, here in enumerate(state_tuples):
            for j, there in enumerate(state_tuples):
                value = 1.0
                for n, variants in enumerate(matrices):
                    variant = variants[tokens[n - 1]] if n and len(variants) > 1 else variants[0]
                    value *= variant[tokens[n], here[n], there[n]]
                joint[x, i, j] = value
    start = np.array(
        [np.prod([chain.factors[n][0].presentation.initial_state[s] for n, s in enumerate(t)]) for t in state_tuples]
    )
    return joint, start, state_tuples


def forward(joint, start, word):
    """The unnormalised joint-state vector after `word`."""
    vector = start
    for token in word:
        vector = vector @ joint[token]
    return vector


def test_word_probabilities_match_the_forward_filter(chain):
    joint, start, _ = joint_by_loops(chain)
    words = np.array(list(itertools.product(range(12), repeat=3)))
    brute = np.array([forward(joint, start, w).sum() for w in words])
    assert brute.sum() == pytest.approx(1.0, abs=1e-12)
    assert np.allclose(np.exp(chain.log_probability(words)), brute, rtol=1e-12, atol=1e-15)
    presentation = chain.presentation
    from_presentation = np.array(
        [forward(presentation.transition_matrices, presentation.initial_state, w).sum() for w in words]
    )
    assert np.allclose(from_presentation, brute, rtol=1e-12, atol=1e-15)


def test_next_token_distributions_and_beliefs_match_the_forward_filter(chain):
    joint, start, state_tuples = joint_by_loops(chain)
    rng = np.random.default_rng(0)
    words = np.array([w for w in rng.integers(0, 12, size=(200, 4)) if forward(joint, start, w).sum() > 0][:20])
    assert len(words) == 20
    distributions = chain.next_token_distributions(words)
    beliefs = chain.factor_beliefs(words)
    for w, word in enumerate(words):
        for t in range(len(word)):
            vector = forward(joint, start, word[: t + 1])
            expected = np.array([(vector @ joint[x]).sum() for x in range(12)]) / vector.sum()
            np.testing.assert_allclose(distributions[w, t], expected, rtol=1e-12, atol=1e-15)
            joint_belief = vector / vector.sum()
            # Each factor's belief is the marginal of the joint belief, and the joint belief is their product.
            product = np.ones(len(state_tuples))
            for n, belief in enumerate(beliefs):
                marginal = np.zeros(belief.shape[-1])
                for k, states in enumerate(state_tuples):
                    marginal[states[n]] += joint_belief[k]
                np.testing.assert_allclose(belief[w, t + 1], marginal, rtol=1e-12, atol=1e-15)
                product = product * np.array([belief[w, t + 1][states[n]] for states in state_tuples])
            np.testing.assert_allclose(product, joint_belief, rtol=1e-12, atol=1e-15)


def test_the_tokens_of_the_factors_depend_on_each_other(chain):
    """The joint next-token distribution is not the product of the factors' marginals."""
    distribution = chain.next_token_distributions(np.array([[0]]))[0, 0].reshape(2, 3, 2)
    marginals = [distribution.sum(axis=tuple(a for a in range(3) if a != n)) for n in range(3)]
    product = np.einsum("a,b,c->abc", *marginals)
    assert np.abs(distribution - product).max() > 0.01


def test_myopic_entropies_match_word_enumeration(chain):
    joint, start, _ = joint_by_loops(chain)
    blocks = [0.0]
    for length in (1, 2):
        probabilities = np.array([forward(joint, start, w).sum() for w in itertools.product(range(12), repeat=length)])
        probabilities = probabilities[probabilities > 0]
        blocks.append(float(-(probabilities * np.log(probabilities)).sum()))
    np.testing.assert_allclose(myopic_entropy(chain, 2), np.diff(blocks), rtol=0, atol=1e-12)


def test_the_device_side_samples_and_tracks_the_exact_beliefs(chain):
    keys = jax.random.split(jax.random.key(0), 4000)
    states = jnp.broadcast_to(chain.initial_state, (4000, chain.num_states))
    all_states, tokens = chain.generate(states, keys, 5, return_all_states=True)
    tokens = np.asarray(tokens)
    assert all_states.shape == (4000, 5, chain.num_states) and tokens.shape == (4000, 5)
    assert np.isfinite(chain.log_probability(tokens)).all()  # only possible words are drawn
    exact = np.concatenate([b[:, 1:] for b in chain.factor_beliefs(tokens)], axis=-1)
    np.testing.assert_allclose(np.asarray(all_states), exact, atol=1e-5)
    first = np.bincount(tokens[:, 0], minlength=12) / 4000
    expected = np.asarray(chain.observation_probability_distribution(chain.initial_state))
    joint, start, _ = joint_by_loops(chain)
    np.testing.assert_allclose(expected, [(start @ joint[x]).sum() for x in range(12)], atol=1e-6)
    assert np.abs(first - expected).max() < 0.03  # 4,000 draws: a standard error of at most 0.008
    step = jax.jit(lambda state, token: chain.transition_states(state, token))
    state = chain.initial_state
    for token in tokens[0]:
        distribution = np.asarray(chain.observation_probability_distribution(state))
        state = step(state, jnp.asarray(token))
        assert distribution[token] > 0
    np.testing.assert_allclose(np.asarray(state), exact[0, -1], atol=1e-5)


def test_variants_that_do_not_fit_the_chain_are_refused():
    mess3 = build_hidden_markov_model("mess3", x=0.15, a=0.6)
    even = build_hidden_markov_model("even_ones", p=0.5)
    with pytest.raises(ValueError, match=r"factors\[1\]: 2 variants; one, or one per token of factors\[0\] \(3\)"):
        ChainedProcess([[mess3], [even, even]])
    with pytest.raises(ValueError, match=r"factors\[1\]\[1\]: every variant of a factor needs the vocabulary"):
        ChainedProcess([[even], [mess3, even]])
    with pytest.raises(ValueError, match=r"factors\[0\]: the first factor has no factor before it"):
        ChainedProcess([[mess3, mess3], [even]])
