import numpy as np
import pytest

from simplexity.generative_processes import build_hidden_markov_model
from simplexity.generative_processes.transition_matrices import mess3


def test_mess3_matches_its_definition():
    x, a = 0.15, 0.6
    b, y = (1 - a) / 2, 1 - 2 * x
    matrices = mess3(x, a)
    # T[k, i, j]: emission weight a if j == k else b, times y if i == j else x.
    assert matrices[0, 0, 0] == pytest.approx(a * y)
    assert matrices[0, 1, 0] == pytest.approx(a * x)
    assert matrices[0, 0, 1] == pytest.approx(b * x)
    assert matrices[0, 1, 1] == pytest.approx(b * y)
    assert matrices[2, 2, 2] == pytest.approx(a * y)
    np.testing.assert_allclose(matrices.sum(axis=(0, 2)), 1.0)


def test_builder_returns_the_registered_process():
    process = build_hidden_markov_model("mess3", x=0.15, a=0.6)
    np.testing.assert_allclose(process.transition_matrices, mess3(0.15, 0.6), rtol=1e-6)
    np.testing.assert_allclose(process.initial_state, [1 / 3] * 3, atol=1e-6)


def test_unknown_process_lists_the_registered_ones():
    with pytest.raises(ValueError, match=r"process_name='nope'.*allowed: .*mess3"):
        build_hidden_markov_model("nope")


@pytest.mark.parametrize(("params", "message"), [({"x": 0.7}, "x=0.7"), ({"a": -1.0}, "a=-1.0"), ({"z": 1.0}, "z")])
def test_bad_parameters_are_named(params, message):
    with pytest.raises(ValueError, match=message):
        build_hidden_markov_model("mess3", **params)
