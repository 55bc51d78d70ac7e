"""Processes made of other processes: nonergodic mixtures, and sequences framed by special tokens."""

from collections.abc import Sequence

import equinox as eqx
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float, Int, PRNGKeyArray

from simplexity.generative_processes.generalized_hidden_markov_model import (
    AbstractGeneralizedHiddenMarkovModel,
    GeneralizedHiddenMarkovModel,
)
from simplexity.generative_processes.generative_process import GenerativeProcess
from simplexity.generative_processes.hidden_markov_model import HiddenMarkovModel
from simplexity.generative_processes.presentation import DeferredPresentation, Presentation


def nonergodic_mixture(
    processes: Sequence[AbstractGeneralizedHiddenMarkovModel],
    weights: Sequence[float],
    vocab_maps: Sequence[Sequence[int]] | None = None,
) -> AbstractGeneralizedHiddenMarkovModel:
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
        presentation = process.presentation
        for token, shared in enumerate(token_map):
            matrices[shared, block, block] += presentation.transition_matrices[token]
        initial[block] = weights_array[k] * presentation.initial_state
        normalizer[block] = presentation.normalizing_eigenvector
    name = "mixture(" + ", ".join(p.name for p in processes) + ")"
    if all(isinstance(p, HiddenMarkovModel) for p in processes):
        return HiddenMarkovModel(matrices, initial_state=initial, name=name)
    return GeneralizedHiddenMarkovModel(matrices, initial_state=initial, normalizing_eigenvector=normalizer, name=name)


def _framed_presentation(inner: Presentation, bos: bool, num_special_tokens: int) -> Presentation:
    """Returns the presentation of `inner`'s tokens preceded by BOS, with zero-probability special tokens.

    With BOS, one state is added before the inner ones: the start, from which BOS (certain) moves to the inner
    initial state; BOS has probability 0 everywhere else. So `h(1) = 0` and `h(L) = h_inner(L - 1)`. EOS, which
    ends a sequence of a chosen length, is not a token of the infinite process: it has probability 0 here.
    """
    vocab, states = inner.vocab_size, inner.num_states
    extra = int(bos)
    matrices = np.zeros((vocab + num_special_tokens, states + extra, states + extra))
    matrices[:vocab, extra:, extra:] = inner.transition_matrices
    normalizer = np.concatenate([np.ones(extra), inner.normalizing_eigenvector])
    initial = np.concatenate([np.ones(extra), np.zeros(states)]) if bos else inner.initial_state
    if bos:
        matrices[vocab, 0, extra:] = inner.initial_state
    return Presentation.of(matrices, initial, normalizer)


def content_process(process: GenerativeProcess) -> GenerativeProcess:
    """Returns the process whose tokens `process`'s sequences carry: the framed one for a `SpecialTokenProcess`.

    The quantities of a whole process (entropy rate, excess entropy, transient information, statistical
    complexity, crypticity, synchronization information, Markov and cryptic orders) of a framed process are
    those of the process it frames: BOS is a marker every sequence starts with, certain and carrying no
    information, and EOS has probability 0 in the infinite process. The quantities of each position (myopic and
    block entropies, state uncertainty) keep the framing, as a model sees it: `h(1) = 0` for BOS.
    """
    while isinstance(process, SpecialTokenProcess):
        process = process.process
    return process


