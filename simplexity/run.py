"""Runs one experiment in a run directory: resume if asked, train, checkpoint, log; nothing written on a mistake."""

import contextlib
import sys
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
from omegaconf import DictConfig, OmegaConf

from simplexity.analysis.during_training import training_probes
from simplexity.config import ConfigError, ExperimentConfig, validate_experiment_config
from simplexity.config.resume_changes import check_resume_changes, describe_changes
from simplexity.config.run_files import write_config_file
from simplexity.errors import StorageError, UserError, one_line
from simplexity.experiment import Experiment, build_experiment, instantiate
from simplexity.interruption import exit_code_of
from simplexity.logging import ConsoleLogger, check_tracking_uri, make_loggers
from simplexity.persistence import Checkpointer, resolve_resume
from simplexity.persistence.checkpointer import CheckpointWriteError
from simplexity.persistence.provenance import ProvenanceLog, collect_provenance
from simplexity.persistence.run_lock import RunDirectoryLock
from simplexity.persistence.writable import require_writable_checkpoint_dir
from simplexity.predictive_models import as_predictive_model, count_parameters, count_parameters_of_build, summarize
from simplexity.run_directory import checkpoint_steps
from simplexity.training import (
    NonFiniteLossError,
    TrainingInterruptedError,
    check_batch_splits_over_devices,
    initial_train_state,
    initialize_distributed,
)
from simplexity.training.memory import (
    check_parameters_fit,
    check_step_fits,
    check_validation_fits,
    is_out_of_memory,
    model_size_settings,
    out_of_memory,
)


def write_resolved_config(config: ExperimentConfig, run_dir: Path) -> Path:
    """Writes the config to `config.yaml`, or `config.N.yaml` when an earlier run here wrote one."""
    return write_config_file(run_dir, OmegaConf.to_yaml(OmegaConf.structured(config)))


