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
from jax.sharding import NamedSharding
from jaxtyping import Array, Float, Int, PRNGKeyArray

from simplexity.errors import UserError
from simplexity.generative_processes import GenerativeProcess
from simplexity.interruption import INTERRUPTED_EXIT_CODE, TERMINATED_EXIT_CODE, Terminated, stopping_signals_deferred
from simplexity.logging import ConsoleLogger, MetricsLogger
from simplexity.persistence import Checkpointer
from simplexity.predictive_models import PredictiveModel, split_parameters
from simplexity.training.data import sample_sequences
from simplexity.training.devices import data_parallel_sharding, replicate
from simplexity.training.loss import next_token_loss
from simplexity.training.precision import in_compute_dtype
from simplexity.training.settings import TrainingConfig
from simplexity.training.validator import ValidationConfig, Validator

# Streams derived from the run's seed; fixed so that a run's data never depends on anything but seed and step.
_TRAINING_DATA_STREAM = 1


class TrainState(eqx.Module):
    """Everything that changes during training: parameters, optimizer state, steps taken and loss statistics.

    Arguments:
        params: the model's parameters (`split_parameters`).
        opt_state: the optimizer's state.
        step: optimizer steps taken.
        loss_ema_sum: the exponential moving average of the loss before bias correction (`sum_s (1 - d) d^(t-s)
            loss_s`); the logged `loss_ema` divides it by `1 - d^t`.
        loss_min: the lowest training loss of any step so far (infinity before the first).
    """

    params: Any
    opt_state: optax.OptState
    step: Int[Array, ""]
    loss_ema_sum: Float[Array, ""]
    loss_min: Float[Array, ""]


@dataclass(frozen=True)
class TrainResult:
    """What `train` returns: the trained model, its final state and every logged metrics record."""

    model: PredictiveModel
    state: TrainState
    metrics: list[dict[str, Any]]


def initial_train_state(model: PredictiveModel, optimizer: optax.GradientTransformation) -> TrainState:
    """Returns the state of a run that has taken no step: the model's parameters (copied) and a fresh optimizer."""
    params, _ = split_parameters(model)
    params = jax.tree.map(jnp.copy, params)
    return TrainState(
        params=params,
        opt_state=optimizer.init(params),
        step=jnp.asarray(0, dtype=jnp.int32),
        loss_ema_sum=jnp.asarray(0.0, dtype=jnp.float32),
        loss_min=jnp.asarray(jnp.inf, dtype=jnp.float32),
    )


def training_data_key(seed: int) -> PRNGKeyArray:
    """Returns the key from which the batch of step `s` is drawn as `fold_in(key, s)`."""
    return jax.random.fold_in(jax.random.key(seed), _TRAINING_DATA_STREAM)


