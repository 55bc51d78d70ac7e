"""Information quantities of a process, in nats (`to_bits` converts): the best any predictor can achieve.

Definitions follow Crutchfield and Feldman, "Regularities unseen, randomness observed" (2003): myopic entropy
`h(L) = H(X_L | X_1..X_{L-1})`, block entropy `H(L) = sum_{l <= L} h(l)`, entropy rate `h = lim h(L)`,
excess entropy `E = sum_L (h(L) - h)`, transient information `T = sum_{L >= 0} (E + h L - H(L))`, and
statistical complexity `C = H(S)` over the recurrent causal states. All are computed in float64 from the
process's presentation, from its initial state (its stationary state unless one was given).

Limits are taken with one convergence rule (`LimitMonitor`): once the myopic entropies decay geometrically
over two windows of lengths, the remaining tail is bounded by a geometric series of the later window's largest
step. A flat stretch (an oscillating decay that passes near zero) cannot end the sum early, since a window
spans it. Each limit comes with that bound (`Estimate.error_bound`). When the mixed states grow so fast that
the bound cannot fall below the tolerance before a layer holds `max_states` of them (extrapolating its decay and
the layers' growth), the limit fails at once, saying which tolerance is within reach.

A framed process (`SpecialTokenProcess`) has the entropy rate, excess entropy, transient information and
statistical complexity of the process it frames (`content_process`): its BOS, certain, carries no information.
Its myopic and block entropies are those of the framed positions (`h(1) = 0` for BOS).
"""

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from simplexity.generative_processes.bidirectional import reverse_mixed_states
from simplexity.generative_processes.causal_states import causal_states
from simplexity.generative_processes.compositions import SpecialTokenProcess, content_process
from simplexity.generative_processes.factored import FactoredProcess
from simplexity.generative_processes.generative_process import GenerativeProcess
from simplexity.generative_processes.hidden_markov_model import HiddenMarkovModel
from simplexity.generative_processes.markov_chain import asymptotic_distribution
from simplexity.generative_processes.mixed_state_presentation import (
    UnboundedMixedStatesError,
    iter_belief_layers,
    iter_belief_layers_and_predictions,
)
from simplexity.generative_processes.presentation import Presentation


def entropy(probabilities: np.ndarray, axis: int = -1) -> np.ndarray:
    """Returns the Shannon entropy in nats along `axis`, with `0 log 0 = 0`."""
    p = np.asarray(probabilities, dtype=np.float64)
    terms = np.where(p > 0, -p * np.log(np.where(p > 0, p, 1.0)), 0.0)
    return terms.sum(axis=axis)


def to_bits(nats: float | np.ndarray) -> float | np.ndarray:
    """Returns an information quantity given in nats in bits."""
    return nats / math.log(2)


MAX_LAYER_STATES = 2_000_000
# Steps of the myopic entropies below this are float64 rounding of an exact 0.
ROUNDING_FLOOR = 1e-13
# The two windows of lengths the convergence rule compares grow up to this many lengths each.
MAX_WINDOW = 8
MIN_WINDOW = 3
# Whether a tolerance is within reach is judged once a layer holds this fraction of `max_states` mixed states.
PREDICTION_FRACTION = 1 / 64


@dataclass(frozen=True)
class Estimate:
    """A limit and a bound on its error: the exact value lies in `value +- error_bound`.

    Arguments:
        value: the estimate, in nats.
        error_bound: the bound (0 for a closed form).
        length: the longest myopic entropy `h(L)` it used.
    """

    value: float
    error_bound: float
    length: int


def iter_myopic_entropies(
    process: GenerativeProcess, min_probability: float = 0.0, decimals: int = 12, max_states: int = MAX_LAYER_STATES
) -> Iterator[float]:
    """Yields `h(1), h(2), ...`: the expected entropy of the next token over the beliefs of each layer.

    Raises:
        ValueError: naming the process when a layer holds more than `max_states` mixed states.
    """
    for myopic, _ in _iter_myopic_entropies_and_sizes(process, min_probability, decimals, max_states):
        yield myopic


