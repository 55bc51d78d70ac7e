import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from simplexity.predictive_models import PredictiveModel, build_gru_rnn


def test_output_shape_and_protocol(tiny_gru_rnn):
    tokens = jnp.zeros((5, 7), dtype=jnp.int32)
    assert tiny_gru_rnn(tokens).shape == (5, 7, 3)
    assert isinstance(tiny_gru_rnn, PredictiveModel)


@pytest.mark.parametrize("position", [0, 3, 6])
def test_changing_a_token_changes_no_earlier_logit(tiny_gru_rnn, position):
    tokens = jax.random.randint(jax.random.key(0), (2, 7), 0, 3)
    changed = tokens.at[:, position].set((tokens[:, position] + 1) % 3)
    before, after = tiny_gru_rnn(tokens), tiny_gru_rnn(changed)
    np.testing.assert_array_equal(before[:, :position], after[:, :position])
    assert not np.allclose(before[:, position], after[:, position])


def test_same_seed_same_parameters_other_seed_other_parameters():
    def params(seed):
        model = build_gru_rnn(vocab_size=3, embedding_size=4, num_layers=2, hidden_size=8, seed=seed)
        return jax.tree.leaves(eqx.filter(model, eqx.is_array))

    first, again, other = params(0), params(0), params(1)
    assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))
    assert not any(np.array_equal(a, b) for a, b in zip(first, other, strict=True))


def test_every_parameter_receives_a_gradient(tiny_gru_rnn):
    tokens = jax.random.randint(jax.random.key(1), (2, 6), 0, 3)
    grads = eqx.filter_grad(lambda model: jnp.sum(model(tokens) ** 2))(tiny_gru_rnn)
    for leaf in jax.tree.leaves(grads):
        assert np.all(np.isfinite(leaf))
        assert np.any(leaf != 0)


@pytest.mark.parametrize("name", ["vocab_size", "embedding_size", "num_layers", "hidden_size"])
def test_builder_rejects_non_positive_sizes(name):
    sizes: dict[str, int] = {"vocab_size": 3, "embedding_size": 4, "num_layers": 1, "hidden_size": 8} | {name: 0}
    with pytest.raises(ValueError, match=f"{name}=0"):
        build_gru_rnn(sizes["vocab_size"], sizes["embedding_size"], sizes["num_layers"], sizes["hidden_size"], seed=0)