def make_train_chunk(
    model: PredictiveModel,
    optimizer: optax.GradientTransformation,
    config: TrainingConfig,
    batch_sharding: NamedSharding | None = None,
) -> Callable[[TrainState, Any, GenerativeProcess, PRNGKeyArray, int], tuple[TrainState, dict[str, Array]]]:
    """Returns `train_chunk(state, initial_params, process, data_key, num_steps) -> (state, metrics)`, jit-compiled.

    One call samples a fresh batch for each step from `process` with the key `fold_in(data_key, step)`, takes
    `num_steps` optimizer steps inside `jax.lax.scan`, and returns, without leaving the device: per-step sums over
    those steps (loss, gradient and update norms), the values after the last step (`FINAL_METRICS`, measured against
    `initial_params`) and the index of the first step whose loss was not finite (`num_steps` if none). It donates
    `state`. With `batch_sharding`, each batch is split over devices along its first axis and the parameters are
    replicated (data parallel).

    The process and the data key are arguments, not constants of the compiled program: runs that differ only in
    their seed, or in the process's parameters but not its sizes, run the same program, which JAX's persistent
    compilation cache (when set, see docs/performance.md) compiles once. The process's leaves are arrays (an
    Equinox module whose other fields are static, as every process of the library is).

    Arguments:
        model: the model; its arrays' structure and its static parts.
        optimizer: the optax transformation.
        config: sizes, and `loss_ema_decay`.
        batch_sharding: how each batch is split over devices; None on one device.
    """
    _, static = split_parameters(model)
    decay = config.loss_ema_decay

    def loss_of_params(params: Any, tokens: Int[Array, "batch seq"]) -> Array:
        return next_token_loss(eqx.combine(in_compute_dtype(params, config.precision), static), tokens)

    def train_chunk(
        state: TrainState, initial_params: Any, process: GenerativeProcess, data_key: PRNGKeyArray, num_steps: int
    ) -> tuple[TrainState, dict[str, Array]]:
        def train_step(state: TrainState, _: None) -> tuple[TrainState, dict[str, Array]]:
            tokens = sample_sequences(
                process, jax.random.fold_in(data_key, state.step), config.batch_size, config.sequence_len + 1
            )
            if batch_sharding is not None:
                tokens = jax.lax.with_sharding_constraint(tokens, batch_sharding)
            loss, grads = jax.value_and_grad(loss_of_params)(state.params, tokens)
            updates, opt_state = optimizer.update(grads, state.opt_state, state.params)
            params = eqx.apply_updates(state.params, updates)
            metrics = {"loss": loss, "grad_norm": optax.tree.norm(grads), "update_norm": optax.tree.norm(updates)}
            new_state = TrainState(
                params=params,
                opt_state=opt_state,
                step=state.step + 1,
                loss_ema_sum=decay * state.loss_ema_sum + (1.0 - decay) * loss,  # the loss is float32
                loss_min=jnp.minimum(state.loss_min, loss),
            )
            return new_state, metrics

        state, metrics = jax.lax.scan(train_step, state, length=num_steps)
        finite = jnp.isfinite(metrics["loss"])
        summary = jax.tree.map(jnp.sum, metrics)
        # Measured once after the scan, not at every step: they describe where the chunk ended.
        summary["param_norm"] = optax.tree.norm(state.params)
        summary["distance_from_init"] = optax.tree.norm(jax.tree.map(jnp.subtract, state.params, initial_params))
        summary["loss_ema"] = state.loss_ema_sum / (1.0 - decay ** state.step.astype(jnp.float32))
        summary["loss_min"] = state.loss_min
        summary["first_non_finite"] = jnp.where(jnp.all(finite), num_steps, jnp.argmin(finite))
        return state, summary

    return jax.jit(train_chunk, static_argnums=4, donate_argnums=0)


def make_initial_loss(
    model: PredictiveModel, config: TrainingConfig
) -> Callable[[Any, GenerativeProcess, PRNGKeyArray], Array]:
    """Returns `initial_loss(params, process, data_key)`, jit-compiled: the loss of `params` on the batch of step 0.

    That is the batch the first optimizer step trains on, drawn from `fold_in(data_key, 0)` as the chunk draws it;
    the loss is computed as the chunk computes it (in `config.precision`), outside the chunk, so it changes nothing
    that the chunk computes.
    """
    _, static = split_parameters(model)

    def initial_loss(params: Any, process: GenerativeProcess, data_key: PRNGKeyArray) -> Array:
        tokens = sample_sequences(process, jax.random.fold_in(data_key, 0), config.batch_size, config.sequence_len + 1)
        return next_token_loss(eqx.combine(in_compute_dtype(params, config.precision), static), tokens)

    return jax.jit(initial_loss)


