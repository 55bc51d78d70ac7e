"""A process's linear presentation in float64: what every exact computation works from.

Sampling and training run in the training dtype (float32) on the device; probabilities, beliefs, entropies and
the validation optimum are computed on the host in float64 numpy from the matrices the process was built from,
whatever JAX's default dtype. Every belief is renormalised after every token, and sums of log-probabilities
are accumulated in float64.
"""

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

# A next-token probability computed below this is rounding of an exact 0 (generalized HMMs cancel entries).
ROUNDING_ZERO = 1e-13


@dataclass(frozen=True, eq=False)
class Presentation:
    """Matrices `T[x, i, j]`, the state sequences start in and the normalising vector `r`, all float64.

    The probability of a word `w` from the initial state `s` is `s @ T[w_1] @ ... @ T[w_n] @ r`, with `s @ r = 1`
    and `(sum_x T[x]) @ r = r`. For a hidden Markov model `r` is all ones and states are distributions over
    hidden states. Compared by identity, so that a process holding one stays hashable as static JAX data.

    Arguments:
        transition_matrices: `T`, shape `(vocab, states, states)`.
        initial_state: shape `(states,)`, normalised so that `initial_state @ r = 1`.
        normalizing_eigenvector: `r`, shape `(states,)`.
    """

    transition_matrices: np.ndarray
    initial_state: np.ndarray
    normalizing_eigenvector: np.ndarray

    @classmethod
    def of(
        cls, transition_matrices: np.ndarray, initial_state: np.ndarray, normalizing_eigenvector: np.ndarray
    ) -> "Presentation":
        """Returns the presentation of float64 copies of the arrays, with the initial state normalised."""
        matrices = np.array(transition_matrices, dtype=np.float64)
        normalizer = np.array(normalizing_eigenvector, dtype=np.float64)
        start = np.array(initial_state, dtype=np.float64)
        for array in (matrices, normalizer, start):
            array.flags.writeable = False
        return cls(matrices, start / (start @ normalizer), normalizer)

    @property
    def vocab_size(self) -> int:
        """Number of distinct tokens."""
        return self.transition_matrices.shape[0]

    @property
    def num_states(self) -> int:
        """Dimension of the state vector."""
        return self.transition_matrices.shape[1]

    @property
    def is_hidden_markov_model(self) -> bool:
        """Whether the matrices are non-negative and `r` is all ones: states are distributions over hidden states."""
        return bool(np.all(self.transition_matrices >= 0) and np.all(self.normalizing_eigenvector == 1.0))

    @property
    def is_unifilar(self) -> bool:
        """Whether this is a hidden Markov model in which a state and a token determine the next state."""
        return self.is_hidden_markov_model and bool(np.all((self.transition_matrices > 0).sum(axis=2) <= 1))

    def successors(self, beliefs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Returns `P(x | belief)`, shape `(n, vocab)`, and the belief after each `x`, shape `(n, vocab, states)`.

        Each row of probabilities is renormalised to sum to 1 and each successor to `successor @ r = 1`; a token
        of probability 0 (or of rounding below `ROUNDING_ZERO`) gets probability 0 and a successor of zeros.

        Arguments:
            beliefs: states normalised so that `belief @ r = 1`, shape `(n, states)`.
        """
        masses, possible, normalized = self._normalize(np.einsum("ni,xij->nxj", beliefs, self.transition_matrices))
        probabilities = np.where(possible, masses, 0.0)
        successors = np.where(possible[..., None], normalized, 0.0)
        return probabilities / probabilities.sum(axis=1, keepdims=True), successors

    def _normalize(self, unnormalized: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Returns the masses `v @ r` of unnormalised states, whether each is possible, and the states over their mass.

        A mass at most `ROUNDING_ZERO` is an impossible token; its state is returned divided by 1.
        """
        masses = unnormalized @ self.normalizing_eigenvector
        possible = masses > ROUNDING_ZERO
        return masses, possible, unnormalized / np.where(possible, masses, 1.0)[..., None]

    def filter(self, tokens: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Runs the forward (belief) filter along token sequences from the initial state.

        Arguments:
            tokens: integer tokens, shape `(..., seq)`.

        Returns:
            The beliefs after each prefix, `beliefs[..., t]` having seen `tokens[..., :t]`, shape
            `(..., seq + 1, states)`, and the log-probability of each token given the tokens before it, shape
            `(..., seq)`. After a token of probability 0 the log-probability is `-inf` and the belief is kept.
        """
        tokens = np.asarray(tokens)
        if not np.issubdtype(tokens.dtype, np.integer):
            raise ValueError(f"tokens must be integers, got dtype {tokens.dtype}")
        if tokens.size and (tokens.min() < 0 or tokens.max() >= self.vocab_size):
            raise ValueError(f"tokens must be in [0, {self.vocab_size}), got {tokens.min()}..{tokens.max()}")
        flat = tokens.reshape(-1, tokens.shape[-1])
        beliefs = np.empty((flat.shape[0], flat.shape[1] + 1, self.num_states))
        log_probabilities = np.empty(flat.shape, dtype=np.float64)
        belief = np.broadcast_to(self.initial_state, (flat.shape[0], self.num_states))
        beliefs[:, 0] = belief
        for position in range(flat.shape[1]):
            unnormalized = np.einsum("ni,nij->nj", belief, self.transition_matrices[flat[:, position]])
            masses, possible, normalized = self._normalize(unnormalized)
            belief = np.where(possible[:, None], normalized, belief)
            beliefs[:, position + 1] = belief
            log_probabilities[:, position] = np.where(possible, np.log(np.where(possible, masses, 1.0)), -np.inf)
        return (
            beliefs.reshape(*tokens.shape[:-1], flat.shape[1] + 1, self.num_states),
            log_probabilities.reshape(tokens.shape),
        )

    def log_probability(self, tokens: np.ndarray) -> np.ndarray:
        """Returns `log P(tokens)` from the initial state, shape `tokens.shape[:-1]` (`-inf` for an impossible word).

        The per-token log-probabilities are float64 and summed pairwise, so long samples keep their accuracy.
        """
        _, log_probabilities = self.filter(tokens)
        return np.sum(log_probabilities, axis=-1)

    def next_token_distributions(self, tokens: np.ndarray) -> np.ndarray:
        """Returns `P(x_{t+1} = x | tokens[..., : t + 1])` for every position `t`, shape `(..., seq, vocab)`."""
        beliefs, _ = self.filter(tokens)
        after = beliefs[..., 1:, :]
        probabilities, _ = self.successors(after.reshape(-1, self.num_states))
        return probabilities.reshape(*after.shape[:-1], self.vocab_size)


class DeferredPresentation:
    """A presentation built the first time it is asked for, then kept.

    For compositions whose presentation has the joint size (a product of factors has `prod(V_n)` tokens and
    `prod(d_n)` states): sampling and training never need it, so a process holding one costs nothing until an
    exact quantity of the whole process does. Compared by identity, like `Presentation`.

    Arguments:
        build: makes the presentation; called at most once.
    """

    def __init__(self, build: Callable[[], Presentation]):
        self._build: Callable[[], Presentation] | None = build
        self._presentation: Presentation | None = None

    def get(self) -> Presentation:
        """Returns the presentation, building it on the first call."""
        if self._presentation is None:
            assert self._build is not None
            self._presentation = self._build()
            self._build = None  # what it closed over is no longer needed
        return self._presentation

    @property
    def is_built(self) -> bool:
        """Whether the presentation has been built."""
        return self._presentation is not None
