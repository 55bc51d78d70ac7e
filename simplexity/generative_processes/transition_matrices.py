"""Transition matrices `T[x, i, j]` of named processes, as functions of their parameters."""

from collections.abc import Sequence

import numpy as np


def _require_probability(name: str, value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name}={value} must be a probability in [0, 1]")


def mess3(x: float = 0.15, a: float = 0.6) -> np.ndarray:
    """Returns the transition matrices of the mess3 process (3 states, 3 tokens).

    Marzen and Crutchfield's mess3: from every state, token `k` is emitted with a bias towards state `k`.
    With `b = (1 - a) / 2` and `y = 1 - 2x`, `T[k, i, j]` is `a` or `b` (whether `j == k`) times
    `y` or `x` (whether `i == j`).

    Arguments:
        x: probability weight of moving to each of the two other states; in [0, 1/2].
        a: probability weight of emitting the token of the state moved to; in [0, 1].

    Returns:
        `T`, shape `(3, 3, 3)`.
    """
    if not 0.0 <= x <= 0.5:
        raise ValueError(f"x={x} must be in [0, 0.5]")
    _require_probability("a", a)
    b = (1.0 - a) / 2.0
    y = 1.0 - 2.0 * x
    stay_or_move = np.where(np.eye(3, dtype=bool), y, x)  # [i, j]
    emission_bias = np.where(np.eye(3, dtype=bool), a, b)  # [k, j]
    return emission_bias[:, None, :] * stay_or_move[None, :, :]


def coin(p: float = 0.5) -> np.ndarray:
    """Returns the transition matrices of a biased coin (1 state, 2 tokens): independent flips.

    Arguments:
        p: probability of token 0 (token 1 has `1 - p`); in [0, 1].

    Returns:
        `T`, shape `(2, 1, 1)`.
    """
    _require_probability("p", p)
    return np.array([p, 1.0 - p]).reshape(2, 1, 1)


DAYS_OF_WEEK_TOKENS = ("Mo", "Tu", "We", "Th", "Fr", "Sa", "Su", "Tmrw", "Yest", "Wknd", "Wkdy")


def days_of_week() -> np.ndarray:
    """Returns the transition matrices of the days-of-the-week process (7 states, 11 tokens).

    States are the days Monday..Sunday (0..6). Tokens are the seven day names (0..6), then "Tmrw" (7),
    "Yest" (8), "Wknd" (9) and "Wkdy" (10), see `DAYS_OF_WEEK_TOKENS`. From day `i`, with unnormalised
    weights: a day name `d` moves to day `d` (weight 1, but 5 for the name of tomorrow), "Tmrw" moves to day
    `i + 1` and "Yest" to day `i - 1` (weight 1 each, mod 7), "Wkdy" moves to each of the five weekdays
    (1/5 each) and "Wknd" to Saturday or Sunday (1/2 each). Each day's weights are then normalised.

    Returns:
        `T`, shape `(11, 7, 7)`.
    """
    days = np.arange(7)
    tomorrow, yesterday = (days + 1) % 7, (days - 1) % 7
    weights = np.zeros((11, 7, 7))
    weights[days, :, days] = 1.0
    weights[tomorrow, days, tomorrow] = 5.0
    weights[7, days, tomorrow] = 1.0
    weights[8, days, yesterday] = 1.0
    weights[9, :, 5:] = 1.0 / 2.0
    weights[10, :, :5] = 1.0 / 5.0
    return weights / weights.sum(axis=(0, 2))[None, :, None]


def even_ones(p: float = 0.5) -> np.ndarray:
    """Returns the transition matrices of the even process (2 states A, B = 0, 1; tokens 0, 1).

    Ones come in blocks of even length: from A, emit 0 and stay with probability `1 - p`, or emit 1 and go
    to B with probability `p`; from B, emit 1 and return to A. The entropy rate at `p = 1/2` is 2/3 bit.

    Arguments:
        p: probability of starting a block of ones from A; in [0, 1].

    Returns:
        `T`, shape `(2, 2, 2)`.
    """
    _require_probability("p", p)
    matrices = np.zeros((2, 2, 2))
    matrices[0, 0, 0], matrices[1, 0, 1], matrices[1, 1, 0] = 1.0 - p, p, 1.0
    return matrices


