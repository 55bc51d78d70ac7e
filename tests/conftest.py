"""Tiny shared fixtures: a process and a model small enough to compile in a second, and a tiny run directory.

Every test process and every command the tests run in a subprocess share one persistent JAX compilation cache: a
program is compiled once and loaded from the cache wherever it is compiled again. Training compiles the same
programs over and over (the process and the seed are arguments of the compiled chunk, not constants), in the
test processes and in the commands alike. The commands cache every compile; the test processes cache only those
that take `TEST_PROCESS_MIN_COMPILE_SECONDS` or more, because a test that runs operations one by one compiles
thousands of tiny functions, which cost less to compile than to cache. The cache is fresh for each session, or
the folder `SIMPLEXITY_TEST_COMPILATION_CACHE` names (`scripts/test.sh` runs both of its stacks on one).

On a machine without JAX's CUDA plugin, the tests and their commands compile with XLA's backend optimizations off
(`jax_disable_most_optimizations`, unless `JAX_DISABLE_MOST_OPTIMIZATIONS` is set): the programs they run are
tiny, and compiling them optimized costs more than it saves. The program XLA runs is the same (its graph
optimizations stay on); the machine code is less optimized, so the last bits of a float32 result may differ from
an optimized compile's. A test that runs a long program compiles it inside `tests.compilation.optimized_compiles()`.
"""

import importlib.util
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


OWNED_COMPILATION_CACHE_DIR = pytest.StashKey[str]()

# A test process caches the compiles that take at least this long (a command caches every compile).
TEST_PROCESS_MIN_COMPILE_SECONDS = 0.5
COMPILATION_CACHE_MAX_BYTES = 8 * 2**30


def compilation_cache_environment(cache_dir: str) -> dict[str, str]:
    """The environment variables that point JAX at the compilation cache in `cache_dir`."""
    return {
        "JAX_COMPILATION_CACHE_DIR": cache_dir,
        "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0",  # cache every compile, however quick
        "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES": "-1",
        # A bounded cache reads and writes its entries under a file lock: commands run at once share the cache,
        # and none may read an entry that another is still writing.
        "JAX_COMPILATION_CACHE_MAX_SIZE": str(COMPILATION_CACHE_MAX_BYTES),
    }


def pytest_configure(config: pytest.Config) -> None:
    """Points this process and the commands the tests run at the session's compilation cache.

    An xdist worker inherits the controller's environment, so only the controller (or a run without workers)
    chooses the folder: `SIMPLEXITY_TEST_COMPILATION_CACHE`, or else a temporary one it removes at the end. Every
    test process has imported JAX by now; it sets the cache for itself before it compiles anything.
    """
    if not hasattr(config, "workerinput"):
        cache_dir = os.environ.get("SIMPLEXITY_TEST_COMPILATION_CACHE")
        if not cache_dir:
            cache_dir = tempfile.mkdtemp(prefix="simplexity-tests-jax-cache-")
            config.stash[OWNED_COMPILATION_CACHE_DIR] = cache_dir
        os.environ.update(compilation_cache_environment(cache_dir))
        if importlib.util.find_spec("jax_cuda12_plugin") is None:
            os.environ.setdefault("JAX_DISABLE_MOST_OPTIMIZATIONS", "1")  # `=0` in the environment keeps them on
    jax.config.update("jax_disable_most_optimizations", os.environ.get("JAX_DISABLE_MOST_OPTIMIZATIONS") == "1")
    jax.config.update("jax_compilation_cache_dir", os.environ["JAX_COMPILATION_CACHE_DIR"])
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", -1)
    jax.config.update("jax_compilation_cache_max_size", COMPILATION_CACHE_MAX_BYTES)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", TEST_PROCESS_MIN_COMPILE_SECONDS)


def pytest_unconfigure(config: pytest.Config) -> None:
    """Removes the session's compilation cache if the session made it."""
    cache_dir = config.stash.get(OWNED_COMPILATION_CACHE_DIR, None)
    if cache_dir is not None:
        shutil.rmtree(cache_dir, ignore_errors=True)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Puts the files with end-to-end runs first, and skips the tests marked `gpu` unless JAX's backend is a GPU.

    xdist (`--dist loadfile`) hands whole files to the workers in this order: the long files (those with a test
    marked `slow`) start at once and the short ones fill in around them, so that the workers finish together.
    """
    slow_files = {item.path for item in items if item.get_closest_marker("slow")}
    items.sort(key=lambda item: item.path not in slow_files)  # stable: each file keeps its order
    if jax.default_backend() == "gpu":
        return
    skip_gpu = pytest.mark.skip(reason=f"needs an NVIDIA GPU; JAX's default backend is {jax.default_backend()!r}")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip_gpu)
