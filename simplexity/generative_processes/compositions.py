"""Processes made of other processes: nonergodic mixtures, and sequences framed by special tokens."""

from collections.abc import Sequence

import equinox as eqx
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, Int, PRNGKeyArray

from simplexity.generative_processes.generalized_hidden_markov_model import GeneralizedHiddenMarkovModel
from simplexity.generative_processes.hidden_markov_model import HiddenMarkovModel


def nonergodic_mixture(
    processes: Sequence[GeneralizedHiddenMarkovModel],
    weights: Sequence[float],
    vocab_maps: Sequence[Sequence[int]] | None = None,
) -> GeneralizedHiddenMarkovModel:
    """Returns the process that picks component `k` with probability `weights[k]` and then emits only from it.

    The result is block diagonal: its states are the components' states side by side. It is a
    `HiddenMarkovModel` when every component is one.

    Arguments:
        processes: the components.
        weights: probability of each component; non-negative, summing to 1.
        vocab_maps: `vocab_maps[k][t]` is the shared token that component `k`'s token `t` becomes; components
            share token ids when omitted. The mixture's vocabulary is `max(all maps) + 1`.

    Raises:
        ValueError: naming the bad argument.
    """
    weights_array = np.asarray(weights, dtype=np.float64)
    if len(processes) == 0 or weights_array.shape != (len(processes),):
        raise ValueError(f"weights={list(weights)} must give one weight per process ({len(processes)})")
    if np.any(weights_array < 0) or not np.isclose(weights_array.sum(), 1.0):
        raise ValueError(f"weights={list(weights)} must be non-negative and sum to 1")
    maps = [list(range(p.vocab_size)) for p in processes] if vocab_maps is None else [list(m) for m in vocab_maps]
    if len(maps) != len(processes) or any(len(m) != p.vocab_size for m, p in zip(maps, processes, strict=False)):
        raise ValueError(
            f"vocab_maps={maps} must map every token of each process (sizes {[p.vocab_size for p in processes]})"
        )
    if any(token < 0 for m in maps for token in m):
        raise ValueError(f"vocab_maps={maps} must hold non-negative token ids")
    vocab_size = max(token for m in maps for token in m) + 1
    sizes = [p.num_states for p in processes]
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    matrices = np.zeros((vocab_size, offsets[-1], offsets[-1]))
    initial, normalizer = np.zeros(offsets[-1]), np.zeros(offsets[-1])
    for k, (process, token_map) in enumerate(zip(processes, maps, strict=True)):
        block = slice(offsets[k], offsets[k + 1])
        for token, shared in enumerate(token_map):
            matrices[shared, block, block] += np.asarray(process.transition_matrices[token], dtype=np.float64)
        initial[block] = weights_array[k] * np.asarray(process.initial_state, dtype=np.float64)
        normalizer[block] = np.asarray(process.normalizing_eigenvector, dtype=np.float64)
    if all(isinstance(p, HiddenMarkovModel) for p in processes):
        return HiddenMarkovModel(matrices, initial_state=initial)
    return GeneralizedHiddenMarkovModel(matrices, initial_state=initial, normalizing_eigenvector=normalizer)


class SpecialTokenProcess(eqx.Module):
    """A process whose sequences begin with a beginning-of-sequence token and/or end with an end token.

    The special tokens take the ids after the process's own: BOS is `process.vocab_size`, EOS the next free id.
    A sampled sequence of `sequence_len` tokens holds `sequence_len - num_special_tokens` process tokens.

    Arguments:
        process: the process that emits the content tokens.
        bos: whether sequences start with BOS.
        eos: whether sequences end with EOS.
    """

    process: GeneralizedHiddenMarkovModel
    bos_token: int | None = eqx.field(static=True)
    eos_token: int | None = eqx.field(static=True)

    def __init__(self, process: GeneralizedHiddenMarkovModel, bos: bool = True, eos: bool = False):
        if not (bos or eos):
            raise ValueError("bos=False and eos=False: at least one special token is needed")
        self.process = process
        self.bos_token = process.vocab_size if bos else None
        self.eos_token = process.vocab_size + int(bos) if eos else None

    @property
    def num_special_tokens(self) -> int:
        """How many special tokens frame each sequence."""
        return int(self.bos_token is not None) + int(self.eos_token is not None)

    @property
    def vocab_size(self) -> int:
        """The process's tokens and the special tokens."""
        return self.process.vocab_size + self.num_special_tokens

    @property
    def num_states(self) -> int:
        """Dimension of the state vector (the process's)."""
        return self.process.num_states

    @property
    def initial_state(self) -> Float[Array, " states"]:
        """The process's initial state."""
        return self.process.initial_state

    def observation_probability_distribution(self, state: Float[Array, " states"]) -> Float[Array, " vocab"]:
        """Returns the process's next-token distribution, with probability 0 for the special tokens."""
        return jnp.pad(self.process.observation_probability_distribution(state), (0, self.num_special_tokens))

    def transition_states(self, state: Float[Array, " states"], obs: Int[Array, ""]) -> Float[Array, " states"]:
        """Returns the belief update for a content token; a special token leaves the state unchanged."""
        special = obs >= self.process.vocab_size
        updated = self.process.transition_states(state, jnp.minimum(obs, self.process.vocab_size - 1))
        return jnp.where(special, state, updated)

    def generate(
        self,
        states: Float[Array, "batch states"],
        keys: PRNGKeyArray,
        sequence_len: int,
        return_all_states: bool = False,
    ) -> tuple[Float[Array, "batch ..."], Int[Array, "batch seq"]]:
        """Samples sequences of `sequence_len` tokens, special tokens included.

        With `return_all_states`, the state at a BOS position is the starting state and at an EOS position
        the state after the last content token, so `states[:, t]` always conditions on `tokens[:, : t + 1]`.
        """
        content_len = sequence_len - self.num_special_tokens
        if content_len < 1:
            raise ValueError(f"sequence_len={sequence_len} leaves no room for content tokens")
        final, tokens = self.process.generate(states, keys, content_len, return_all_states)
        batch = tokens.shape[0]
        if self.bos_token is not None:
            tokens = jnp.concatenate([jnp.full((batch, 1), self.bos_token, tokens.dtype), tokens], axis=1)
            if return_all_states:
                final = jnp.concatenate([states[:, None, :], final], axis=1)
        if self.eos_token is not None:
            tokens = jnp.concatenate([tokens, jnp.full((batch, 1), self.eos_token, tokens.dtype)], axis=1)
            if return_all_states:
                final = jnp.concatenate([final, final[:, -1:, :]], axis=1)
        return final, tokens

    def log_probability(self, observations: Int[Array, " seq"]) -> Float[Array, ""]:
        """Returns the log probability of a framed sequence: the process's, of the tokens between the frames."""
        start = int(self.bos_token is not None)
        stop = observations.shape[0] - int(self.eos_token is not None)
        return self.process.log_probability(observations[start:stop])