def _iter_myopic_entropies_and_sizes(
    process: GenerativeProcess, min_probability: float, decimals: int, max_states: int
) -> Iterator[tuple[float, int]]:
    """Yields `(h(L), number of mixed states after L - 1 tokens)` for `L = 1, 2, ...`.

    For independent factors (`FactoredProcess`) `h(L)` is the sum of the factors' and each factor is enumerated
    on its own (the size is that of the largest factor's layer), never the joint mixed states. After BOS alone
    (`SpecialTokenProcess` without EOS), `h(1) = 0` and `h(L + 1)` is the content process's `h(L)`.
    """
    if isinstance(process, SpecialTokenProcess) and process.eos_token is None:
        # BOS is certain, and after it the content process runs from its own start.
        yield 0.0, 1
        yield from _iter_myopic_entropies_and_sizes(process.process, min_probability, decimals, max_states)
        return
    if isinstance(process, FactoredProcess):
        streams = [_iter_myopic_entropies_and_sizes(f, min_probability, decimals, max_states) for f in process.factors]
        for layers in zip(*streams, strict=True):
            yield sum(myopic for myopic, _ in layers), max(size for _, size in layers)
        return
    for layer, token_probabilities in iter_belief_layers_and_predictions(
        process, min_probability, decimals, max_states
    ):
        myopic = float(layer.probabilities @ entropy(token_probabilities) / layer.probabilities.sum())
        yield myopic, len(layer.beliefs)


