"""Optimizers with a learning-rate schedule and optional gradient clipping, composed with `optax.chain`."""

from collections.abc import Callable

import optax

from simplexity.training.settings import SCHEDULES


def learning_rate_schedule(
    name: str, peak_learning_rate: float, num_steps: int, warmup_steps: int = 0, final_fraction: float = 0.0
) -> optax.Schedule:
    """Returns a learning-rate schedule whose largest value is `peak_learning_rate`.

    Arguments:
        name: `constant`, or `warmup_cosine` (linear warmup from 0 over `warmup_steps`, then cosine decay to
            `final_fraction * peak_learning_rate` at `num_steps`).
        peak_learning_rate: the learning rate at the top of the schedule.
        num_steps: the run's length.
        warmup_steps: steps of linear warmup (`warmup_cosine` only).
        final_fraction: the final learning rate as a fraction of the peak (`warmup_cosine` only).

    Example:
        >>> schedule = learning_rate_schedule("warmup_cosine", 1e-3, num_steps=1000, warmup_steps=100)
        >>> float(schedule(100))
        0.001
    """
    if name == "constant":
        return optax.constant_schedule(peak_learning_rate)
    if name == "warmup_cosine":
        return optax.warmup_cosine_decay_schedule(
            init_value=0.0,
            peak_value=peak_learning_rate,
            warmup_steps=warmup_steps,
            decay_steps=max(num_steps, warmup_steps + 1),
            end_value=final_fraction * peak_learning_rate,
        )
    raise ValueError(f"schedule={name!r} is not a schedule; allowed: {', '.join(SCHEDULES)}")


def build_optimizer(
    make_optimizer: Callable[[optax.ScalarOrSchedule], optax.GradientTransformation],
    schedule: optax.Schedule,
    max_grad_norm: float | None = None,
) -> optax.GradientTransformation:
    """Returns the optimizer made with `schedule` as its learning rate, after clipping by global norm if asked.

    Arguments:
        make_optimizer: builds the optax optimizer from a learning rate or schedule (e.g. `optax.adamw`).
        schedule: the learning-rate schedule.
        max_grad_norm: clip gradients to this global norm first; no clipping when None.
    """
    optimizer = make_optimizer(schedule)
    if max_grad_norm is None:
        return optimizer
    return optax.chain(optax.clip_by_global_norm(max_grad_norm), optimizer)
