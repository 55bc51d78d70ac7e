"""Builds an experiment from a composed config: processes, model, optimizer, checking that they fit together."""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import hydra
import jax
import jax.numpy as jnp
import optax
from omegaconf import DictConfig

from simplexity.config import ConfigError, ExperimentConfig, validate_experiment_config
from simplexity.config.schema import DataGeneratorConfig
from simplexity.errors import one_line
from simplexity.generative_processes import GenerativeProcess, estimate_entropy_rate
from simplexity.logging import ConsoleLogger, MetricsLogger
from simplexity.persistence import Checkpointer
from simplexity.predictive_models import PredictiveModel, as_predictive_model, split_parameters
from simplexity.training import (
    PeriodicEvaluation,
    TrainingConfig,
    TrainResult,
    TrainState,
    ValidationConfig,
    train,
)
from simplexity.training.optimizer import build_optimizer, learning_rate_schedule


@dataclass(frozen=True)
class Experiment:
    """Everything an experiment config builds: what `run_experiment.py` trains, ready to train in a notebook.

    `config` is the typed, checked config it was built from.
    """

    config: ExperimentConfig
    process: GenerativeProcess
    model: PredictiveModel
    optimizer: optax.GradientTransformation
    learning_rate: optax.Schedule
    training: TrainingConfig
    validation: ValidationConfig
    seed: int

    def train(
        self,
        loggers: Sequence[MetricsLogger] = (),
        checkpointer: Checkpointer | None = None,
        resume_from: TrainState | None = None,
        evaluations: Sequence[PeriodicEvaluation] = (),
        progress: bool | ConsoleLogger = False,
    ) -> TrainResult:
        """Trains the model as the command line would (without writing a run directory unless given loggers).

        Quiet unless `progress` (see `simplexity.training.train`).
        """
        return train(
            self.model,
            self.process,
            self.optimizer,
            self.training,
            seed=self.seed,
            validation=self.validation,
            loggers=loggers,
            checkpointer=checkpointer,
            resume_from=resume_from,
            learning_rate=self.learning_rate,
            evaluations=evaluations,
            entropy_rate=training_entropy_rate(self.process),
            progress=progress,
        )


# The entropy rate the training loss is compared with needs no more precision than float32 losses have; a process
# whose mixed states outgrow this many per length before it converges goes without that metric.
_ENTROPY_RATE_TOLERANCE = 1e-6
_ENTROPY_RATE_MAX_STATES = 100_000


def training_entropy_rate(process: GenerativeProcess) -> float | None:
    """Returns the entropy rate (nats) for the logged `loss_over_entropy_rate`, or None where it is out of reach.

    Out of reach: the myopic entropies do not converge before a length holds `_ENTROPY_RATE_MAX_STATES` mixed
    states (a fraction of a second to find out), as for `leaky_rrxor` and `tom_quantum`.
    """
    try:
        return estimate_entropy_rate(
            process, tolerance=_ENTROPY_RATE_TOLERANCE, max_states=_ENTROPY_RATE_MAX_STATES
        ).value
    except ValueError:
        return None


def instantiate(key: str, node: Any, **overrides: Any) -> Any:
    """Returns `hydra.utils.instantiate(node)`, turning a failure into a one-line `ConfigError` naming `key`."""
    try:
        return hydra.utils.instantiate(node, **overrides)
    except Exception as error:
        cause = error.__cause__ if error.__cause__ is not None else error
        raise ConfigError(f"{key}: {one_line(cause)}") from error


def _build_process(key: str, node: DataGeneratorConfig) -> GenerativeProcess:
    """Builds the process of the data generator node `key` and checks its declared vocab_size."""
    process = instantiate(f"{key}.instance", node.instance)
    if process.vocab_size != node.vocab_size:
        raise ConfigError.invalid(
            f"{key}.vocab_size",
            node.vocab_size,
            f"must equal the vocabulary of the process it configures ({process.vocab_size})",
        )
    return process


def build_experiment(cfg: DictConfig | ExperimentConfig) -> Experiment:
    """Checks `cfg` (converting a composed config once into `ExperimentConfig`) and builds what it configures.

    Builds the processes, the model and the optimizer, and checks that they fit together.
    """
    config = validate_experiment_config(cfg)
    process = _build_process("training_data_generator", config.training_data_generator)
    validation_process = (
        process
        if config.validation_data_generator is None
        else _build_process("validation_data_generator", config.validation_data_generator)
    )
    built = instantiate("predictive_model.instance", config.predictive_model.instance)
    try:
        model = as_predictive_model(built)
    except TypeError as error:
        raise ConfigError(f"predictive_model.instance: {error}") from error
    training = config.training
    _check_model_output(model, training.sequence_len, config.training_data_generator.vocab_size)
    schedule = learning_rate_schedule(
        training.schedule.name,
        training.optimizer.instance["learning_rate"],
        training.num_steps,
        training.schedule.warmup_steps,
        training.schedule.final_fraction,
    )
    optimizer = build_optimizer(
        lambda learning_rate: instantiate(
            "training.optimizer.instance", training.optimizer.instance, learning_rate=learning_rate
        ),
        schedule,
        training.max_grad_norm,
    )
    if not isinstance(optimizer, optax.GradientTransformation):
        raise ConfigError(f"training.optimizer.instance: built {type(optimizer).__name__}, not an optax optimizer")
    _check_optimizer(optimizer, model)
    validation = ValidationConfig(validation_process, config.validation.num_sequences, config.validation.seed)
    return Experiment(config, process, model, optimizer, schedule, training, validation, config.seed)


def _check_model_output(model: Any, seq: int, vocab: int) -> None:
    """Raises a `ConfigError` unless the model maps `(batch, seq)` tokens to `(batch, seq, vocab)` logits."""
    batch = 2
    try:
        logits = jax.eval_shape(model, jax.ShapeDtypeStruct((batch, seq), jnp.int32))
    except Exception as error:
        raise ConfigError(
            f"predictive_model.instance: calling the model on tokens ({batch}, {seq}) failed: {one_line(error)}"
        ) from error
    if getattr(logits, "shape", None) != (batch, seq, vocab):
        raise ConfigError(
            f"predictive_model.instance: model returns shape {getattr(logits, 'shape', None)} for tokens "
            f"({batch}, {seq}); a predictive model must return (batch, seq, vocab_size={vocab})"
        )


def _check_optimizer(optimizer: optax.GradientTransformation, model: Any) -> None:
    """Raises a `ConfigError` unless the optimizer can update the model's parameters (traced, not run)."""
    params, _ = split_parameters(model)
    try:
        jax.eval_shape(lambda p: optimizer.update(p, optimizer.init(p), p), params)
    except Exception as error:
        raise ConfigError(
            f"training.optimizer.instance: cannot update the model's parameters: {one_line(error)}"
        ) from error
