"""Runs one experiment in a run directory: resume if asked, train, checkpoint, log; nothing written on a mistake."""

import contextlib
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
from omegaconf import DictConfig, OmegaConf

from simplexity.analysis.during_training import training_probes
from simplexity.config import ConfigError, ExperimentConfig, validate_experiment_config
from simplexity.experiment import Experiment, build_experiment
from simplexity.logging import make_loggers
from simplexity.persistence import Checkpointer, resolve_resume
from simplexity.persistence.run_lock import RunDirectoryLock
from simplexity.predictive_models import summarize
from simplexity.training import (
    NonFiniteLossError,
    check_batch_splits_over_devices,
    initial_train_state,
    initialize_distributed,
)


def write_resolved_config(config: ExperimentConfig, run_dir: Path) -> Path:
    """Writes the config to `config.yaml`, or `config.N.yaml` when an earlier run here wrote one."""
    path, index = run_dir / "config.yaml", 0
    while path.exists():
        index += 1
        path = run_dir / f"config.{index}.yaml"
    path.write_text(OmegaConf.to_yaml(OmegaConf.structured(config)), encoding="utf-8")
    return path


def run_experiment(cfg: DictConfig | ExperimentConfig, run_dir: str | Path) -> float:
    """Runs the experiment of `cfg` in `run_dir` and returns the final validation loss (for sweepers).

    The composed config is converted once into a checked `ExperimentConfig`; every check that can fail on a
    user's mistake runs before anything is written to `run_dir`.

    Raises:
        ConfigError: a mistake in `cfg`, before anything is written.
        NonFiniteLossError: the loss became non-finite; the message names the last good checkpoint, kept.
    """
    config = validate_experiment_config(cfg)
    initialize_distributed(config.distributed)
    run_dir = Path(run_dir).absolute()
    experiment = build_experiment(config)
    check_batch_splits_over_devices(config.training.batch_size)
    template = initial_train_state(experiment.model, experiment.optimizer)
    model_settings = config.predictive_model
    if config.persistence.checkpoint_dir is None:
        if model_settings.load_checkpoint_step is not None and not model_settings.load_checkpoint_dir:
            raise ConfigError.invalid(
                "predictive_model.load_checkpoint_step",
                model_settings.load_checkpoint_step,
                "needs predictive_model.load_checkpoint_dir when persistence=none",
            )
        checkpoint_dir = None
        state, start_step = resolve_resume(model_settings, run_dir / "no-checkpoints", template)
    else:
        checkpoint_dir = run_dir / config.persistence.checkpoint_dir
        state, start_step = resolve_resume(model_settings, checkpoint_dir, template)

    probes = training_probes(config.analysis, experiment.process, experiment.model, config.training.sequence_len)
    evaluations = [] if probes is None else [probes]

    # Only process 0 of a multi-host run writes into the (shared) run directory, so only it takes the lock.
    lock = RunDirectoryLock(run_dir) if jax.process_index() == 0 else contextlib.nullcontext()
    with lock:
        result = _train_in(config, experiment, run_dir, checkpoint_dir, state, start_step, evaluations)
    final = result.metrics[-1] if result.metrics else {}
    return float(final.get("validation/loss", final.get("loss", float("nan"))))


def _train_in(
    config: ExperimentConfig,
    experiment: Experiment,
    run_dir: Path,
    checkpoint_dir: Path | None,
    state: Any,
    start_step: int,
    evaluations: list[Any],
) -> Any:
    """Writes the config, trains with the configured loggers and checkpoints, and returns the `TrainResult`."""
    run_dir.mkdir(parents=True, exist_ok=True)
    write_resolved_config(config, run_dir)
    _print_header(experiment, run_dir, start_step)
    loggers = make_loggers(config.logging, run_dir, experiment.training.num_steps)
    checkpointer = None if checkpoint_dir is None else Checkpointer(checkpoint_dir, config.persistence.max_to_keep)
    resolved: Any = OmegaConf.to_container(OmegaConf.structured(config))
    try:
        for logger in loggers:
            logger.log_config(resolved)
        result = experiment.train(
            loggers=loggers, checkpointer=checkpointer, resume_from=state, evaluations=evaluations
        )
    except NonFiniteLossError as error:
        steps = checkpointer.steps() if checkpointer is not None else []
        kept = (
            f"the last good checkpoint is step {steps[-1]} in {checkpoint_dir}"
            if steps
            else "no checkpoint was written"
        )
        raise NonFiniteLossError(f"{error}; {kept}") from error
    finally:
        for logger in loggers:
            logger.close()
        if checkpointer is not None:
            checkpointer.close()
    return result


def _print_header(experiment: Experiment, run_dir: Path, start_step: int) -> None:
    config = experiment.config
    devices = ", ".join(str(device) for device in jax.devices())
    example_tokens = jax.ShapeDtypeStruct((1, experiment.training.sequence_len), jnp.int32)
    print(f"run directory: {run_dir}")
    print(f"data: {config.training_data_generator.name}; model: {config.predictive_model.name}")
    print(summarize(experiment.model, example_tokens))  # pyright: ignore[reportArgumentType]
    print(f"devices: {devices}; starting at step {start_step} of {experiment.training.num_steps}")