def no_consecutive_ones(p: float = 0.5) -> np.ndarray:
    """Returns the transition matrices of the golden mean process (2 states A, B = 0, 1; tokens 0, 1).

    No two consecutive ones: from A, emit 0 and stay with probability `1 - p`, or emit 1 and go to B with
    probability `p`; from B, emit 0 and return to A.

    Arguments:
        p: probability of emitting 1 from A; in [0, 1].

    Returns:
        `T`, shape `(2, 2, 2)`.
    """
    _require_probability("p", p)
    matrices = np.zeros((2, 2, 2))
    matrices[0, 0, 0], matrices[1, 0, 1], matrices[0, 1, 0] = 1.0 - p, p, 1.0
    return matrices


MR_NAME_TOKENS = ("Mr.", "Something", "Blah", "name")


def mr_name(p: float = 0.4, q: float = 0.25) -> np.ndarray:
    """Returns the transition matrices of the "Mr. name" process (4 states, 4 tokens, both `MR_NAME_TOKENS`).

    The token emitted always names the state moved to. "Mr." is followed by "name"; "name" by "Something" or
    "Blah" (1/2 each); "Something" and "Blah" each go back to "Mr." with probability `q`, switch to the other
    with probability `p` and repeat themselves with probability `1 - p - q`.

    Arguments:
        p: probability of switching between "Something" and "Blah"; in [0, 1].
        q: probability of returning to "Mr."; in [0, 1], with `p + q <= 1`.

    Returns:
        `T`, shape `(4, 4, 4)`.
    """
    _require_probability("p", p)
    _require_probability("q", q)
    if p + q > 1.0:
        raise ValueError(f"p={p} and q={q} must have p + q <= 1")
    mister, something, blah, name = range(4)
    state_transitions = np.zeros((4, 4))
    state_transitions[mister, name] = 1.0
    state_transitions[name, [something, blah]] = 0.5
    state_transitions[something, [mister, something, blah]] = q, 1.0 - p - q, p
    state_transitions[blah, [mister, something, blah]] = q, p, 1.0 - p - q
    matrices = np.zeros((4, 4, 4))
    for token in range(4):
        matrices[token, :, token] = state_transitions[:, token]
    return matrices


def rrxor(pR1: float = 0.5, pR2: float = 0.5) -> np.ndarray:  # noqa: N803 (the names used in the literature)
    """Returns the transition matrices of the random-random-XOR process (5 states, tokens 0, 1).

    Two random bits, then their XOR, repeated. States: S = 0 (before the first bit), "0" = 1 and "1" = 2
    (after a first bit 0 or 1), T = 3 and F = 4 (the XOR to emit is 1 or 0). The entropy rate at
    `pR1 = pR2 = 1/2` is 2/3 bit and the stationary distribution is `[2, 1, 1, 1, 1] / 6`.

    Arguments:
        pR1: probability that the first random bit is 0; in [0, 1].
        pR2: probability that the second random bit is 0; in [0, 1].

    Returns:
        `T`, shape `(2, 5, 5)`.
    """
    _require_probability("pR1", pR1)
    _require_probability("pR2", pR2)
    s, zero, one, true, false = range(5)
    matrices = np.zeros((2, 5, 5))
    matrices[0, s, zero], matrices[1, s, one] = pR1, 1.0 - pR1
    matrices[0, zero, false], matrices[1, zero, true] = pR2, 1.0 - pR2
    matrices[0, one, true], matrices[1, one, false] = pR2, 1.0 - pR2
    matrices[1, true, s], matrices[0, false, s] = 1.0, 1.0
    return matrices


