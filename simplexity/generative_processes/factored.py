"""Products of independent processes: one token stream whose every token is the tuple of the factors' tokens."""

import abc
import functools
import math
from collections.abc import Sequence
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float, Int, PRNGKeyArray

from simplexity.generative_processes.generative_process import GenerativeProcess
from simplexity.generative_processes.presentation import DeferredPresentation, Presentation


def kronecker_presentation(presentations: Sequence[Presentation]) -> Presentation:
    """Returns the presentation of independent processes emitting side by side, tokens and states in radix order.

    The joint token of factor tokens `(t_0, ..., t_{n-1})` is `t_0 * V_1 * ... * V_{n-1} + ... + t_{n-1}` (the
    first factor most significant), and the joint states are ordered the same way, so that
    `T[joint token] = T_0[t_0] ⊗ ... ⊗ T_{n-1}[t_{n-1}]`, with the Kronecker products of the initial states and
    of the normalising vectors.
    """

    def combine(left: Presentation, right: Presentation) -> Presentation:
        matrices = np.einsum("aij,bkl->abikjl", left.transition_matrices, right.transition_matrices)
        vocab, states = left.vocab_size * right.vocab_size, left.num_states * right.num_states
        return Presentation.of(
            matrices.reshape(vocab, states, states),
            np.kron(left.initial_state, right.initial_state),
            np.kron(left.normalizing_eigenvector, right.normalizing_eigenvector),
        )

    return functools.reduce(combine, presentations)


def _outer_products(distributions: Sequence[Any]) -> Any:
    """Returns the joint distribution of independent factors (numpy or JAX arrays) over the last axis, radix order."""

    def combine(left, right):
        joint = left[..., :, None] * right[..., None, :]
        return joint.reshape(*joint.shape[:-2], joint.shape[-2] * joint.shape[-1])

    return functools.reduce(combine, distributions)


def _place_values(vocab_sizes: Sequence[int]) -> list[int]:
    """The weight of each factor's token in the joint token (radix order, first factor most significant)."""
    return [int(np.prod(vocab_sizes[n + 1 :], dtype=np.int64)) for n in range(len(vocab_sizes))]


