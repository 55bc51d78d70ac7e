"""Compiling a test's long-running programs with XLA's backend optimizations on (tests/conftest.py turns them off)."""

import contextlib
from collections.abc import Iterator

import jax


@contextlib.contextmanager
def optimized_compiles() -> Iterator[None]:
    """Compiles with XLA's backend optimizations on inside the block, for programs that run long enough to gain.

    A function compiled before the block keeps its machine code: JAX caches compiled programs in memory.
    """
    disabled = jax.config.values["jax_disable_most_optimizations"]
    jax.config.update("jax_disable_most_optimizations", False)
    try:
        yield
    finally:
        jax.config.update("jax_disable_most_optimizations", disabled)
