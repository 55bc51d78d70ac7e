"""Transition matrices `T[x, i, j]` of named processes, as functions of their parameters."""

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
