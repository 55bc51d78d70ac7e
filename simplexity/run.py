"""Runs one experiment in a run directory: resume if asked, train, checkpoint, log; nothing written on a mistake."""

import os
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
from omegaconf import DictConfig, OmegaConf

from simplexity.config import ConfigError
from simplexity.config.errors import one_line
from simplexity.experiment import Experiment, build_experiment
from simplexity.logging import ConsoleLogger, JsonlLogger, MetricsLogger, MlflowLogger
from simplexity.persistence import Checkpointer
from simplexity.predictive_models import summarize
from simplexity.training import NonFiniteLossError, TrainState, initial_train_state


class TrainingStoppedError(RuntimeError):
    """Training stopped on a non-finite loss; the message names the step and the last good checkpoint."""


def initialize_distributed(cfg: DictConfig) -> None:
    """Joins a multi-host run through `jax.distributed.initialize` when `distributed.coordinator_address` is set."""
    settings = OmegaConf.select(cfg, "distributed", default=None)
    if settings is None or settings.coordinator_address is None:
        return
    jax.distributed.initialize(
        coordinator_address=settings.coordinator_address,
        num_processes=settings.num_processes,
        process_id=settings.process_id,
    )


def resolve_resume(cfg: DictConfig, checkpoint_dir: Path, template: TrainState) -> tuple[TrainState | None, int]:
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


def _check_batch_splits_over_devices(cfg: DictConfig) -> None:
    devices = jax.device_count()
    if cfg.training.batch_size % devices:
        raise ConfigError.invalid(
            "training.batch_size",
            cfg.training.batch_size,
            f"must be a multiple of the {devices} devices it is split over",
        )


def write_resolved_config(cfg: DictConfig, run_dir: Path) -> Path:
    """Writes the resolved config to `config.yaml`, or `config.N.yaml` when an earlier run here wrote one."""
    path, index = run_dir / "config.yaml", 0
    while path.exists():
        index += 1
        path = run_dir / f"config.{index}.yaml"
    path.write_text(OmegaConf.to_yaml(cfg, resolve=True), encoding="utf-8")
    return path


def make_loggers(cfg: DictConfig, run_dir: Path, total_steps: int) -> list[MetricsLogger]:
    """Returns the loggers named in `logging.loggers`; only process 0 of a multi-host run logs."""
    if jax.process_index() != 0:
        return []
    loggers: list[MetricsLogger] = []
    for name in cfg.logging.loggers:
        if name == "console":
            loggers.append(ConsoleLogger(total_steps))
        elif name == "jsonl":
            loggers.append(JsonlLogger(run_dir / "metrics.jsonl"))
        elif name == "mlflow":
            uri = cfg.logging.mlflow.tracking_uri or (run_dir / "mlruns").as_uri()
            loggers.append(MlflowLogger(uri, cfg.logging.mlflow.experiment_name, run_name=run_dir.name))
    return loggers


def run_experiment(cfg: DictConfig, run_dir: str | Path) -> float:
    """Runs the experiment of `cfg` in `run_dir` and returns the final validation loss (for sweepers).

    Every check that can fail on a user's mistake runs before anything is written to `run_dir`.

    Raises:
        ConfigError: a mistake in `cfg`, before anything is written.
        TrainingStoppedError: the loss became non-finite; the last good checkpoint is kept.
    """
    initialize_distributed(cfg)
    run_dir = Path(run_dir).absolute()
    experiment = build_experiment(cfg)
    _check_batch_splits_over_devices(cfg)
    template = initial_train_state(experiment.model, experiment.optimizer)
    if cfg.persistence.checkpoint_dir is None:
        if cfg.predictive_model.load_checkpoint_step is not None and not cfg.predictive_model.load_checkpoint_dir:
            raise ConfigError.invalid(
                "predictive_model.load_checkpoint_step",
                cfg.predictive_model.load_checkpoint_step,
                "needs predictive_model.load_checkpoint_dir when persistence=none",
            )
        checkpoint_dir = None
        state, start_step = resolve_resume(cfg, run_dir / "no-checkpoints", template)
    else:
        checkpoint_dir = run_dir / cfg.persistence.checkpoint_dir
        state, start_step = resolve_resume(cfg, checkpoint_dir, template)

    run_dir.mkdir(parents=True, exist_ok=True)
    write_resolved_config(cfg, run_dir)
    _print_header(cfg, experiment, run_dir, start_step)
    loggers = make_loggers(cfg, run_dir, experiment.training.num_steps)
    checkpointer = None if checkpoint_dir is None else Checkpointer(checkpoint_dir, cfg.persistence.max_to_keep)
    resolved: Any = OmegaConf.to_container(cfg, resolve=True)
    try:
        for logger in loggers:
            logger.log_config(resolved)
        result = experiment.train(loggers=loggers, checkpointer=checkpointer, resume_from=state)
    except NonFiniteLossError as error:
        steps = checkpointer.steps() if checkpointer is not None else []
        kept = (
            f"the last good checkpoint is step {steps[-1]} in {checkpoint_dir}"
            if steps
            else "no checkpoint was written"
        )
        raise TrainingStoppedError(f"{error}; {kept}") from error
    finally:
        for logger in loggers:
            logger.close()
        if checkpointer is not None:
            checkpointer.close()
    final = result.metrics[-1] if result.metrics else {}
    return float(final.get("validation/loss", final.get("loss", float("nan"))))


def _print_header(cfg: DictConfig, experiment: Experiment, run_dir: Path, start_step: int) -> None:
    devices = ", ".join(str(device) for device in jax.devices())
    example_tokens = jax.ShapeDtypeStruct((1, experiment.training.sequence_len), jnp.int32)
    print(f"run directory: {run_dir}")
    print(f"data: {cfg.training_data_generator.name}; model: {cfg.predictive_model.name}")
    print(summarize(experiment.model, example_tokens))  # pyright: ignore[reportArgumentType]
    print(f"devices: {devices}; starting at step {start_step} of {experiment.training.num_steps}")
