"""Training batches drawn from a generative process."""

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Int, PRNGKeyArray

from simplexity.generative_processes import GenerativeProcess


@eqx.filter_jit
def sample_sequences(
    process: GenerativeProcess, key: PRNGKeyArray, batch_size: int, sequence_len: int
) -> Int[Array, "batch seq"]:
    """Returns `batch_size` independent token sequences, each started from the process's initial state.

    Compiled once per process structure and sizes (the process's arrays and the key are arguments), so that a
    batch drawn outside a compiled function is one program, not one per operation; inside one it is inlined.

    Arguments:
        process: the generative process.
        key: PRNG key; the batch is a pure function of it.
        batch_size: number of sequences.
        sequence_len: tokens per sequence.
    """
    states = jnp.broadcast_to(process.initial_state, (batch_size, process.num_states))
    _, tokens = process.generate(states, jax.random.split(key, batch_size), sequence_len)
    return tokens
