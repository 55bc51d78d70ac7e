"""Builds an experiment from a composed config: processes, model, optimizer, checking that they fit together."""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import equinox as eqx
import hydra
import jax
import jax.numpy as jnp
import optax
from omegaconf import DictConfig, OmegaConf

from simplexity.config import ConfigError, validate_experiment_config
from simplexity.config.errors import one_line
from simplexity.generative_processes import GenerativeProcess
from simplexity.logging import MetricsLogger
from simplexity.persistence import Checkpointer
from simplexity.predictive_models import PredictiveModel, as_predictive_model
from simplexity.training import TrainingConfig, TrainResult, TrainState, ValidationConfig, train
from simplexity.training.optimizer import build_optimizer, learning_rate_schedule


@dataclass(frozen=True)
class Experiment:
    """Everything an experiment config builds: what `run_experiment.py` trains, ready to train in a notebook."""

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
    ) -> TrainResult:
        """Trains the model as the command line would (without writing a run directory unless given loggers)."""
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
        )


def instantiate(cfg: DictConfig, key: str, **overrides: Any) -> Any:
    """Returns `hydra.utils.instantiate` of the node at `key`, turning a failure into a one-line `ConfigError`."""
    try:
        return hydra.utils.instantiate(OmegaConf.select(cfg, key), **overrides)
    except Exception as error:
        cause = error.__cause__ if error.__cause__ is not None else error
        raise ConfigError(f"{key}: {one_line(cause)}") from error


def _build_process(cfg: DictConfig, key: str) -> GenerativeProcess:
    """Builds the process of the data generator node `key` and checks its declared vocab_size."""
    process = instantiate(cfg, f"{key}.instance")
    declared = OmegaConf.select(cfg, f"{key}.vocab_size")
    if process.vocab_size != declared:
        raise ConfigError.invalid(
            f"{key}.vocab_size",
            declared,
            f"must equal the vocabulary of the process it configures ({process.vocab_size})",
        )
    return process


def build_experiment(cfg: DictConfig) -> Experiment:
    """Validates `cfg` and builds its processes, model and optimizer, checking that they fit together."""
    validate_experiment_config(cfg)
    process = _build_process(cfg, "training_data_generator")
    validation_key = (
        "validation_data_generator" if cfg.validation_data_generator is not None else "training_data_generator"
    )
    validation_process = _build_process(cfg, validation_key) if validation_key != "training_data_generator" else process
    built = instantiate(cfg, "predictive_model.instance")
    try:
        model = as_predictive_model(built)
    except TypeError as error:
        raise ConfigError(f"predictive_model.instance: {error}") from error
    _check_model_output(model, cfg)
    schedule = learning_rate_schedule(
        cfg.training.schedule.name,
        cfg.training.optimizer.instance.learning_rate,
        cfg.training.num_steps,
        cfg.training.schedule.warmup_steps,
        cfg.training.schedule.final_fraction,
    )
    optimizer = build_optimizer(
        lambda learning_rate: instantiate(cfg, "training.optimizer.instance", learning_rate=learning_rate),
        schedule,
        cfg.training.max_grad_norm,
    )
    if not isinstance(optimizer, optax.GradientTransformation):
        raise ConfigError(f"training.optimizer.instance: built {type(optimizer).__name__}, not an optax optimizer")
    _check_optimizer(optimizer, model)
    training = TrainingConfig(
        sequence_len=cfg.training.sequence_len,
        batch_size=cfg.training.batch_size,
        num_steps=cfg.training.num_steps,
        log_every=cfg.training.log_every,
        checkpoint_every=cfg.training.checkpoint_every,
    )
    validation = ValidationConfig(validation_process, cfg.validation.num_sequences, cfg.validation.seed)
    return Experiment(process, model, optimizer, schedule, training, validation, cfg.seed)


def _check_model_output(model: Any, cfg: DictConfig) -> None:
    """Raises a `ConfigError` unless the model maps `(batch, seq)` tokens to `(batch, seq, vocab)` logits."""
    batch, seq, vocab = 2, cfg.training.sequence_len, cfg.training_data_generator.vocab_size
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
    params = eqx.filter(model, eqx.is_array)
    try:
        jax.eval_shape(lambda p: optimizer.update(p, optimizer.init(p), p), params)
    except Exception as error:
        raise ConfigError(
            f"training.optimizer.instance: cannot update the model's parameters: {one_line(error)}"
        ) from error
