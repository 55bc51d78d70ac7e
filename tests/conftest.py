"""Tiny shared fixtures: a process and a model small enough to compile in a second."""

import pytest

from simplexity.generative_processes import HiddenMarkovModel, build_hidden_markov_model
from simplexity.predictive_models import RecurrentNetwork, build_gru_rnn


@pytest.fixture(scope="session")
def mess3() -> HiddenMarkovModel:
    return build_hidden_markov_model("mess3", x=0.15, a=0.6)


@pytest.fixture(scope="session")
def tiny_gru_rnn() -> RecurrentNetwork:
    return build_gru_rnn(vocab_size=3, embedding_size=4, num_layers=2, hidden_size=8, seed=0)