# Metrics the chunk reports after its last step; the others it sums over its steps (logged as means per step).
FINAL_METRICS = ("param_norm", "distance_from_init", "loss_ema", "loss_min")


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
    """Returns whether a checkpoint is saved after `step`: the end, every `checkpoint_every`, `checkpoint_steps`.

    Step 0 (the initial parameters) is saved only when `checkpoint_steps` lists it.
    """
    every = config.checkpoint_every
    periodic = bool(every and step > 0 and step % every == 0)
    return step == config.num_steps or periodic or step in (config.checkpoint_steps or [])


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
    entropy_rate: float | None = None,
    progress: bool | ConsoleLogger = False,
) -> TrainResult:
    """Trains `model` on sequences sampled from `process` until step `config.num_steps`.

    The host loop runs only between logging and checkpoint points; everything between them is one compiled
    call. The batch of step `s` depends only on `seed` and `s`, so a run resumed from a checkpoint continues
    exactly as the uninterrupted run would have. With several devices the batch is split over them.

    A run that starts at step 0 logs a record of step 0 first: the loss of the initial parameters on the batch of
    step 0 (the one the first step trains on), `tokens_seen` 0 and the validation metrics; it is computed outside
    the compiled chunk and changes nothing that training computes. Every record has `wall_time`, the seconds
    (monotonic clock) since this call started.

    Arguments:
        model: the model to train; its arrays are copied, never modified.
        process: the generative process the training sequences come from.
        optimizer: an optax gradient transformation.
        config: lengths, sizes and intervals.
        seed: the run's seed; the training data derive from it.
        validation: evaluated at every logging point; its metrics are logged as `validation/...`.
        loggers: receive every `log_every` steps the means over the interval of `loss`, `grad_norm`, `update_norm`
            (and `loss_over_entropy_rate`), the values at the step of `param_norm`, `distance_from_init` (from
            `model`'s parameters, also on a resumed run), `loss_ema` and `loss_min`, and `steps_per_second`,
            `tokens_seen`, `learning_rate` and the validation and evaluation metrics.
        checkpointer: saves the `TrainState` every `checkpoint_every` steps and at the end.
        resume_from: the state to continue from (a restored checkpoint); a fresh one when None.
        learning_rate: the schedule, to log `learning_rate` at each logging point.
        evaluations: run on the model at the logging points that are multiples of their `every` (and at the
            end); their metrics join that step's record. They run outside the compiled chunk, so they change
            nothing that is compiled.
        entropy_rate: the process's entropy rate (nats per token), for `loss_over_entropy_rate`; not logged
            when None.
        progress: whether to show progress on standard output (a `ConsoleLogger`: a line redrawn in place on a
            terminal, a line per logged step elsewhere, a line when a chunk has compiled and a closing line), or
            the `ConsoleLogger` to show it with. Nothing is printed when False.

    Returns:
        The trained model, its final `TrainState` and the logged metrics.

    Raises:
        NonFiniteLossError: naming the first step whose loss was NaN or infinite; no checkpoint is written
            after it.
        TrainingInterruptedError: on Ctrl-C (or SIGTERM, as `simplexity.interruption.Terminated`), naming the last
            completed step; with `config.checkpoint_on_interrupt`, the state at the interrupt is saved first. A
            second signal while that checkpoint is written takes effect once it is complete, and changes nothing.

    Example:
        >>> result = train(model, process, optax.adam(1e-3), TrainingConfig(64, 64, 1000, 100), seed=0)
        >>> result.metrics[-1]["loss"]
    """
    run_start = time.monotonic()
    sharding = data_parallel_sharding()
    state: TrainState = initial_train_state(model, optimizer) if resume_from is None else resume_from
    if sharding is not None:
        state = replicate(state, sharding)
    train_chunk = make_train_chunk(model, optimizer, config, sharding)
    data_key = training_data_key(seed)
    initial_params, static = split_parameters(model)
    validator = Validator(model, validation, config.sequence_len) if validation is not None else None
    compiled_chunks: dict[int, Any] = {}
    history: list[dict[str, Any]] = []
    interval = _IntervalMetrics()
    step = int(state.step)
    display = progress if isinstance(progress, ConsoleLogger) else None
    if progress is True:
        display = ConsoleLogger(config.num_steps, start_step=step)
    finite = True  # whether `state` is one whose losses were all finite
    try:
        if step == 0 < config.num_steps:
            initial_loss = make_initial_loss(model, config)
            record = {"loss": float(initial_loss(state.params, process, data_key)), "tokens_seen": 0.0}
            if entropy_rate is not None:
                record["loss_over_entropy_rate"] = record["loss"] - entropy_rate
            if validator is not None:
                record.update(validator(state.params))
            try:
                _log(history, loggers, display, 0, record, run_start)
            finally:
                if resume_from is None:  # step 0, when training.checkpoint_steps lists it; a resume from 0 has it
                    _save_if_due(checkpointer, 0, state, config)
        while step < config.num_steps:
            num_steps = _next_stop(step, config) - step
            if num_steps not in compiled_chunks:
                start = time.perf_counter()
                compiled_chunks[num_steps] = train_chunk.lower(  # pyright: ignore[reportFunctionMemberAccess]
                    state, initial_params, process, data_key, num_steps
                ).compile()
                interval.compile_seconds += time.perf_counter() - start
                if display is not None:
                    display.compiled(num_steps, time.perf_counter() - start)
            start = time.perf_counter()
            # A stop during the chunk takes effect once the chunk has returned its state (the old one is donated to
            # it), so that there is a whole state to save; it is saved only if its losses were finite.
            with stopping_signals_deferred():
                finite = False
                state, sums = compiled_chunks[num_steps](state, initial_params, process, data_key)
                # The only device-to-host transfer between logging points: the chunk's summed metrics (a few scalars).
                sums = jax.device_get(sums)
                first_non_finite = int(sums.pop("first_non_finite"))
                finite = first_non_finite == num_steps
            if not finite:
                raise NonFiniteLossError(f"loss became non-finite at step {step + first_non_finite + 1}")
            interval.add(sums, num_steps, time.perf_counter() - start)
            step += num_steps
            if step % config.log_every == 0 or step == config.num_steps:
                record: dict[str, Any] = interval.means()
                record["tokens_seen"] = float(step * config.batch_size * config.sequence_len)
                if entropy_rate is not None:
                    record["loss_over_entropy_rate"] = record["loss"] - entropy_rate
                if learning_rate is not None:
                    record["learning_rate"] = float(np.asarray(learning_rate(step - 1)))
                if validator is not None:
                    record.update(validator(state.params))
                due = [
                    evaluation for evaluation in evaluations if step % evaluation.every == 0 or step == config.num_steps
                ]
                if due:
                    current = eqx.combine(state.params, static)
                    for evaluation in due:
                        record.update(evaluation(current))
                interval = _IntervalMetrics()
                try:
                    _log(history, loggers, display, step, record, run_start)
                finally:  # a logger that fails never costs the step's checkpoint
                    _save_if_due(checkpointer, step, state, config)
            else:
                _save_if_due(checkpointer, step, state, config)
    except KeyboardInterrupt as interrupt:
        if display is not None:
            display.close()
        # A stop held during a chunk arrives before `step` counts the chunk's steps; `state` has them.
        reached = int(state.step) if finite and _is_intact(state) else step
        saved = None
        if config.checkpoint_on_interrupt and finite:
            try:
                with stopping_signals_deferred():  # a second signal now takes effect once the save is complete
                    saved = _checkpoint_at_interrupt(state, checkpointer)
            except KeyboardInterrupt:
                saved = _saved_step(state, checkpointer)
        raise TrainingInterruptedError(reached, saved, terminated=isinstance(interrupt, Terminated)) from interrupt
    except BaseException:
        if display is not None:
            display.close()
        raise
    if display is not None:
        display.finish(step, history[-1] if history else {}, time.monotonic() - run_start)
    trained = eqx.combine(state.params, static)
    return TrainResult(model=trained, state=state, metrics=history)