def leaky_rrxor(pR1: float = 0.5, pR2: float = 0.5, epsilon: float = 0.1) -> np.ndarray:  # noqa: N803
    """Returns the transition matrices of the leaky random-random-XOR process (5 states, tokens 0, 1).

    `(1 - epsilon)` times RRXOR's matrices plus `epsilon / 10` at every one of the `2 * 5 * 5` entries, so that
    every transition has positive probability (each row still sums to 1): a nonunifilar process whose observer
    never synchronizes, with RRXOR's structure as `epsilon -> 0`.

    Arguments:
        pR1: probability that the first random bit is 0; in [0, 1].
        pR2: probability that the second random bit is 0; in [0, 1].
        epsilon: weight of the uniform leak; in [0, 1].

    Returns:
        `T`, shape `(2, 5, 5)`.
    """
    _require_probability("epsilon", epsilon)
    return (1.0 - epsilon) * rrxor(pR1, pR2) + epsilon / 10.0


def sns(p: float = 0.5, q: float = 0.5) -> np.ndarray:
    """Returns the transition matrices of the simple nonunifilar source (2 states A, B = 0, 1; tokens 0, 1).

    From A, emit 1 and stay with probability `p` or move to B with `1 - p`; from B, emit 1 and stay with
    probability `q` or emit 0 and return to A with `1 - q`.

    Arguments:
        p: probability of staying in A; in [0, 1].
        q: probability of staying in B; in [0, 1].

    Returns:
        `T`, shape `(2, 2, 2)`.
    """
    _require_probability("p", p)
    _require_probability("q", q)
    matrices = np.zeros((2, 2, 2))
    matrices[1, 0, 0], matrices[1, 0, 1] = p, 1.0 - p
    matrices[1, 1, 1], matrices[0, 1, 0] = q, 1.0 - q
    return matrices


def zero_one_random(p: float = 0.5) -> np.ndarray:
    """Returns the transition matrices of the zero-one-random process (3 states A, B, C = 0, 1, 2; tokens 0, 1).

    A 0, a 1, then a random bit, repeated: A emits 0 and goes to B, B emits 1 and goes to C, C emits 0 with
    probability `p` (1 otherwise) and goes to A. The entropy rate at `p = 1/2` is 1/3 bit.

    Arguments:
        p: probability that the random bit is 0; in [0, 1].

    Returns:
        `T`, shape `(2, 3, 3)`.
    """
    _require_probability("p", p)
    matrices = np.zeros((2, 3, 3))
    matrices[0, 0, 1], matrices[1, 1, 2] = 1.0, 1.0
    matrices[0, 2, 0], matrices[1, 2, 0] = p, 1.0 - p
    return matrices


def random_insertion(p: float = 0.5, q: float = 0.5) -> np.ndarray:
    """Returns the transition matrices of the random insertion process (3 states A, B, C = 0, 1, 2; tokens 0, 1).

    A emits 0 (probability `p`) going to B, or 1 going to C; B emits 0 (probability `q`) or 1, going to A; C
    emits 1 and goes to A: after a 1 from A a 1 is inserted. Unifilar; cryptic (its causal state holds 0.344 bit
    the future never reveals at p = q = 1/2) and of infinite Markov order, with a smaller reverse machine
    (`simplexity.generative_processes.stored_information`: C+ 1.5 bits, C- 1.406 bits, E 1.156 bits).

    Arguments:
        p: probability that A emits 0; in [0, 1].
        q: probability that B emits 0; in [0, 1].

    Returns:
        `T`, shape `(2, 3, 3)`.
    """
    _require_probability("p", p)
    _require_probability("q", q)
    matrices = np.zeros((2, 3, 3))
    matrices[0, 0, 1], matrices[1, 0, 2] = p, 1.0 - p
    matrices[0, 1, 0], matrices[1, 1, 0] = q, 1.0 - q
    matrices[1, 2, 0] = 1.0
    return matrices