class SpecialTokenProcess(GenerativeProcess):
    """A process whose sequences begin with a beginning-of-sequence token and/or end with an end token.

    The special tokens take the ids after the process's own: BOS is `process.vocab_size`, EOS the next free id.
    A sampled sequence of `sequence_len` tokens holds `sequence_len - num_special_tokens` process tokens.
    The information quantities of the whole process are those of `process` (`content_process`); those of each
    position count the special tokens.

    Arguments:
        process: the process that emits the content tokens.
        bos: whether sequences start with BOS.
        eos: whether sequences end with EOS.
    """

    process: GenerativeProcess
    bos_token: int | None = eqx.field(static=True)
    eos_token: int | None = eqx.field(static=True)
    initial_state: Float[Array, " states"]
    framed_presentation: DeferredPresentation = eqx.field(static=True, repr=False)
    name: str = eqx.field(static=True)

    def __init__(self, process: GenerativeProcess, bos: bool = True, eos: bool = False):
        if not (bos or eos):
            raise ValueError("bos=False and eos=False: at least one special token is needed")
        self.process = process
        self.initial_state = process.initial_state  # the device state is the process's: BOS leaves it unchanged
        self.bos_token = process.vocab_size if bos else None
        self.eos_token = process.vocab_size + int(bos) if eos else None
        num_special_tokens = int(bos) + int(eos)
        self.framed_presentation = DeferredPresentation(
            lambda: _framed_presentation(process.presentation, bos, num_special_tokens)
        )
        self.name = process.name + ("+bos" if bos else "") + ("+eos" if eos else "")

    @property
    def presentation(self) -> Presentation:  # pyright: ignore[reportIncompatibleVariableOverride]
        """The presentation of the framed sequences (`_framed_presentation`), built on first use."""
        return self.framed_presentation.get()

    @property
    def vocab_size(self) -> int:
        """Number of distinct tokens: the process's and the special ones."""
        return self.process.vocab_size + self.num_special_tokens

    @property
    def num_special_tokens(self) -> int:
        """How many special tokens frame each sequence."""
        return int(self.bos_token is not None) + int(self.eos_token is not None)

    @property
    def num_states(self) -> int:
        """Dimension of the state vector (the process's)."""
        return self.process.num_states

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

    def _is_bos_then_content(self, tokens: np.ndarray) -> bool:
        """Whether every sequence of `tokens` is BOS and then content tokens, at least one."""
        return (
            self.bos_token is not None
            and tokens.shape[-1] > 1
            and bool(np.all(tokens[..., 0] == self.bos_token))
            and bool(np.all((tokens[..., 1:] >= 0) & (tokens[..., 1:] < self.process.vocab_size)))
        )

    def log_probability(self, observations: ArrayLike) -> np.ndarray:
        """Returns the float64 log probability of framed sequences, shape `observations.shape[:-1]`.

        A sequence that starts with BOS (where there is one) has the process's probability of the content tokens
        after it (computed by the process itself when every sequence is so); one without BOS, or with a special
        token among its content, has probability 0 (`-inf`). With EOS, the last token must be EOS.
        """
        tokens = np.asarray(observations)
        framed = tokens if self.eos_token is None else tokens[..., :-1]
        if self._is_bos_then_content(framed):
            log_probabilities = self.process.log_probability(framed[..., 1:])
        else:
            log_probabilities = self.presentation.log_probability(framed)
        if self.eos_token is None:
            return log_probabilities
        return np.where(tokens[..., -1] == self.eos_token, log_probabilities, -np.inf)

    def next_token_distributions(self, tokens: ArrayLike) -> np.ndarray:
        """Returns the exact `P(token t + 1 | tokens[..., : t + 1])` in float64, shape `(..., seq, vocab)`.

        The tokens are inputs of a framed sequence without its last token: with EOS, the target of the last
        position is EOS, with certainty. When every sequence is BOS and content tokens, the process predicts the
        content itself (a factored process factor by factor); otherwise the framed presentation does.
        """
        tokens = np.asarray(tokens)
        if self._is_bos_then_content(tokens):
            start = np.exp(self.process.log_probability(np.arange(self.process.vocab_size)[:, None]))
            first = np.broadcast_to(start, (*tokens.shape[:-1], 1, start.shape[-1]))
            content = np.concatenate([first, self.process.next_token_distributions(tokens[..., 1:])], axis=-2)
            distributions = np.zeros((*content.shape[:-1], self.vocab_size))
            distributions[..., : self.process.vocab_size] = content
        else:
            distributions = self.presentation.next_token_distributions(tokens)
        if self.eos_token is not None:
            distributions = distributions.copy()
            distributions[..., -1, :] = np.eye(self.vocab_size)[self.eos_token]
        return distributions