class LimitMonitor:
    """Follows a sequence that converges (to `limit` when known) and bounds its tail once the decay is geometric.

    After `L` terms, with windows of `w` lengths: `older` and `recent` are the largest steps (or, with a known
    limit, the largest distances to it) in the two last windows, and `ratio = (recent / older) ** (1 / (2 w))`
    (the square root of the measured ratio per length, for safety). The lowest envelope `c * ratio ** l` above
    every step of the recent window bounds every later step. Then the distance of term `L + j` to the limit is
    at most `scale * ratio ** j`: with a known limit `scale` is the envelope at `L`; otherwise it is the sum of
    the envelope's later steps, which also bounds the distance of term `L` itself.
    """

    def __init__(self, limit: float | None = None):
        self.limit = limit
        self.terms: list[float] = []
        # A proven lower bound on the limit, for a non-increasing sequence whose every term is above the limit.
        self.lower: float | None = None

    def add(self, term: float) -> None:
        """Appends the next term."""
        self.terms.append(term)

    def tail(self) -> tuple[float, float] | None:
        """Returns `(scale, ratio)` once the decay is geometric, else None."""
        values = np.asarray(self.terms)
        sizes = np.abs(values - self.limit) if self.limit is not None else np.abs(np.diff(values))
        window = min(MAX_WINDOW, len(sizes) // 2)
        if window < MIN_WINDOW:
            return None
        older, recent_window = sizes[-2 * window : -window].max(), sizes[-window:]
        recent = recent_window.max()
        if recent <= ROUNDING_FLOOR:
            return window * ROUNDING_FLOOR, 0.0
        if recent >= older:
            return None
        # The square root allows for a decay that slows down (a ratio that approaches its limit from below, as
        # for `rho**L / L**1.5`): the measured ratio alone would understate the tail there.
        ratio = (recent / older) ** (0.5 / window)
        # The lowest envelope `c * ratio ** l` above every step of the recent window, evaluated at `L`.
        at_last = float(np.max(recent_window * ratio ** np.arange(window - 1, -1, -1)))
        return (at_last if self.limit is not None else at_last * ratio / (1.0 - ratio)), ratio

    def limit_estimate(self) -> tuple[float, float] | None:
        """Returns the limit and its error bound, once the decay is geometric or a lower bound is known.

        With `lower`, the limit lies in `[lower, last term]`, intersected with the geometric rule's interval.
        """
        if self.limit is not None:
            return self.limit, 0.0
        tail = self.tail()
        last = self.terms[-1]
        # The limit lies between the last term and the last term minus the tail of the steps.
        low = None if tail is None else last - tail[0]
        if self.lower is not None:
            low = min(last, self.lower if low is None else max(low, self.lower))
        if low is None:
            return None
        return (last + low) / 2.0, (last - low) / 2.0

    def weighted_sum_of_excess(self, power: int) -> tuple[float, float] | None:
        """Returns `sum_L L**power (term_L - limit)` over all `L >= 1` and its error bound, once geometric."""
        tail, estimate = self.tail(), self.limit_estimate()
        if tail is None or estimate is None:
            return None
        (scale, ratio), (limit, limit_error) = tail, estimate
        lengths = np.arange(1, len(self.terms) + 1, dtype=np.float64) ** power
        partial = float(lengths @ (np.asarray(self.terms) - limit))
        count = len(self.terms)
        # sum_{j >= 1} (count + j)**power * scale * ratio**j, the most the unseen terms can add.
        geometric = ratio / (1.0 - ratio)
        unseen = scale * (geometric if power == 0 else count * geometric + ratio / (1.0 - ratio) ** 2)
        return partial + unseen / 2.0, float(lengths.sum()) * limit_error + unseen / 2.0


def _reachable_error(
    monitor: LimitMonitor, error: float, length: int, sizes: list[int], max_length: int, max_states: int
) -> tuple[float, int]:
    """Returns the error bound expected at the longest affordable length, and that length.

    The bound is extrapolated with the decay measured per length (the ratio before its square root is taken,
    an optimistic rate), and the layers with their smallest growth over the last three lengths: a layer may
    hold at most `max_states` mixed states, and there are at most `max_length` myopic entropies.
    """
    tail = monitor.tail()
    ratio = 0.0 if tail is None else tail[1] ** 2
    growth = min(b / a for a, b in zip(sizes[-4:-1], sizes[-3:], strict=True)) if len(sizes) >= 4 else 1.0
    longest = max_length
    if growth > 1.0 + 1e-9:
        longest = min(longest, length + math.floor(math.log(max_states / sizes[-1]) / math.log(growth)))
    return error * ratio ** max(longest - length, 0), longest


def _iter_state_conditioned_myopic_entropies(
    process: GenerativeProcess, decimals: int, max_states: int
) -> Iterator[float]:
    """Yields `H(X_L | X_1..X_{L-1}, S_1)` for `L = 1, 2, ...`, with `S_1` the first hidden state.

    The myopic entropies of an observer told the first hidden state of a stationary HMM: they rise to the entropy
    rate while `h(L)` falls to it (Cover and Thomas, "Elements of Information Theory", Theorem 4.5.1). For
    independent factors the first hidden state is the tuple of theirs, and the entropies add.
    """
    if isinstance(process, FactoredProcess):
        streams = [_iter_state_conditioned_myopic_entropies(f, decimals, max_states) for f in process.factors]
        for values in zip(*streams, strict=True):
            yield sum(values)
        return
    presentation = process.presentation
    streams = [
        (
            weight,
            iter_myopic_entropies(
                HiddenMarkovModel(presentation.transition_matrices, initial_state=np.eye(len(weights))[state]),
                0.0,
                decimals,
                max_states,
            ),
        )
        for weights in [presentation.initial_state]
        for state, weight in enumerate(weights)
        if weight > 0
    ]
    while True:
        yield sum(weight * next(stream) for weight, stream in streams)


def _admits_state_bracket(process: GenerativeProcess) -> bool:
    """Returns whether `process` is a nonunifilar HMM started in a stationary state (where the bracket holds).

    Independent factors are one when every factor is a stationary HMM and one of them is nonunifilar.
    """
    if isinstance(process, FactoredProcess):
        presentations = [factor.presentation for factor in process.factors]
        return all(_is_stationary_hidden_markov_model(p) for p in presentations) and not all(
            p.is_unifilar for p in presentations
        )
    presentation = process.presentation
    return _is_stationary_hidden_markov_model(presentation) and not presentation.is_unifilar


def _is_stationary_hidden_markov_model(presentation: Presentation) -> bool:
    """Returns whether `presentation` is an HMM whose initial state is stationary."""
    if not presentation.is_hidden_markov_model:
        return False
    start = presentation.initial_state
    return bool(np.allclose(start @ presentation.transition_matrices.sum(axis=0), start, rtol=0, atol=1e-12))


def _extrapolated_distance(monitor: LimitMonitor) -> float:
    """Returns half of `step * r / (1 - r)`, the last term's distance to the limit at the measured ratio `r`.

    An optimistic estimate, not a bound: what the half-width of a bracket around the limit is at least.
    """
    tail = monitor.tail()
    if tail is None or len(monitor.terms) < 2:
        return math.inf
    ratio = tail[1] ** 2
    return abs(monitor.terms[-2] - monitor.terms[-1]) * ratio / (1.0 - ratio) / 2.0


def _converge(
    process: GenerativeProcess,
    quantity,
    tolerance: float,
    max_length: int,
    decimals: int,
    what: str,
    max_states: int = MAX_LAYER_STATES,
    bracket: bool = False,
):
    """Feeds myopic entropies to a monitor until `quantity(monitor)` has an error bound below `tolerance`.

    With `bracket` (for the entropy rate of a process that `_admits_state_bracket`), once the geometric rule alone
    is out of reach but the myopic entropies' extrapolated distance to their limit is not, the state-conditioned
    myopic entropies are enumerated beside them: the rate lies between the two, a bound that needs no
    extrapolation.

    Raises:
        ValueError: one line naming the process, as soon as the extrapolated bound at the longest affordable
            length (`_reachable_error`) is above `tolerance`, or when the bound is not below it by `max_length`.
    """
    monitor = LimitMonitor(_closed_form_entropy_rate(process))
    error = math.inf
    sizes: list[int] = []
    lower: Iterator[float] | None = None
    stream = _iter_myopic_entropies_and_sizes(process, 0.0, decimals, max_states)
    for length, (myopic, size) in enumerate(stream, start=1):
        monitor.add(myopic)
        sizes.append(size)
        if lower is not None:
            monitor.lower = next(lower)
        result = quantity(monitor)
        if result is not None:
            value, error = result
            if error < tolerance:
                return Estimate(value=value, error_bound=error, length=length)
            reachable, longest = _reachable_error(monitor, error, length, sizes, max_length, max_states)
            if bracket and lower is None and reachable > tolerance:
                distance, _ = _reachable_error(
                    monitor, _extrapolated_distance(monitor), length, sizes, max_length, max_states
                )
                if distance <= tolerance:
                    lower = _iter_state_conditioned_myopic_entropies(process, decimals, max_states)
                    for _ in range(length):
                        monitor.lower = next(lower)
                    value, error = quantity(monitor)
                    if error < tolerance:
                        return Estimate(value=value, error_bound=error, length=length)
                    continue
            # Judged only once the layers are large: small ones are cheap, and a finite presentation's layers
            # grow at first and then stop.
            if sizes[-1] >= max_states * PREDICTION_FRACTION and reachable > tolerance:
                limit = "max_length" if longest == max_length else f"max_states={max_states} mixed states"
                raise ValueError(
                    f"{process.name}: {what} out of reach at tolerance={tolerance}: its error bound is {error:.2g} "
                    f"nats after {length} myopic entropies and, at its rate of decay, about {reachable:.2g} by "
                    f"length {longest}, where the enumeration reaches {limit}; use tolerance >= {reachable:.2g}"
                )
        if length >= max_length:
            raise ValueError(
                f"{process.name}: {what} not within tolerance={tolerance} after {length} myopic entropies "
                f"(error bound {error:.3g} nats); raise max_length or tolerance"
            )
    raise AssertionError("unreachable")


def myopic_entropy(
    process: GenerativeProcess,
    max_length: int,
    min_probability: float = 0.0,
    decimals: int = 12,
    tolerance: float | None = None,
) -> np.ndarray:
    """Returns `H(X_l | X_1..X_{l-1})` in nats for `l = 1..max_length`, shape `(max_length,)`.

    Entry `l - 1` is the lowest expected loss (cross-entropy) a model can reach at context position `l - 1`,
    having seen `l - 1` tokens.

    Arguments:
        process: any generative process.
        max_length: how many positions.
        min_probability: mixed states of at most this probability are dropped (0: exact).
        decimals: beliefs equal to this many decimal places are merged.
        tolerance: when given, once the convergence rule bounds the remaining decrease of the myopic entropies by
            this, the remaining positions take the last enumerated value instead of being enumerated. This makes
            long contexts of processes with infinitely many mixed states (mess3) affordable; each value beyond
            that point is then within `tolerance` of the exact one.

    Raises:
        ValueError: when a layer holds more than `MAX_LAYER_STATES` mixed states before the end (or before
            convergence to `tolerance`).

    Example:
        >>> myopic_entropy(build_hidden_markov_model("coin", p=0.5), 3)
        array([0.69314718, 0.69314718, 0.69314718])
    """
    monitor = LimitMonitor()
    for value in iter_myopic_entropies(process, min_probability, decimals):
        monitor.add(value)
        if len(monitor.terms) == max_length:
            break
        if tolerance is not None:
            tail = monitor.tail()
            if tail is not None and tail[0] < tolerance:
                return np.array(monitor.terms + [value] * (max_length - len(monitor.terms)))
    return np.array(monitor.terms)


def block_entropy(process: GenerativeProcess, max_length: int, decimals: int = 12) -> np.ndarray:
    """Returns `H(X_1..X_L)` in nats for `L = 0..max_length`, shape `(max_length + 1,)`."""
    return np.concatenate([[0.0], np.cumsum(myopic_entropy(process, max_length, decimals=decimals))])


def is_unifilar(process: GenerativeProcess) -> bool:
    """Returns whether `process` is presented by an HMM in which a state and a token determine the next state."""
    return process.presentation.is_unifilar


def _closed_form_entropy_rate(process: GenerativeProcess) -> float | None:
    """Returns `sum_i pi_i H(X | S = i)` for a unifilar HMM (pi: the long-run state distribution), else None.

    Independent factors have the sum of their rates: the closed form where every factor has one.
    """
    if isinstance(process, FactoredProcess):
        rates = [_closed_form_entropy_rate(factor) for factor in process.factors]
        return None if any(rate is None for rate in rates) else math.fsum(rates)  # type: ignore[arg-type]
    presentation = process.presentation
    if not presentation.is_unifilar:
        return None
    matrices = presentation.transition_matrices
    long_run = asymptotic_distribution(matrices.sum(axis=0), presentation.initial_state)
    return float(long_run @ entropy(matrices.sum(axis=2).T))


def estimate_entropy_rate(
    process: GenerativeProcess,
    tolerance: float = 1e-7,
    max_length: int = 500,
    decimals: int = 12,
    max_states: int = MAX_LAYER_STATES,
) -> Estimate:
    """Returns the entropy rate in nats per token with a bound on its error.

    For a unifilar HMM it is the closed form `sum_i pi_i H(X | S = i)` (error bound 0). Otherwise the myopic
    entropies `h(L)` are enumerated until the convergence rule bounds `h(L) - h` by `2 * tolerance`; the estimate
    is the middle of `[h(L) - bound, h(L)]`, so its error is at most `tolerance`. For a nonunifilar HMM started
    in a stationary state, when that rule is out of reach, the rate is bracketed instead: it lies between
    `H(X_L | X_1..X_{L-1}, S_1)` (the first hidden state told) and `h(L)`, which close in without extrapolation.

    A framed process has the rate of the process it frames; independent factors have the sum of theirs, each
    estimated within an equal share of `tolerance`.

    Raises:
        ValueError: naming the process when the bound is not below `tolerance` by `max_length`, when a layer of
            the enumeration holds more than `max_states` mixed states, or at once when the bound's decay and the
            layers' growth put `tolerance` out of reach (the line says which tolerance is within reach).
    """
    process = content_process(process)
    if isinstance(process, FactoredProcess):
        share = tolerance / len(process.factors)
        estimates = [estimate_entropy_rate(f, share, max_length, decimals, max_states) for f in process.factors]
        return Estimate(
            value=math.fsum(e.value for e in estimates),
            error_bound=math.fsum(e.error_bound for e in estimates),
            length=max(e.length for e in estimates),
        )
    return _converge(
        process,
        LimitMonitor.limit_estimate,
        tolerance,
        max_length,
        decimals,
        "entropy rate",
        max_states,
        bracket=_admits_state_bracket(process),
    )


def entropy_rate(
    process: GenerativeProcess, tolerance: float = 1e-7, max_length: int = 500, decimals: int = 12
) -> float:
    """Returns the entropy rate in nats per token (`estimate_entropy_rate` gives its error bound)."""
    return estimate_entropy_rate(process, tolerance, max_length, decimals).value


def estimate_excess_entropy(
    process: GenerativeProcess, tolerance: float = 1e-6, max_length: int = 500, decimals: int = 12
) -> Estimate:
    """Returns the excess entropy `E = sum_L (h(L) - h)` in nats with a bound on its error.

    Where the process's epsilon-machine and that of its time reverse are both finite (their mixed-state
    presentations close within `EXACT_MAX_STATES` states), `E = I[S+; S-]` is computed from the bidirectional
    machine (`bidirectional.stored_information`), exact to float64 rounding: the bound is 0 and `length` 0.
    Otherwise the sum runs with the entropy rate's rule until its bound (the rate's error times the terms summed,
    plus the most the unseen terms can add) is below `tolerance`; it fails as the entropy rate does. A framed
    process has the excess entropy of the process it frames: the sum runs over its content tokens.
    """
    content = content_process(process)
    exact = _bidirectional_excess_entropy(content)
    if exact is not None:
        return Estimate(exact, 0.0, 0)
    return _converge(
        content,
        lambda monitor: monitor.weighted_sum_of_excess(0),
        tolerance,
        max_length,
        decimals,
        "excess entropy",
    )


# The most mixed states explored, forward and in reverse, for the exact excess entropy before the sum is used.
EXACT_MAX_STATES = 2_000


def _bidirectional_excess_entropy(process: GenerativeProcess) -> float | None:
    """`E = I[S+; S-]` where both epsilon-machines are finite and the process starts stationary; None otherwise."""
    try:
        return reverse_mixed_states(process, max_states=EXACT_MAX_STATES).excess_entropy
    except (UnboundedMixedStatesError, ValueError):
        return None


def excess_entropy(
    process: GenerativeProcess, tolerance: float = 1e-6, max_length: int = 500, decimals: int = 12
) -> float:
    """Returns the excess entropy `E = sum_L (h(L) - h)` in nats (`estimate_excess_entropy` gives its bound)."""
    return estimate_excess_entropy(process, tolerance, max_length, decimals).value


def transient_information(
    process: GenerativeProcess, tolerance: float = 1e-6, max_length: int = 500, decimals: int = 12
) -> Estimate:
    """Returns the transient information `T = sum_{L >= 0} (E + h L - H(L))` in nats, with its error bound.

    `T` measures how much an observer must learn, beyond what the entropy rate accounts for, before the block
    entropy reaches its asymptote `E + h L` (Crutchfield and Feldman 2003). Since
    `E + h L - H(L) = sum_{l > L} (h(l) - h)`, `T = sum_l l (h(l) - h)`. It fails as the entropy rate does. A
    framed process has the transient information of the process it frames.
    """
    return _converge(
        content_process(process),
        lambda monitor: monitor.weighted_sum_of_excess(1),
        tolerance,
        max_length,
        decimals,
        "transient information",
    )


def _observable_basis(presentation: Presentation) -> np.ndarray:
    """Returns an orthonormal basis of the span of `T_w r` over all words `w`, shape `(states, rank)`.

    Two states predict the same future exactly when their difference is orthogonal to it, since the probability
    of a word `w` from a state `s` is `s @ T_w @ r`.
    """
    basis = np.zeros((presentation.num_states, 0))
    frontier = [presentation.normalizing_eigenvector / np.linalg.norm(presentation.normalizing_eigenvector)]
    while frontier:
        vector = frontier.pop()
        residual = vector - basis @ (basis.T @ vector)
        residual -= basis @ (basis.T @ residual)  # twice, so that rounding leaves it orthogonal
        norm = float(np.linalg.norm(residual))
        if norm > 1e-9 * max(float(np.linalg.norm(vector)), 1e-300):
            direction = residual / norm
            basis = np.concatenate([basis, direction[:, None]], axis=1)
            frontier.extend(matrix @ direction for matrix in presentation.transition_matrices)
    return basis


def estimate_statistical_complexity(
    process: GenerativeProcess,
    tolerance: float = 1e-7,
    max_states: int = 10_000,
    decimals: int = 10,
    max_length: int = 500,
) -> Estimate:
    """Returns `C = H(S)` in nats over the recurrent causal states, with a bound on its error.

    When the mixed-state presentation closes within `max_states` states, the causal states are its recurrent
    mixed states merged by their future (Moore minimisation), weighted by their asymptotic probability from the
    initial state: `C` is exact (error bound 0). Otherwise (countably many causal states, as for the simple
    nonunifilar source and Fanizza's process) `C` is the limit of `H(M_L)`, the entropy of the distinct futures
    an observer can predict after `L` tokens from the stationary start: the layers' futures that an observer has
    synchronized to are causal states with their stationary probability, and the rest (the words that have not
    yet synchronized) carry a mass that vanishes. The limit is taken with the entropy rate's convergence rule
    (`LimitMonitor`), to `tolerance`. A framed process has the complexity of the process it frames.

    Raises:
        UnboundedMixedStatesError: when the distinct futures of a layer outgrow `max_states` before the bound is
            below `tolerance`, as for processes whose causal states are uncountable (mess3).
    """
    process = content_process(process)
    try:
        return Estimate(float(entropy(causal_states(process, max_states, decimals).probabilities)), 0.0, 0)
    except UnboundedMixedStatesError:
        pass
    basis = _observable_basis(process.presentation)
    monitor = LimitMonitor()  # fed -H(M_L): the rule bounds a decreasing sequence
    error = math.inf
    for layer in iter_belief_layers(process, 0.0, decimals):
        keys = np.round(layer.beliefs @ basis, decimals) + 0.0
        inverse = np.unique(keys, axis=0, return_inverse=True)[1].reshape(-1)
        futures = np.bincount(inverse, weights=layer.probabilities)
        if len(futures) > max_states or layer.length >= max_length:
            bound = f"error bound {error:.3g} nats" if error < 1.0 else "no converging bound"
            raise UnboundedMixedStatesError(
                f"{process.name}: the statistical complexity is not within tolerance={tolerance} ({bound}) when "
                f"{len(futures)} distinct futures follow {layer.length} tokens, past max_states={max_states} or "
                f"max_length={max_length}; the causal states may be uncountable (a nonunifilar process such as mess3)"
            )
        monitor.add(-float(entropy(futures)))
        estimate = monitor.limit_estimate()
        if estimate is not None:
            error = estimate[1]
            if error < tolerance:
                return Estimate(value=-estimate[0], error_bound=error, length=layer.length)
    raise AssertionError("unreachable")


def statistical_complexity(process: GenerativeProcess, max_states: int = 10_000, decimals: int = 10) -> float:
    """Returns `C = H(S)` in nats over the recurrent causal states (`estimate_statistical_complexity` gives its bound).

    Raises:
        UnboundedMixedStatesError: when the complexity is out of reach within `max_states` states, as for
            processes with uncountably many causal states (mess3).
    """
    return estimate_statistical_complexity(process, max_states=max_states, decimals=decimals).value
