"""Factors with hidden dependencies: each factor's parameters are chosen by the token the factor before it emits."""

from collections.abc import Sequence
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float, Int, PRNGKeyArray

from simplexity.generative_processes.factored import SideBySideFactors
from simplexity.generative_processes.generative_process import GenerativeProcess
from simplexity.generative_processes.presentation import DeferredPresentation, Presentation


def _check_variants(factors: Sequence[Sequence[GenerativeProcess]]) -> None:
    """Raises ValueError naming the first factor whose variants do not fit the chain."""
    if len(factors) < 2:
        raise ValueError(f"factors: a chain needs at least two factors, got {len(factors)}")
    if len(factors[0]) != 1:
        raise ValueError(f"factors[0]: the first factor has no factor before it, so one variant, got {len(factors[0])}")
    for n, variants in enumerate(factors[1:], start=1):
        allowed = (1, factors[n - 1][0].vocab_size)
        if len(variants) not in allowed:
            raise ValueError(
                f"factors[{n}]: {len(variants)} variants; one, or one per token of factors[{n - 1}] ({allowed[1]})"
            )
    for n, variants in enumerate(factors):
        first = variants[0].presentation
        for v, variant in enumerate(variants[1:], start=1):
            other = variant.presentation
            if (other.vocab_size, other.num_states) != (first.vocab_size, first.num_states) or not np.allclose(
                other.normalizing_eigenvector, first.normalizing_eigenvector
            ):
                raise ValueError(
                    f"factors[{n}][{v}]: every variant of a factor needs the vocabulary, the number of states and "
                    f"the normalising vector of its first ({first.vocab_size} tokens, {first.num_states} states)"
                )


def _variant_matrices(variants: Sequence[GenerativeProcess]) -> np.ndarray:
    """Returns a factor's variants' float64 matrices stacked, `T[v][x, i, j]`."""
    return np.stack([variant.presentation.transition_matrices for variant in variants])


def chain_presentation(factors: Sequence[Sequence[Presentation]]) -> Presentation:
    """Returns the presentation of a chain on the factors' joint states, tokens and states in radix order.

    The matrix of joint token `(t_0, ..., t_{n-1})` is `T_0[t_0] ⊗ T_1^{(t_0)}[t_1] ⊗ ... ⊗ T_{n-1}^{(t_{n-2})}
    [t_{n-1}]`, where `T_n^{(v)}` is variant `v` of factor `n` (variant 0 when the factor has one), and the initial
    state and the normalising vector are the Kronecker products of the first variants'.
    """
    vocab_sizes = [variants[0].vocab_size for variants in factors]
    matrices = []
    for joint in np.ndindex(*vocab_sizes):
        product = np.ones((1, 1))
        for n, variants in enumerate(factors):
            variant = variants[joint[n - 1]] if n > 0 and len(variants) > 1 else variants[0]
            product = np.kron(product, variant.transition_matrices[joint[n]])
        matrices.append(product)
    initial, normalizer = np.ones(1), np.ones(1)
    for variants in factors:
        initial = np.kron(initial, variants[0].initial_state)
        normalizer = np.kron(normalizer, variants[0].normalizing_eigenvector)
    return Presentation.of(np.stack(matrices), initial, normalizer)