def matching_parens(open_probs: Sequence[float] = (1.0, 0.5, 0.5)) -> np.ndarray:
    """Returns the transition matrices of balanced parentheses up to depth `n = len(open_probs)`.

    Tokens: "(" = 0 and ")" = 1. States are the nesting depths `0..n`. At depth `d < n`, "(" goes to depth
    `d + 1` with probability `open_probs[d]` and ")" to depth `d - 1` otherwise; at depth `n`, ")" is certain.

    Arguments:
        open_probs: probability of opening at each depth below `n`, each in (0, 1]; `open_probs[0]` must be
            1 since depth 0 cannot close. Any sequence (a list, a tuple, an omegaconf `ListConfig`).

    Returns:
        `T`, shape `(2, n + 1, n + 1)`.
    """
    probs = [float(prob) for prob in list(open_probs)]
    if not probs:
        raise ValueError(f"open_probs={probs} must have at least one entry")
    if probs[0] != 1.0:
        raise ValueError(f"open_probs={probs}: open_probs[0]={probs[0]} must be 1.0 (depth 0 cannot close)")
    for depth, prob in enumerate(probs):
        if not 0.0 < prob <= 1.0:
            raise ValueError(f"open_probs={probs}: open_probs[{depth}]={prob} must be in (0, 1]")
    n = len(probs)
    matrices = np.zeros((2, n + 1, n + 1))
    for depth, prob in enumerate(probs):
        matrices[0, depth, depth + 1] = prob
        if depth > 0:
            matrices[1, depth, depth - 1] = 1.0 - prob
    matrices[1, n, n - 1] = 1.0
    return matrices


def fanizza(alpha: float = 2000.0, lamb: float = 0.49) -> np.ndarray:
    """Returns the matrices of Fanizza's process (a GHMM with 4 states and 2 tokens; some entries negative).

    A process with no finite hidden Markov model: token 0 resets the state to `pi0`, token 1 rotates it by
    `alpha` and contracts it by `lamb`. `T[0] = outer(w, pi0)` and `T[1] = lamb * diag(0, 1, R(alpha))` with
    `R(alpha)` the 2x2 rotation, where, with `a, b = (1 - lamb cos(alpha) ± lamb sin(alpha)) / (1 - 2 lamb
    cos(alpha) + lamb^2)`, `pi0 = [1 - (2 / (1 - lamb) - a - b) / 4, 1 / (2 (1 - lamb)), -a / 4, -b / 4]` and
    `w = [1, 1 - lamb, 1 + lamb (sin(alpha) - cos(alpha)), 1 - lamb (sin(alpha) + cos(alpha))]`.

    Arguments:
        alpha: rotation angle in radians.
        lamb: contraction factor; in (0, 1).

    Returns:
        `T`, shape `(2, 4, 4)`.
    """
    if not 0.0 < lamb < 1.0:
        raise ValueError(f"lamb={lamb} must be in (0, 1)")
    cos, sin = np.cos(alpha), np.sin(alpha)
    denominator = 1.0 - 2.0 * lamb * cos + lamb**2
    a = (1.0 - lamb * cos + lamb * sin) / denominator
    b = (1.0 - lamb * cos - lamb * sin) / denominator
    pi0 = np.array([1.0 - (2.0 / (1.0 - lamb) - a - b) / 4.0, 1.0 / (2.0 * (1.0 - lamb)), -a / 4.0, -b / 4.0])
    w = np.array([1.0, 1.0 - lamb, 1.0 + lamb * (sin - cos), 1.0 - lamb * (sin + cos)])
    rotation = np.array([[0, 0, 0, 0], [0, 1, 0, 0], [0, 0, cos, -sin], [0, 0, sin, cos]])
    return np.stack([np.outer(w, pi0), lamb * rotation])


