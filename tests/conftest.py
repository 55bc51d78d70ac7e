"""Tiny shared fixtures: a process and a model small enough to compile in a second, and a tiny run directory.

The suite shares one persistent JAX compilation cache, fresh for each session: every test process and every
command a test runs in a subprocess (they inherit the environment) compiles a function once and loads it from the
cache after that. The suite's commands mostly train the same tiny models, so most of their compiles are shared.
"""

import os
import shutil
import tempfile
from pathlib import Path

import jax
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


COMPILATION_CACHE_DIR = pytest.StashKey[str]()


def compilation_cache_settings(cache_dir: str) -> dict[str, str | int | float]:
    """The JAX settings of the session's compilation cache in `cache_dir`."""
    return {
        "jax_compilation_cache_dir": cache_dir,
        "jax_persistent_cache_min_compile_time_secs": 0.0,  # cache every compile, however quick
        "jax_persistent_cache_min_entry_size_bytes": -1,
        # A bounded cache reads and writes its entries under a file lock: the test processes and their commands use
        # the cache at once, and none may read an entry that another is still writing.
        "jax_compilation_cache_max_size": 8 * 2**30,
    }


def pytest_configure(config: pytest.Config) -> None:
    """Creates the session's compilation cache and points this process and every process it starts at it.

    An xdist worker inherits the controller's environment, and JAX reads the settings from it on import; so only
    the controller (or a run without workers) creates the folder.
    """
    if hasattr(config, "workerinput"):
        return
    cache_dir = tempfile.mkdtemp(prefix="simplexity-tests-jax-cache-")
    config.stash[COMPILATION_CACHE_DIR] = cache_dir
    for name, value in compilation_cache_settings(cache_dir).items():
        os.environ[name.upper()] = str(value)
        jax.config.update(name, value)  # this process imported JAX before the hook ran


def pytest_unconfigure(config: pytest.Config) -> None:
    """Removes the session's compilation cache."""
    cache_dir = config.stash.get(COMPILATION_CACHE_DIR, None)
    if cache_dir is not None:
        shutil.rmtree(cache_dir, ignore_errors=True)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Skips the tests marked `gpu` unless JAX's default backend is a GPU."""
    if jax.default_backend() == "gpu":
        return
    skip_gpu = pytest.mark.skip(reason=f"needs an NVIDIA GPU; JAX's default backend is {jax.default_backend()!r}")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip_gpu)
