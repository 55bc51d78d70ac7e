"""Tiny shared fixtures: a process and a model small enough to compile in a second, and a tiny run directory."""

from pathlib import Path

import pytest

from simplexity.generative_processes import HiddenMarkovModel, build_hidden_markov_model
from simplexity.predictive_models import RecurrentNetwork, build_gru_rnn
from tests.command_line import run_experiment


@pytest.fixture(scope="session")
def mess3() -> HiddenMarkovModel:
    return build_hidden_markov_model("mess3", x=0.15, a=0.6)


@pytest.fixture(scope="session")
def tiny_gru_rnn() -> RecurrentNetwork:
    return build_gru_rnn(vocab_size=3, embedding_size=4, num_layers=2, hidden_size=8, seed=0)


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory) -> Path:
    """A run directory of `run_experiment.py training=tiny`: 6 steps, checkpoints 2, 4 and 6 (read it, or copy it).

    Session-scoped, so the fault tests of several modules that start from it share one run per test process.
    """
    run_dir = tmp_path_factory.mktemp("tiny_run")
    result = run_experiment("training=tiny", f"hydra.run.dir={run_dir}")
    assert result.returncode == 0, result.stderr
    return run_dir


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Skips the tests marked `gpu` unless JAX's default backend is a GPU."""
    import jax

    if jax.default_backend() == "gpu":
        return
    skip_gpu = pytest.mark.skip(reason=f"needs an NVIDIA GPU; JAX's default backend is {jax.default_backend()!r}")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip_gpu)
