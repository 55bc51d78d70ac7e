"""One experiment from a composed config: build, resume if asked, train, checkpoint, log."""

import os
from dataclasses import dataclass
from pathlib import Path
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
from simplexity.logging import ConsoleLogger, JsonlLogger
from simplexity.persistence import Checkpointer
from simplexity.predictive_models import PredictiveModel, as_predictive_model, summarize
from simplexity.training import TrainingConfig, TrainState, initial_train_state, train


@dataclass(frozen=True)
class Experiment:
    """Everything an experiment config builds."""

    process: GenerativeProcess
    model: PredictiveModel
    optimizer: optax.GradientTransformation
    training: TrainingConfig


def instantiate(cfg: DictConfig, key: str) -> Any:
    """Returns `hydra.utils.instantiate` of the node at `key`, turning a failure into a one-line `ConfigError`."""
    try:
        return hydra.utils.instantiate(OmegaConf.select(cfg, key))
    except Exception as error:
        cause = error.__cause__ if error.__cause__ is not None else error
        raise ConfigError(f"{key}: {one_line(cause)}") from error


def build_experiment(cfg: DictConfig) -> Experiment:
    """Validates `cfg` and builds its process, model and optimizer, checking that they fit together."""
    validate_experiment_config(cfg)
    process = instantiate(cfg, "training_data_generator.instance")
    if process.vocab_size != cfg.training_data_generator.vocab_size:
        raise ConfigError.invalid(
            "training_data_generator.vocab_size",
            cfg.training_data_generator.vocab_size,
            f"must equal the vocabulary of the process it configures ({process.vocab_size})",
        )
    built = instantiate(cfg, "predictive_model.instance")
    try:
        model = as_predictive_model(built)
    except TypeError as error:
        raise ConfigError(f"predictive_model.instance: {error}") from error
    _check_model_output(model, cfg)
    optimizer = instantiate(cfg, "training.optimizer.instance")
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
    return Experiment(process=process, model=model, optimizer=optimizer, training=training)


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


def _resolve_resume(cfg: DictConfig, checkpoint_dir: Path, template: TrainState) -> tuple[TrainState | None, int]:
    """Returns the state to resume from (None for a fresh start) and its step, or raises a `ConfigError`.

    Refuses anything that would overwrite checkpoints already in `checkpoint_dir`.
    """
    step_key = "predictive_model.load_checkpoint_step"
    requested = cfg.predictive_model.load_checkpoint_step
    own_steps = Checkpointer(checkpoint_dir).steps()
    if requested is None:
        if own_steps:
            raise ConfigError(
                f"persistence.checkpoint_dir={str(checkpoint_dir)!r}: already holds checkpoints {own_steps}; "
                f"resume with {step_key}=latest or write into another hydra.run.dir"
            )
        return None, 0
    load_dir_value = OmegaConf.select(cfg, "predictive_model.load_checkpoint_dir", default=None)
    load_dir = Path(load_dir_value).absolute() if load_dir_value else checkpoint_dir
    if not load_dir.is_dir() or not os.access(load_dir, os.R_OK | os.X_OK):
        key = "predictive_model.load_checkpoint_dir" if load_dir_value else "persistence.checkpoint_dir"
        raise ConfigError.invalid(key, str(load_dir), "is not a readable directory of checkpoints")
    steps = Checkpointer(load_dir).steps()
    if not steps:
        raise ConfigError.invalid(step_key, requested, f"no checkpoint in {load_dir}")
    step = steps[-1] if requested == "latest" else requested
    if step not in steps:
        raise ConfigError.invalid(step_key, requested, f"no checkpoint of that step in {load_dir}; available: {steps}")
    later = [s for s in own_steps if s > step]
    if later:
        raise ConfigError.invalid(
            step_key,
            requested,
            f"{checkpoint_dir} already holds later checkpoints {later}, which resuming would overwrite",
        )
    try:
        state = Checkpointer(load_dir).restore(step, template)
    except Exception as error:
        raise ConfigError.invalid(
            step_key, requested, f"checkpoint in {load_dir} does not fit this model and optimizer: {one_line(error)}"
        ) from error
    return state, step


def _write_resolved_config(cfg: DictConfig, run_dir: Path) -> Path:
    """Writes the resolved config to `config.yaml`, or `config.N.yaml` when an earlier run here wrote one."""
    path, index = run_dir / "config.yaml", 0
    while path.exists():
        index += 1
        path = run_dir / f"config.{index}.yaml"
    path.write_text(OmegaConf.to_yaml(cfg, resolve=True), encoding="utf-8")
    return path


def run_experiment(cfg: DictConfig, run_dir: str | Path) -> float:
    """Runs the experiment of `cfg` in `run_dir` and returns the final training loss.

    Every check that can fail on a user's mistake runs before anything is written to `run_dir`.
    """
    run_dir = Path(run_dir).absolute()
    experiment = build_experiment(cfg)
    checkpoint_dir = run_dir / cfg.persistence.checkpoint_dir
    template = initial_train_state(experiment.model, experiment.optimizer)
    state, start_step = _resolve_resume(cfg, checkpoint_dir, template)

    run_dir.mkdir(parents=True, exist_ok=True)
    _write_resolved_config(cfg, run_dir)
    devices = ", ".join(str(device) for device in jax.devices())
    example_tokens = jax.ShapeDtypeStruct((1, experiment.training.sequence_len), jnp.int32)
    print(f"run directory: {run_dir}")
    print(f"data: {cfg.training_data_generator.name}; model: {cfg.predictive_model.name}")
    print(summarize(experiment.model, example_tokens))  # pyright: ignore[reportArgumentType]
    print(f"devices: {devices}; starting at step {start_step} of {experiment.training.num_steps}")
    loggers = [ConsoleLogger(), JsonlLogger(run_dir / "metrics.jsonl")]
    checkpointer = Checkpointer(checkpoint_dir, max_to_keep=cfg.persistence.max_to_keep)
    try:
        result = train(
            experiment.model,
            experiment.process,
            experiment.optimizer,
            experiment.training,
            seed=cfg.seed,
            loggers=loggers,
            checkpointer=checkpointer,
            resume_from=state,
        )
    finally:
        for logger in loggers:
            logger.close()
        checkpointer.close()
    return result.metrics[-1]["loss"] if result.metrics else float("nan")