def _joint_of_conditionals(first: Any, conditionals: Sequence[Any]) -> Any:
    """Returns the joint distribution in radix order of `P(t_0)` (last axis) and `P(t_n | t_{n-1})` (last two).

    Works on numpy and JAX arrays alike; leading axes broadcast.
    """
    joint = first
    for table in conditionals:
        previous = table.shape[-2]
        grouped = joint.reshape(*joint.shape[:-1], joint.shape[-1] // previous, previous)
        joint = (grouped[..., :, :, None] * table[..., None, :, :]).reshape(*joint.shape[:-1], -1)
    return joint


class ChainedProcess(SideBySideFactors):
    """Factors emitting side by side, each one's parameters chosen by the token of the factor before it.

    At each step factor 0 emits from its own state, then factor `n` emits with variant `t_{n-1}` of its
    parameters, where `t_{n-1}` is the token factor `n - 1` emits at the same step, so that
    `P(t_0, ..., t_{n-1} | states) = P(t_0 | s_0) prod_n P(t_n | t_{n-1}, s_n)`; the variant also moves the factor's
    state. The process's token is the tuple in radix order, the first factor most significant, as in
    `FactoredProcess`. The tokens of the factors depend on each other, but their beliefs do not: once the joint
    token is seen, each factor's state moves by a matrix known from the token alone, so the exact belief is the
    product of the factors' (`factor_beliefs`), while the next-token distribution is not the product of the
    factors' marginals.

    The process starts from the factors' first variants' initial states side by side (their product on the joint
    states); it is stationary when those are stationary under every variant (mess3's uniform state is, for all
    its parameters). On the device the state is the factors' beliefs side by side (`sum d_n`), and sampling runs
    factor by factor; the exact side is float64 on the host, factor by factor, and `presentation` is the chain on
    the joint states (`chain_presentation`), for the information quantities.

    Arguments:
        factors: for each factor its variants: one for the first factor, and for factor `n` either one (no
            dependence) or one per token of factor `n - 1`, all of one vocabulary, number of states and
            normalising vector (HMMs, or generalized HMMs sharing it).
        name: names the process in messages; by default `chain(NAME, ...)`.
    """

    factors: tuple[tuple[GenerativeProcess, ...], ...]
    initial_state: Float[Array, " states"]
    transition_matrices: tuple[Float[Array, "variants vocab states states"], ...]
    normalizing_vectors: tuple[Float[Array, " states"], ...]
    joint_presentation: DeferredPresentation = eqx.field(static=True, repr=False)
    name: str = eqx.field(static=True)

    def __init__(self, factors: Sequence[Sequence[GenerativeProcess]], name: str | None = None):
        factors = [list(variants) if isinstance(variants, Sequence) else [variants] for variants in factors]
        _check_variants(factors)
        self.factors = tuple(tuple(variants) for variants in factors)
        dtype = self.factors[0][0].initial_state.dtype
        self.transition_matrices = tuple(
            jnp.asarray(_variant_matrices(variants), dtype=dtype) for variants in self.factors
        )
        self.normalizing_vectors = tuple(
            jnp.asarray(variants[0].presentation.normalizing_eigenvector, dtype=dtype) for variants in self.factors
        )
        self.initial_state = jnp.concatenate([variants[0].initial_state for variants in self.factors])
        presentations = [[v.presentation for v in variants] for variants in self.factors]
        self.joint_presentation = DeferredPresentation(lambda: chain_presentation(presentations))
        self.name = name if name is not None else "chain(" + ", ".join(v[0].name for v in self.factors) + ")"

    @property
    def presentation(self) -> Presentation:  # pyright: ignore[reportIncompatibleVariableOverride]
        """The chain on the joint states (`chain_presentation`), built on first use."""
        return self.joint_presentation.get()

    @property
    def factor_vocab_sizes(self) -> tuple[int, ...]:
        """Each factor's number of tokens."""
        return tuple(variants[0].vocab_size for variants in self.factors)

    @property
    def factor_num_states(self) -> tuple[int, ...]:
        """Each factor's state dimension; the device state holds them side by side in this order."""
        return tuple(variants[0].presentation.num_states for variants in self.factors)

    def _variant(self, n: int, previous_token: Any) -> Any:
        """The index of factor `n`'s variant after the previous factor emitted `previous_token`."""
        return 0 if len(self.factors[n]) == 1 else previous_token

    def _token_masses(self, n: int, belief: Float[Array, " states"]) -> Float[Array, "variants vocab"]:
        """Returns `P(t_n | variant, belief)` for every variant of factor `n`, shape `(variants, vocab)`."""
        masses = jnp.einsum("i,vxij,j->vx", belief, self.transition_matrices[n], self.normalizing_vectors[n])
        masses = jnp.clip(masses, 0.0, None)
        return masses / masses.sum(axis=-1, keepdims=True)

    def observation_probability_distribution(self, state: Float[Array, " states"]) -> Float[Array, " vocab"]:
        """Returns the joint next-token distribution, radix order: `P(t_0) prod_n P(t_n | t_{n-1})`."""
        beliefs = self.factor_states(state)
        first = self._token_masses(0, beliefs[0])[0]
        tables = []
        for n in range(1, len(self.factors)):
            masses = self._token_masses(n, beliefs[n])
            tables.append(jnp.broadcast_to(masses, (self.factor_vocab_sizes[n - 1], masses.shape[-1])))
        return _joint_of_conditionals(first, tables)

    def _update(self, n: int, belief: Float[Array, " states"], variant: Any, token: Any) -> Float[Array, " states"]:
        """Returns factor `n`'s belief after it emitted `token` with variant `variant`."""
        unnormalized = belief @ self.transition_matrices[n][variant, token]
        return unnormalized / (unnormalized @ self.normalizing_vectors[n])

    def transition_states(self, state: Float[Array, " states"], obs: Int[Array, ""]) -> Float[Array, " states"]:
        """Returns every factor's belief moved by its own token of `obs`, with the variant its predecessor chose."""
        beliefs = self.factor_states(state)
        tokens = self.factor_tokens(jnp.asarray(obs))
        updated = [
            self._update(n, belief, self._variant(n, tokens[n - 1] if n else 0), tokens[n])
            for n, belief in enumerate(beliefs)
        ]
        return jnp.concatenate(updated)

    def _generate_one(
        self, state: Float[Array, " states"], key: PRNGKeyArray, sequence_len: int
    ) -> tuple[Float[Array, "seq states"], Int[Array, " seq"]]:
        uniforms = jax.random.uniform(key, (sequence_len, len(self.factors)))

        def step(state: Float[Array, " states"], uniform: Float[Array, " factors"]):
            beliefs = self.factor_states(state)
            tokens, updated, previous = [], [], jnp.zeros((), jnp.int32)
            for n, belief in enumerate(beliefs):
                variant = self._variant(n, previous)
                probabilities = self._token_masses(n, belief)[variant]
                cumulative = jnp.cumsum(probabilities)
                token = jnp.minimum(jnp.sum(cumulative <= uniform[n] * cumulative[-1]), self.factor_vocab_sizes[n] - 1)
                updated.append(self._update(n, belief, variant, token))
                tokens.append(token)
                previous = token
            next_state = jnp.concatenate(updated)
            return next_state, (next_state, self.joint_tokens(tokens))

        _, (states, tokens) = jax.lax.scan(step, state, uniforms)
        return states, tokens

    def generate(
        self,
        states: Float[Array, "batch states"],
        keys: PRNGKeyArray,
        sequence_len: int,
        return_all_states: bool = False,
    ) -> tuple[Float[Array, "batch ..."], Int[Array, "batch seq"]]:
        """Samples the factors in order at every step, each from its belief and the variant its predecessor chose.

        Returns the factors' final (or every) beliefs side by side on the last axis, and the joint tokens.
        """
        all_states, tokens = jax.vmap(self._generate_one, in_axes=(0, 0, None))(states, keys, sequence_len)
        return (all_states if return_all_states else all_states[:, -1]), tokens

    def _host_filter(self, tokens: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
        """Returns each factor's float64 belief after every prefix and the log-probability of every token."""
        parts = self.factor_tokens(tokens)
        beliefs, log_probabilities = [], np.zeros(tokens.shape, dtype=np.float64)
        for n, variants in enumerate(self.factors):
            first = variants[0].presentation
            matrices = _variant_matrices(variants)
            normalizer = first.normalizing_eigenvector
            belief = np.broadcast_to(first.initial_state, (*tokens.shape[:-1], first.num_states))
            variant_tokens = parts[n - 1] if n and len(variants) > 1 else np.zeros_like(parts[n])
            trajectory = [belief]
            for t in range(tokens.shape[-1]):
                unnormalized = np.einsum("...i,...ij->...j", belief, matrices[variant_tokens[..., t], parts[n][..., t]])
                mass = unnormalized @ normalizer
                with np.errstate(divide="ignore", invalid="ignore"):
                    log_probabilities[..., t] += np.log(np.clip(mass, 0.0, None))
                    belief = np.where(mass[..., None] > 0, unnormalized / mass[..., None], belief)
                trajectory.append(belief)
            beliefs.append(np.stack(trajectory, axis=-2))
        return beliefs, log_probabilities

    def factor_beliefs(self, tokens: ArrayLike) -> list[np.ndarray]:
        """Returns each factor's exact float64 belief after every prefix of joint tokens.

        Their product (radix order) is the process's exact belief on the joint states.

        Arguments:
            tokens: joint tokens, shape `(..., seq)`.

        Returns:
            One array per factor, shape `(..., seq + 1, d_n)`: entry `t` has seen `tokens[..., :t]`.
        """
        return self._host_filter(np.asarray(tokens))[0]

    def log_probability(self, observations: ArrayLike) -> np.ndarray:
        """Returns `log P(observations)` in float64, shape `observations.shape[:-1]` (-inf for impossible words)."""
        return self._host_filter(np.asarray(observations))[1].sum(axis=-1)

    def next_token_distributions(self, tokens: ArrayLike) -> np.ndarray:
        """Returns the exact joint `P(token t + 1 | tokens[..., : t + 1])` in float64, shape `(..., seq, vocab)`."""
        beliefs = self.factor_beliefs(tokens)
        tables = []
        for n, variants in enumerate(self.factors):
            matrices = _variant_matrices(variants)
            normalizer = variants[0].presentation.normalizing_eigenvector
            masses = np.clip(np.einsum("...i,vxij,j->...vx", beliefs[n][..., 1:, :], matrices, normalizer), 0, None)
            tables.append(masses / masses.sum(axis=-1, keepdims=True))
        conditionals = [
            np.broadcast_to(table, (*table.shape[:-2], self.factor_vocab_sizes[n], table.shape[-1]))
            for n, table in enumerate(tables[1:])
        ]
        return _joint_of_conditionals(tables[0][..., 0, :], conditionals)