def post_quantum(log_alpha: float = float(np.log(2.7)), beta: float = 0.5) -> np.ndarray:
    """Returns the matrices of a post-quantum process (a GHMM with 3 states and 3 tokens; some entries negative).

    With `alpha = exp(log_alpha)`: `T[0] = outer([1, 1, 0], [1, -1, -1])`, `T[1] = [[alpha, 0, 0], [0, 1, 0],
    [0, ln(alpha), 1]]` and `T[2]` the same with `beta`, all divided by the spectral radius of their sum.

    The defaults (`alpha = 2.7`, `beta = 0.5`) are the parameters of the published reference data.

    Arguments:
        log_alpha: `ln(alpha)`; `alpha > 1`, so `log_alpha > 0`.
        beta: in (0, 1), with `alpha + beta != 2` and `ln(alpha) / ln(beta)` not an integer.

    Returns:
        `T`, shape `(3, 3, 3)`.
    """
    if not log_alpha > 0.0:
        raise ValueError(f"log_alpha={log_alpha} must be > 0 (alpha = exp(log_alpha) must be > 1)")
    if not 0.0 < beta < 1.0:
        raise ValueError(f"beta={beta} must be in (0, 1)")
    alpha = np.exp(log_alpha)
    if np.isclose(alpha + beta, 2.0):
        raise ValueError(f"log_alpha={log_alpha} and beta={beta} must not have exp(log_alpha) + beta = 2")
    ratio = log_alpha / np.log(beta)
    if np.isclose(ratio, np.round(ratio)):
        raise ValueError(f"log_alpha={log_alpha} and beta={beta} must not have log_alpha / ln(beta) an integer")
    matrices = np.stack(
        [
            np.outer([1.0, 1.0, 0.0], [1.0, -1.0, -1.0]),
            np.array([[alpha, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, log_alpha, 1.0]]),
            np.array([[beta, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, np.log(beta), 1.0]]),
        ]
    )
    return matrices / np.max(np.abs(np.linalg.eigvals(matrices.sum(axis=0))))


def tom_quantum(alpha: float = 1.0, beta: float = 4.3) -> np.ndarray:
    """Returns the matrices of Tom's quantum process (a GHMM with 3 states and 4 tokens; some entries negative).

    With `gamma^2 = 1 / (4 (alpha^2 + beta^2))`, `c = 1/4`, `m = (alpha^2 - beta^2) gamma^2` and
    `o = 2 alpha beta gamma^2`: `T[0] = [[c, 0, o], [0, m, 0], [o, 0, c]]`, `T[1]` the same with `-o`,
    `T[2] = [[c, o, 0], [o, c, 0], [0, 0, m]]` and `T[3]` the same with `-o`.

    With `alpha = beta`, `m` vanishes and every matrix has rank one: the process is then a
    first-order Markov chain on tokens. The defaults, `alpha = 1` and `beta = 4.3`, are not degenerate.

    Arguments:
        alpha: first amplitude.
        beta: second amplitude; `alpha^2 + beta^2 > 0`.

    Returns:
        `T`, shape `(4, 3, 3)`.
    """
    if not alpha**2 + beta**2 > 0.0:
        raise ValueError(f"alpha={alpha} and beta={beta} must have alpha^2 + beta^2 > 0")
    gamma_squared = 1.0 / (4.0 * (alpha**2 + beta**2))
    c, m, o = 0.25, (alpha**2 - beta**2) * gamma_squared, 2.0 * alpha * beta * gamma_squared
    return np.array(
        [
            [[c, 0.0, o], [0.0, m, 0.0], [o, 0.0, c]],
            [[c, 0.0, -o], [0.0, m, 0.0], [-o, 0.0, c]],
            [[c, o, 0.0], [o, c, 0.0], [0.0, 0.0, m]],
            [[c, -o, 0.0], [-o, c, 0.0], [0.0, 0.0, m]],
        ]
    )