def split_joint_tokens(tokens: ArrayLike, vocab_sizes: Sequence[int]) -> list[Any]:
    """Returns each factor's tokens of joint tokens in radix order (first factor most significant).

    Works on the device (JAX arrays, traceable) and on the host (numpy arrays) alike.

    Example:
        >>> split_joint_tokens(np.array([5]), [3, 2])
        [array([2]), array([1])]
    """
    xp = jnp if isinstance(tokens, jax.Array) else np
    tokens = xp.asarray(tokens)
    return [(tokens // place) % size for place, size in zip(_place_values(vocab_sizes), vocab_sizes, strict=True)]


def join_factor_tokens(factor_tokens: Sequence[Any], vocab_sizes: Sequence[int]) -> Any:
    """Returns the joint tokens, radix order, of the factors' tokens (one array per factor, all of one shape)."""
    xp = jnp if any(isinstance(t, jax.Array) for t in factor_tokens) else np
    return sum(xp.asarray(t) * place for t, place in zip(factor_tokens, _place_values(vocab_sizes), strict=True))


class SideBySideFactors(GenerativeProcess):
    """A process whose token is the tuple of its factors' tokens and whose device state is theirs side by side.

    The joint token is in radix order, the first factor most significant (`joint_tokens`, `factor_tokens`);
    subclasses say how the factors emit.
    """

    @property
    @abc.abstractmethod
    def factor_vocab_sizes(self) -> tuple[int, ...]:
        """Each factor's number of tokens."""

    @property
    @abc.abstractmethod
    def factor_num_states(self) -> tuple[int, ...]:
        """Each factor's state dimension; the device state holds them side by side in this order."""

    @abc.abstractmethod
    def factor_beliefs(self, tokens: ArrayLike) -> list[np.ndarray]:
        """Returns each factor's exact float64 belief after every prefix of joint tokens, `(..., seq + 1, d_n)`."""

    @property
    def num_states(self) -> int:
        """Dimension of the device state: the factors' states side by side."""
        return sum(self.factor_num_states)

    @property
    def vocab_size(self) -> int:
        """Number of joint tokens: the product of the factors' (read without building the joint presentation)."""
        return math.prod(self.factor_vocab_sizes)

    def factor_tokens(self, tokens: ArrayLike) -> list[Any]:
        """Returns each factor's tokens of joint tokens, a list of arrays of the shape of `tokens`.

        Works on the device (JAX arrays, traceable) and on the host (numpy arrays) alike.
        """
        return split_joint_tokens(tokens, self.factor_vocab_sizes)

    def joint_tokens(self, factor_tokens: Sequence[Any]) -> Any:
        """Returns the joint tokens of the factors' tokens (one array per factor, all of one shape)."""
        return join_factor_tokens(factor_tokens, self.factor_vocab_sizes)

    def factor_states(self, state: Float[Array, "... states"]) -> list[Float[Array, "... factor_states"]]:
        """Splits device states (the factors' side by side on the last axis) into each factor's."""
        bounds = np.cumsum(self.factor_num_states)[:-1].tolist()
        return jnp.split(state, bounds, axis=-1)


class FactoredProcess(SideBySideFactors):
    """Independent processes (factors) emitting side by side, as one process over the tuples of their tokens.

    At each step every factor emits one token from its own hidden dynamics; the process's token is their tuple in
    radix order, the first factor most significant (`joint_tokens`, `factor_tokens`). On the device the state is
    the factors' states side by side (length `sum(d_n)`) and sampling runs factor by factor, so nothing of the
    joint size `prod(d_n)` is built there. On the host, next-token distributions (the outer product of the
    factors'), log-probabilities (their sum) and each factor's belief (`factor_beliefs`) are computed factor by
    factor in float64. `presentation` is the Kronecker product of the factors' presentations, of the joint size,
    built the first time something asks for it; the information quantities are computed factor by factor (they
    add over the factors), so training never builds it.

    Arguments:
        factors: the independent processes, at least two; each its own HMM or generalized HMM.
        name: names the process in messages; by default `factored(NAME, ...)`.
    """

    factors: tuple[GenerativeProcess, ...]
    initial_state: Float[Array, " states"]
    joint_presentation: DeferredPresentation = eqx.field(static=True, repr=False)
    name: str = eqx.field(static=True)

    def __init__(self, factors: Sequence[GenerativeProcess], name: str | None = None):
        if len(factors) < 2:
            raise ValueError(f"factors: a factored process needs at least two factors, got {len(factors)}")
        self.factors = tuple(factors)
        self.initial_state = jnp.concatenate([factor.initial_state for factor in self.factors])
        presentations = [factor.presentation for factor in self.factors]
        self.joint_presentation = DeferredPresentation(lambda: kronecker_presentation(presentations))
        self.name = name if name is not None else "factored(" + ", ".join(f.name for f in self.factors) + ")"

    @property
    def presentation(self) -> Presentation:  # pyright: ignore[reportIncompatibleVariableOverride]
        """The Kronecker product of the factors' presentations, built on first use."""
        return self.joint_presentation.get()

    @property
    def factor_vocab_sizes(self) -> tuple[int, ...]:
        """Each factor's number of tokens."""
        return tuple(factor.vocab_size for factor in self.factors)

    @property
    def factor_num_states(self) -> tuple[int, ...]:
        """Each factor's state dimension; the device state holds them side by side in this order."""
        return tuple(factor.num_states for factor in self.factors)

    def observation_probability_distribution(self, state: Float[Array, " states"]) -> Float[Array, " vocab"]:
        """Returns the joint next-token distribution: the outer product of the factors', in radix order."""
        parts = self.factor_states(state)
        return _outer_products(
            [f.observation_probability_distribution(s) for f, s in zip(self.factors, parts, strict=True)]
        )

    def transition_states(self, state: Float[Array, " states"], obs: Int[Array, ""]) -> Float[Array, " states"]:
        """Returns every factor's state updated by its own token of `obs`."""
        parts = self.factor_states(state)
        tokens = self.factor_tokens(jnp.asarray(obs))
        return jnp.concatenate([f.transition_states(s, t) for f, s, t in zip(self.factors, parts, tokens, strict=True)])

    def generate(
        self,
        states: Float[Array, "batch states"],
        keys: PRNGKeyArray,
        sequence_len: int,
        return_all_states: bool = False,
    ) -> tuple[Float[Array, "batch ..."], Int[Array, "batch seq"]]:
        """Samples each factor with its own keys (`fold_in(key, n)` for factor `n`) and joins the tokens.

        Returns the factors' final (or every) states side by side on the last axis, and the joint tokens.
        """
        factor_states, factor_tokens = [], []
        for n, (factor, start) in enumerate(zip(self.factors, self.factor_states(states), strict=True)):
            factor_keys = jax.vmap(jax.random.fold_in, in_axes=(0, None))(keys, n)
            state, tokens = factor.generate(start, factor_keys, sequence_len, return_all_states)
            factor_states.append(state)
            factor_tokens.append(tokens)
        return jnp.concatenate(factor_states, axis=-1), self.joint_tokens(factor_tokens)

    def log_probability(self, observations: ArrayLike) -> np.ndarray:
        """Returns `log P(observations)` in float64: the sum of the factors' log-probabilities of their tokens."""
        parts = self.factor_tokens(np.asarray(observations))
        return functools.reduce(np.add, [f.log_probability(t) for f, t in zip(self.factors, parts, strict=True)])

    def next_token_distributions(self, tokens: ArrayLike) -> np.ndarray:
        """Returns the exact joint `P(token t + 1 | tokens[..., : t + 1])`: the outer product of the factors'."""
        parts = self.factor_tokens(np.asarray(tokens))
        return _outer_products([f.next_token_distributions(t) for f, t in zip(self.factors, parts, strict=True)])

    def factor_beliefs(self, tokens: ArrayLike) -> list[np.ndarray]:
        """Returns each factor's exact float64 belief after every prefix of joint tokens.

        Arguments:
            tokens: joint tokens, shape `(..., seq)`.

        Returns:
            One array per factor, shape `(..., seq + 1, d_n)`: entry `t` has seen `tokens[..., :t]`.
        """
        parts = self.factor_tokens(np.asarray(tokens))
        return [f.presentation.filter(t)[0] for f, t in zip(self.factors, parts, strict=True)]