def _log(
    history: list[dict[str, Any]],
    loggers: Sequence[MetricsLogger],
    display: ConsoleLogger | None,
    step: int,
    record: dict[str, Any],
    run_start: float,
) -> None:
    """Adds `wall_time` to `record`, keeps it in `history` and hands it to the loggers and the display."""
    record["wall_time"] = time.monotonic() - run_start
    history.append({"step": step, **record})
    if display is not None:
        display.log(step, record)
    for logger in loggers:
        logger.log(step, record)


def _save_if_due(checkpointer: Checkpointer | None, step: int, state: TrainState, config: TrainingConfig) -> None:
    if checkpointer is not None and _is_checkpoint_step(step, config):
        checkpointer.save(step, state)


def _is_intact(state: TrainState) -> bool:
    """Whether `state`'s buffers are all there: a stop during a chunk's dispatch leaves them donated to it."""
    return not any(leaf.is_deleted() for leaf in jax.tree.leaves(state))


def _checkpoint_at_interrupt(state: TrainState, checkpointer: Checkpointer | None) -> int | None:
    """Saves `state` when it is intact and not saved yet; returns its step, or None when nothing was saved.

    Ctrl-C can land while a chunk's call is being dispatched, after `state`'s buffers were donated to it: then
    there is nothing whole to save.
    """
    if checkpointer is None or not _is_intact(state):
        return None
    step = int(state.step)
    if step not in checkpointer.steps():
        print(f"stopping at step {step}: saving a checkpoint", flush=True)
        checkpointer.save(step, state)
    return step