def run_experiment(cfg: DictConfig | ExperimentConfig, run_dir: str | Path) -> float:
    """Runs the experiment of `cfg` in `run_dir` and returns the final validation loss (for sweepers).

    The composed config is converted once into a checked `ExperimentConfig`; every check that can fail on a
    user's mistake runs before anything is written to `run_dir`.

    Raises:
        ConfigError: a mistake in `cfg`, before anything is written.
        NonFiniteLossError: the loss became non-finite; the message names the last good checkpoint, kept.
    """
    config = validate_experiment_config(cfg)
    if "mlflow" in config.logging.loggers and config.logging.mlflow.tracking_uri is not None:
        check_tracking_uri(config.logging.mlflow.tracking_uri)
    initialize_distributed(config.distributed)
    run_dir = Path(run_dir).absolute()
    _check_parameters_fit(config)
    experiment = build_experiment(config)
    check_batch_splits_over_devices(config.training.batch_size)
    template = _fitting_train_state(config, experiment)
    model_settings = config.predictive_model
    if config.persistence.checkpoint_dir is None:
        if model_settings.load_checkpoint_step is not None and not model_settings.load_checkpoint_dir:
            raise ConfigError.invalid(
                "predictive_model.load_checkpoint_step",
                model_settings.load_checkpoint_step,
                "needs predictive_model.load_checkpoint_dir when persistence=none",
            )
        checkpoint_dir = None
        state, start_step = resolve_resume(
            model_settings, run_dir / "no-checkpoints", template, writer=jax.process_index() == 0
        )
    else:
        checkpoint_dir = run_dir / config.persistence.checkpoint_dir
        require_writable_checkpoint_dir(checkpoint_dir, run_dir)
        state, start_step = resolve_resume(model_settings, checkpoint_dir, template, writer=jax.process_index() == 0)
    changed = _resume_changes(config, run_dir)
    if changed and jax.process_index() == 0:
        print(describe_changes(changed), file=sys.stderr, flush=True)

    probes = training_probes(config.analysis, experiment.process, experiment.model, config.training.sequence_len)
    evaluations = [] if probes is None else [probes]

    # Only process 0 of a multi-host run writes into the (shared) run directory, so only it takes the lock.
    lock = RunDirectoryLock(run_dir) if jax.process_index() == 0 else contextlib.nullcontext()
    try:
        with lock:
            result = _train_in(config, experiment, run_dir, checkpoint_dir, state, start_step, evaluations, changed)
    except OSError as error:  # the run directory, its config, metrics or provenance cannot be written
        path = error.filename or run_dir
        raise StorageError(
            f"hydra.run.dir={str(run_dir)!r}: {path} cannot be written ({error.strerror or one_line(error)}); "
            f"{_kept_checkpoints(checkpoint_dir)}"
        ) from error
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
    changed: dict[str, Any] | None = None,
) -> Any:
    """Writes the config, trains with the configured loggers and checkpoints, and returns the `TrainResult`.

    `changed`: what this resume changed from the run's earlier config, recorded in its provenance.
    """
    run_dir.mkdir(parents=True, exist_ok=True)
    if jax.process_index() == 0:
        write_resolved_config(config, run_dir)
    _print_header(experiment, run_dir, start_step)
    record = collect_provenance(start_step) | ({"changed": changed} if changed else {})
    provenance = ProvenanceLog(run_dir, record) if jax.process_index() == 0 else None
    loggers = make_loggers(config.logging, run_dir, experiment.training.num_steps)
    # The console logger is the progress display, which the training loop drives itself.
    display = next((logger for logger in loggers if isinstance(logger, ConsoleLogger)), None)
    if display is not None:
        loggers.remove(display)
        display = ConsoleLogger(experiment.training.num_steps, start_step=start_step, run_dir=run_dir)
    checkpointer = None if checkpoint_dir is None else Checkpointer(checkpoint_dir, config.persistence.max_to_keep)
    resolved: Any = OmegaConf.to_container(OmegaConf.structured(config))
    failed = True
    try:
        for logger in loggers:
            logger.log_config(resolved)
            if provenance is not None:
                logger.log_provenance(provenance.record)
        result = experiment.train(
            loggers=loggers,
            checkpointer=checkpointer,
            resume_from=state,
            evaluations=evaluations,
            progress=display or False,
        )
        failed = False
    except (NonFiniteLossError, TrainingInterruptedError, CheckpointWriteError) as error:
        reported = _reported(error, checkpoint_dir)
        _finish(provenance, reported, checkpoint_dir)
        raise reported from error
    except Exception as error:
        if not is_out_of_memory(error):
            _finish(provenance, error, checkpoint_dir)
            raise
        reported = _out_of_memory(error, config, experiment)
        _finish(provenance, reported, checkpoint_dir)
        raise reported from error
    except BaseException as error:
        _finish(provenance, error, checkpoint_dir)
        raise
    else:
        if provenance is not None:
            provenance.finish(0, int(result.state.step))
            for logger in loggers:
                logger.log_provenance(provenance.record)
    finally:
        for logger in loggers:
            logger.close(failed=failed)
        if checkpointer is not None:
            checkpointer.close()
    return result


def _check_parameters_fit(config: ExperimentConfig) -> None:
    """Raises a `ConfigError` naming the model's size settings when its parameters alone cannot fit in memory.

    The parameters are counted from the model's shapes before it is built, so a model too large is refused
    without allocating it. A builder that cannot be traced is left to the build, which reports what is wrong.
    """
    node = config.predictive_model.instance
    try:
        num_parameters = count_parameters_of_build(
            lambda: as_predictive_model(instantiate("predictive_model.instance", node))
        )
    except Exception:
        return
    check_parameters_fit(num_parameters, model_size_settings(node))


def _fitting_train_state(config: ExperimentConfig, experiment: Experiment) -> Any:
    """Returns the initial train state, once the validation set and a training step are known to fit in memory.

    Raises:
        ConfigError: naming `validation.num_sequences`, `training.batch_size`, the model's size settings, or the
            sizes that did not fit.
    """
    training, validation_process = config.training, experiment.validation.process
    check_validation_fits(
        config.validation.num_sequences,
        training.sequence_len,
        validation_process.vocab_size,
        validation_process.num_states,
    )
    check_step_fits(
        training.batch_size,
        training.sequence_len,
        experiment.process.vocab_size,
        count_parameters(experiment.model),
        model_size_settings(config.predictive_model.instance),
    )
    try:
        return initial_train_state(experiment.model, experiment.optimizer)
    except Exception as error:
        if is_out_of_memory(error):
            raise _out_of_memory(error, config, experiment) from error
        raise


