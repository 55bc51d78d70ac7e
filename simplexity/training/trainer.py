"""The training loop: one compiled function generates data and takes many optimizer steps."""

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.sharding import NamedSharding, PartitionSpec
from jaxtyping import Array, Int, PRNGKeyArray

from simplexity.config.errors import UserError
from simplexity.config.schema import TrainingConfig
from simplexity.generative_processes import GenerativeProcess
from simplexity.logging import MetricsLogger
from simplexity.persistence import Checkpointer
from simplexity.predictive_models import PredictiveModel
from simplexity.training.data import sample_sequences
from simplexity.training.devices import data_parallel_sharding
from simplexity.training.loss import next_token_loss
from simplexity.training.validator import ValidationConfig, Validator

# Streams derived from the run's seed; fixed so that a run's data never depends on anything but seed and step.
_TRAINING_DATA_STREAM = 1


class TrainState(eqx.Module):
    """Everything that changes during training: parameters, optimizer state and the number of steps taken."""

    params: Any
    opt_state: optax.OptState
    step: Int[Array, ""]


@dataclass(frozen=True)
class TrainResult:
    """What `train` returns: the trained model, its final state and every logged metrics record."""

    model: PredictiveModel
    state: TrainState
    metrics: list[dict[str, Any]]


def initial_train_state(model: PredictiveModel, optimizer: optax.GradientTransformation) -> TrainState:
    """Returns the state of a run that has taken no step: the model's parameters (copied) and a fresh optimizer."""
    params = jax.tree.map(jnp.copy, eqx.filter(model, eqx.is_array))
    return TrainState(params=params, opt_state=optimizer.init(params), step=jnp.asarray(0, dtype=jnp.int32))


def training_data_key(seed: int) -> PRNGKeyArray:
    """Returns the key from which the batch of step `s` is drawn as `fold_in(key, s)`."""
    return jax.random.fold_in(jax.random.key(seed), _TRAINING_DATA_STREAM)


def make_train_chunk(
    model: PredictiveModel,
    process: GenerativeProcess,
    optimizer: optax.GradientTransformation,
    config: TrainingConfig,
    data_key: PRNGKeyArray,
    batch_sharding: NamedSharding | None = None,
) -> Callable[[TrainState, int], tuple[TrainState, dict[str, Array]]]:
    """Returns `train_chunk(state, num_steps) -> (state, metrics)`, jit-compiled, donating `state`.

    One call samples a fresh batch for each step from `fold_in(data_key, step)`, takes `num_steps` optimizer
    steps inside `jax.lax.scan`, and returns per-metric sums over those steps and the index of the first step
    whose loss was not finite (`num_steps` if none); nothing leaves the device. With `batch_sharding`, each
    batch is split over devices along its first axis and the parameters are replicated (data parallel).
    """
    static = eqx.filter(model, eqx.is_array, inverse=True)

    def loss_of_params(params: Any, tokens: Int[Array, "batch seq"]) -> Array:
        return next_token_loss(eqx.combine(params, static), tokens)

    def train_step(state: TrainState, _: None) -> tuple[TrainState, dict[str, Array]]:
        tokens = sample_sequences(
            process, jax.random.fold_in(data_key, state.step), config.batch_size, config.sequence_len + 1
        )
        if batch_sharding is not None:
            tokens = jax.lax.with_sharding_constraint(tokens, batch_sharding)
        loss, grads = jax.value_and_grad(loss_of_params)(state.params, tokens)
        updates, opt_state = optimizer.update(grads, state.opt_state, state.params)
        params = eqx.apply_updates(state.params, updates)
        metrics = {"loss": loss, "grad_norm": optax.tree.norm(grads)}
        return TrainState(params=params, opt_state=opt_state, step=state.step + 1), metrics

    def train_chunk(state: TrainState, num_steps: int) -> tuple[TrainState, dict[str, Array]]:
        state, metrics = jax.lax.scan(train_step, state, length=num_steps)
        finite = jnp.isfinite(metrics["loss"])
        summary = jax.tree.map(jnp.sum, metrics)
        summary["first_non_finite"] = jnp.where(jnp.all(finite), num_steps, jnp.argmin(finite))
        return state, summary

    return jax.jit(train_chunk, static_argnums=1, donate_argnums=0)


class PeriodicEvaluation(Protocol):
    """Something measured on the model during training, every `every` steps (a multiple of `log_every`)."""

    every: int

    def __call__(self, model: PredictiveModel) -> dict[str, Any]:
        """Returns the metrics of `model`, named `group/...`."""
        ...