def _saved_step(state: TrainState, checkpointer: Checkpointer | None) -> int | None:
    """Returns the step of `state` if its checkpoint is complete, else None."""
    if checkpointer is None or not _is_intact(state):
        return None
    step = int(state.step)
    return step if step in checkpointer.steps() else None


class TrainingInterruptedError(UserError):
    """Ctrl-C (exit code 130) or SIGTERM (exit code 143) stopped the run.

    Arguments:
        step: the last step whose chunk completed.
        saved: the step of the checkpoint saved at the interrupt, or None.
        note: what follows `interrupted at step N; ` in the message (where the work is kept), if anything.
        terminated: SIGTERM stopped the run (`terminated by SIGTERM at step N`), not Ctrl-C.
    """

    exit_code = INTERRUPTED_EXIT_CODE

    def __init__(self, step: int, saved: int | None, note: str | None = None, terminated: bool = False):
        what = "terminated by SIGTERM" if terminated else "interrupted"
        super().__init__(f"{what} at step {step}" + (f"; {note}" if note else ""))
        self.step, self.saved, self.terminated = step, saved, terminated
        self.exit_code = TERMINATED_EXIT_CODE if terminated else INTERRUPTED_EXIT_CODE


class NonFiniteLossError(UserError):
    """The training loss became NaN or infinite; its message names the step. No checkpoint follows it.

    A user's error (a learning rate too large, say): the command line reports it in one line, exit code 3.
    """

    exit_code = 3


@dataclass
class _IntervalMetrics:
    """Metric sums over the steps since the last log, the last chunk's final metrics, and the time they took."""

    sums: dict[str, float] = field(default_factory=dict)
    finals: dict[str, float] = field(default_factory=dict)
    steps: int = 0
    seconds: float = 0.0
    compile_seconds: float = 0.0

    def add(self, sums: dict[str, Any], steps: int, seconds: float) -> None:
        """Adds one chunk's summed metrics; its final metrics replace the previous chunk's."""
        for name, value in sums.items():
            if name in FINAL_METRICS:
                self.finals[name] = float(value)
            else:
                self.sums[name] = self.sums.get(name, 0.0) + float(value)
        self.steps += steps
        self.seconds += seconds

    def means(self) -> dict[str, float]:
        """Returns per-step means, the final values, steps per second, and the compile time if any compile happened."""
        record = {name: value / self.steps for name, value in self.sums.items()}
        record.update(self.finals)
        record["steps_per_second"] = self.steps / self.seconds if self.seconds > 0 else math.inf
        if self.compile_seconds:
            record["compile_seconds"] = self.compile_seconds
        return record