def _out_of_memory(error: BaseException, config: ExperimentConfig, experiment: Experiment) -> ConfigError:
    return out_of_memory(
        error, config.training.batch_size, config.training.sequence_len, count_parameters(experiment.model)
    )


def _resume_changes(config: ExperimentConfig, run_dir: Path) -> dict[str, Any]:
    """Returns what a resume from the run's own checkpoints changes from its earlier config (none otherwise).

    Raises:
        ConfigError: a change a resume must not make (`simplexity.config.resume_changes`).
    """
    model_settings, directory = config.predictive_model, config.persistence.checkpoint_dir
    if model_settings.load_checkpoint_step is None or directory is None:
        return {}
    source = model_settings.load_checkpoint_dir
    if source and Path(source).absolute() != run_dir / directory:
        return {}  # a branch off another run's checkpoint into this directory
    return check_resume_changes(config, run_dir)


def _last_checkpoint(checkpoint_dir: Path | None) -> int | None:
    steps = [] if checkpoint_dir is None else checkpoint_steps(checkpoint_dir)
    return steps[-1] if steps else None


def _kept_checkpoints(checkpoint_dir: Path | None, kind: str = "last good") -> str:
    """Returns where the run's work is kept: `the KIND checkpoint is step M in DIR`, or that there is none."""
    last = _last_checkpoint(checkpoint_dir)
    return (
        f"the {kind} checkpoint is step {last} in {checkpoint_dir}" if last is not None else "no checkpoint was written"
    )


def _reported(
    error: NonFiniteLossError | TrainingInterruptedError | CheckpointWriteError, checkpoint_dir: Path | None
) -> UserError:
    """Returns the one-line error the command line reports for a run that stopped, naming the kept checkpoint."""
    if isinstance(error, TrainingInterruptedError):
        kept = (
            f"saved checkpoint {error.saved} in {checkpoint_dir}"
            if error.saved is not None
            else _kept_checkpoints(checkpoint_dir, "last")
        )
        return TrainingInterruptedError(error.step, error.saved, kept, terminated=error.terminated)
    if isinstance(error, CheckpointWriteError):
        return StorageError(f"{error}; {_kept_checkpoints(checkpoint_dir)}")
    return NonFiniteLossError(f"{error}; {_kept_checkpoints(checkpoint_dir)}")


def _finish(provenance: ProvenanceLog | None, error: BaseException, checkpoint_dir: Path | None) -> None:
    """Completes the provenance record of a run that failed; best effort, as the disk may be what failed."""
    if provenance is None:
        return
    with contextlib.suppress(OSError):
        provenance.finish(exit_status(error), _last_checkpoint(checkpoint_dir), one_line(error))


def exit_status(error: BaseException) -> int:
    """Returns the exit code the command line ends with for `error`: a user error's own, 130 or 143, else 1.

    130 is Ctrl-C's (128 + SIGINT), 143 SIGTERM's (128 + SIGTERM).
    """
    if isinstance(error, UserError):
        return error.exit_code
    if isinstance(error, KeyboardInterrupt):
        return exit_code_of(error)
    if isinstance(error, SystemExit):
        return error.code if isinstance(error.code, int) else 1
    return 1


def _print_header(experiment: Experiment, run_dir: Path, start_step: int) -> None:
    config = experiment.config
    devices = ", ".join(str(device) for device in jax.devices())
    example_tokens = jax.ShapeDtypeStruct((1, experiment.training.sequence_len), jnp.int32)
    print(f"run directory: {run_dir}")
    print(f"data: {config.training_data_generator.name}; model: {config.predictive_model.name}")
    print(summarize(experiment.model, example_tokens))  # pyright: ignore[reportArgumentType]
    print(f"devices: {devices}; starting at step {start_step} of {experiment.training.num_steps}", flush=True)