def _next_stop(step: int, config: TrainingConfig) -> int:
    """Returns the first step after `step` at which metrics are logged or a checkpoint is saved."""
    stops = [config.num_steps, (step // config.log_every + 1) * config.log_every]
    if config.checkpoint_every:
        stops.append((step // config.checkpoint_every + 1) * config.checkpoint_every)
    stops += [stop for stop in config.checkpoint_steps or [] if stop > step]
    return min(stops)


def _is_checkpoint_step(step: int, config: TrainingConfig) -> bool:
    """Returns whether a checkpoint is saved after `step`: the end, every `checkpoint_every`, `checkpoint_steps`."""
    every = config.checkpoint_every
    return step == config.num_steps or bool(every and step % every == 0) or step in (config.checkpoint_steps or [])


def train(
    model: PredictiveModel,
    process: GenerativeProcess,
    optimizer: optax.GradientTransformation,
    config: TrainingConfig,
    *,
    seed: int,
    validation: ValidationConfig | None = None,
    loggers: Sequence[MetricsLogger] = (),
    checkpointer: Checkpointer | None = None,
    resume_from: TrainState | None = None,
    learning_rate: optax.Schedule | None = None,
    evaluations: Sequence[PeriodicEvaluation] = (),
) -> TrainResult:
    """Trains `model` on sequences sampled from `process` until step `config.num_steps`.

    The host loop runs only between logging and checkpoint points; everything between them is one compiled
    call. The batch of step `s` depends only on `seed` and `s`, so a run resumed from a checkpoint continues
    exactly as the uninterrupted run would have. With several devices the batch is split over them.

    Arguments:
        model: the model to train; its arrays are copied, never modified.
        process: the generative process the training sequences come from.
        optimizer: an optax gradient transformation.
        config: lengths, sizes and intervals.
        seed: the run's seed; the training data derive from it.
        validation: evaluated at every logging point; its metrics are logged as `validation/...`.
        loggers: receive `{"loss", "grad_norm", "steps_per_second", "tokens_seen", ...}` every `log_every` steps.
        checkpointer: saves the `TrainState` every `checkpoint_every` steps and at the end.
        resume_from: the state to continue from (a restored checkpoint); a fresh one when None.
        learning_rate: the schedule, to log `learning_rate` at each logging point.
        evaluations: run on the model at the logging points that are multiples of their `every` (and at the
            end); their metrics join that step's record. They run outside the compiled chunk, so they change
            nothing that is compiled.

    Returns:
        The trained model, its final `TrainState` and the logged metrics.

    Raises:
        NonFiniteLossError: naming the first step whose loss was NaN or infinite; no checkpoint is written
            after it.

    Example:
        >>> result = train(model, process, optax.adam(1e-3), TrainingConfig(64, 64, 1000, 100), seed=0)
        >>> result.metrics[-1]["loss"]
    """
    sharding = data_parallel_sharding()
    state: TrainState = initial_train_state(model, optimizer) if resume_from is None else resume_from
    if sharding is not None:
        state = jax.device_put(state, NamedSharding(sharding.mesh, PartitionSpec()))
    train_chunk = make_train_chunk(model, process, optimizer, config, training_data_key(seed), sharding)
    validator = Validator(model, validation, config.sequence_len) if validation is not None else None
    compiled_chunks: dict[int, Any] = {}
    history: list[dict[str, Any]] = []
    interval = _IntervalMetrics()
    step = int(state.step)
    while step < config.num_steps:
        num_steps = _next_stop(step, config) - step
        if num_steps not in compiled_chunks:
            start = time.perf_counter()
            compiled_chunks[num_steps] = train_chunk.lower(state, num_steps).compile()  # pyright: ignore
            interval.compile_seconds += time.perf_counter() - start
        start = time.perf_counter()
        state, sums = compiled_chunks[num_steps](state)
        # The only device-to-host transfer between logging points: the chunk's summed metrics (a few scalars).
        sums = jax.device_get(sums)
        first_non_finite = int(sums.pop("first_non_finite"))
        if first_non_finite < num_steps:
            raise NonFiniteLossError(f"loss became non-finite at step {step + first_non_finite + 1}")
        interval.add(sums, num_steps, time.perf_counter() - start)
        step += num_steps
        if step % config.log_every == 0 or step == config.num_steps:
            record: dict[str, Any] = interval.means()
            record["tokens_seen"] = float(step * config.batch_size * config.sequence_len)
            if learning_rate is not None:
                record["learning_rate"] = float(np.asarray(learning_rate(step - 1)))
            if validator is not None:
                record.update(validator(state.params))
            due = [evaluation for evaluation in evaluations if step % evaluation.every == 0 or step == config.num_steps]
            if due:
                current = eqx.combine(state.params, eqx.filter(model, eqx.is_array, inverse=True))
                for evaluation in due:
                    record.update(evaluation(current))
            for logger in loggers:
                logger.log(step, record)
            history.append({"step": step, **record})
            interval = _IntervalMetrics()
        if checkpointer is not None and _is_checkpoint_step(step, config):
            checkpointer.save(step, state)
    trained = eqx.combine(state.params, eqx.filter(model, eqx.is_array, inverse=True))
    return TrainResult(model=trained, state=state, metrics=history)


class NonFiniteLossError(UserError):
    """The training loss became NaN or infinite; its message names the step. No checkpoint follows it.

    A user's error (a learning rate too large, say): the command line reports it in one line, exit code 3.
    """

    exit_code = 3


@dataclass
class _IntervalMetrics:
    """Metric sums over the steps since the last log, with the time they took."""

    sums: dict[str, float] = field(default_factory=dict)
    steps: int = 0
    seconds: float = 0.0
    compile_seconds: float = 0.0

    def add(self, sums: dict[str, Any], steps: int, seconds: float) -> None:
        for name, value in sums.items():
            self.sums[name] = self.sums.get(name, 0.0) + float(value)
        self.steps += steps
        self.seconds += seconds

    def means(self) -> dict[str, float]:
        """Returns per-step means, steps per second, and the compile time if any compile happened."""
        record = {name: value / self.steps for name, value in self.sums.items()}
        record["steps_per_second"] = self.steps / self.seconds if self.seconds > 0 else math.inf
        if self.compile_seconds:
            record["compile_seconds"] = self.compile_seconds
        return record
