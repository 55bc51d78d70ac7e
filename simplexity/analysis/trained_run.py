"""The belief-geometry analysis of a training run directory: `analysis.json` and figures.

A run directory is what `run_experiment.py` writes: `config.yaml`, `metrics.jsonl` and `checkpoints/<step>/`
(`simplexity.run_record` reads it back). Every mistake a user can make in pointing the analysis at one (no such
directory, no checkpoint, a model without activations, a context too long) raises a one-line `ConfigError`
before anything is written.
"""

import json
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from simplexity.analysis.belief_dataset import BeliefDataset, belief_dataset, sampled_belief_dataset
from simplexity.analysis.belief_geometry import CONCATENATED, BeliefGeometry, analyze_contexts
from simplexity.analysis.options import AnalysisOptions
from simplexity.analysis.output_dir import require_writable, storage_errors
from simplexity.analysis.plots import (
    plot_analysis_curve,
    plot_belief_geometry,
    plot_position_losses,
    plot_training_curve,
)
from simplexity.analysis.restored_models import (
    Notify,
    notify_on_stderr,
    restore_checkpoint,
    restore_latest,
    restore_step,
)
from simplexity.config import ConfigError, ExperimentConfig
from simplexity.experiment import Experiment, build_experiment
from simplexity.generative_processes import entropy_rate
from simplexity.logging import read_jsonl_metrics
from simplexity.persistence import Checkpointer, choose_checkpoint
from simplexity.persistence.checkpointer import DamagedCheckpointError
from simplexity.predictive_models import ActivationsUnavailableError, PredictiveModel
from simplexity.run_record import METRICS_FILE, read_run_config
from simplexity.training import optimal_loss_per_position

ANALYSIS_FILE = "analysis.json"
FIGURES = {"belief_geometry": "belief_geometry.png", "position_loss": "position_loss.png"}
TRAINING_CURVE = "training_curve.png"
ANALYSIS_CURVE = "analysis_curve.png"
OUTPUT_FILES = (ANALYSIS_FILE, *FIGURES.values(), TRAINING_CURVE, ANALYSIS_CURVE)


@dataclass(frozen=True)
class TrainedRun:
    """A run directory's config, what it builds, and its model restored from one checkpoint."""

    run_dir: Path
    config: ExperimentConfig
    experiment: Experiment
    model: PredictiveModel
    step: int


def load_trained_run(run_dir: str | Path, step: int | None = None, notify: Notify = notify_on_stderr) -> TrainedRun:
    """Returns the run in `run_dir` with its model restored from the checkpoint of `step` (None: the latest).

    The run is built from the config of its latest start (`config.N.yaml` of a resumed run, else `config.yaml`).
    For the latest, a damaged checkpoint is passed over for the newest one that restores, said in one line
    through `notify` (`restored_models.restore_latest`).

    Raises:
        ConfigError: when `run_dir` is not a run directory, holds no checkpoint, or has no checkpoint of `step`.
        UnfitCheckpointError: when the checkpoint does not fit the model of the run's config.
        DamagedCheckpointRequestedError: when the checkpoint of `step` is damaged (or, for the latest, every one).
    """
    run_dir = Path(run_dir).absolute()
    if not run_dir.is_dir():
        raise ConfigError.invalid("run_dir", str(run_dir), "is not a directory")
    try:
        config = read_run_config(run_dir)
    except FileNotFoundError as error:
        raise ConfigError.invalid(
            "run_dir", str(run_dir), "has no config.yaml; give a directory run_experiment.py wrote"
        ) from error
    try:
        experiment = build_experiment(config)
    except ConfigError as error:
        raise ConfigError(f"run_dir={str(run_dir)!r}: {error}") from error
    typed = experiment.config
    if typed.persistence.checkpoint_dir is None:
        raise ConfigError.invalid(
            "run_dir", str(run_dir), "its run wrote no checkpoints (persistence.checkpoint_dir: null)"
        )
    checkpoint_dir = run_dir / typed.persistence.checkpoint_dir
    chosen = choose_checkpoint(
        checkpoint_dir, "latest" if step is None else step, "step", empty=("run_dir", str(run_dir))
    )
    steps = _steps(checkpoint_dir)
    if step is None:
        model, chosen = restore_latest(experiment, checkpoint_dir, steps, notify)
    else:
        model = restore_step(experiment, checkpoint_dir, steps, chosen)
    return TrainedRun(run_dir=run_dir, config=typed, experiment=experiment, model=model, step=chosen)


def _steps(checkpoint_dir: Path) -> list[int]:
    with Checkpointer(checkpoint_dir) as checkpointer:
        return checkpointer.steps()


def checkpoint_steps(run: TrainedRun) -> list[int]:
    """Returns the steps of the run's checkpoints, in order."""
    assert run.config.persistence.checkpoint_dir is not None
    return _steps(run.run_dir / run.config.persistence.checkpoint_dir)


def _entropy_rate_or_none(run: TrainedRun) -> float | None:
    """Returns the process's entropy rate (to 1e-6 nats, for display), or None where it is out of reach."""
    try:
        return entropy_rate(run.experiment.process, tolerance=1e-6)
    except ValueError:
        return None


def _check_context_len(run: TrainedRun, options: AnalysisOptions) -> int:
    """Returns the context length to analyse, or raises a `ConfigError` for one the model was not trained on."""
    trained = run.experiment.training.sequence_len
    if options.max_context_len is None:
        return trained
    if options.max_context_len > trained:
        raise ConfigError.invalid(
            "max_context_len", options.max_context_len, f"must be at most the trained sequence_len={trained}"
        )
    return options.max_context_len


def _dataset(run: TrainedRun, options: AnalysisOptions) -> BeliefDataset:
    """Returns the contexts to analyse, turning the mistakes a user can make into `ConfigError`s."""
    max_context_len = _check_context_len(run, options)
    if options.contexts == "sample":
        return sampled_belief_dataset(
            run.experiment.process, max_context_len, options.num_sequences, options.split_seed
        )
    dataset = belief_dataset(run.experiment.process, max_context_len, options.min_probability, options.max_contexts)
    if dataset.max_context_len < max_context_len and options.max_context_len is not None:
        raise ConfigError.invalid(
            "max_context_len",
            options.max_context_len,
            f"its contexts are more than max_contexts={options.max_contexts}; at most "
            f"{dataset.max_context_len} fits (or raise max_contexts or min_probability)",
        )
    return dataset


def _analyze(
    run: TrainedRun, options: AnalysisOptions, dataset: BeliefDataset, model: PredictiveModel
) -> BeliefGeometry:
    """Runs `analyze_contexts` on `model`, turning a model without activations into a `ConfigError`."""
    try:
        return analyze_contexts(
            model,
            dataset,
            untrained=run.experiment.model,  # built from the run's config and seed: the model at step 0
            weights=options.weights,
            last_position_only=options.last_position_only,
            test_fraction=options.test_fraction,
            split_seed=options.split_seed,
            ridge=options.ridge,
            batch_size=options.batch_size,
        )
    except ActivationsUnavailableError as error:
        name = run.config.predictive_model.name
        raise ConfigError(f"run_dir={str(run.run_dir)!r}: model {name!r} cannot be analysed: {error}") from error


def _best_average_loss(run: TrainedRun, geometry: BeliefGeometry) -> float | None:
    """The lowest achievable mean loss over the trained context: the mean of its positions' myopic entropies.

    The analysis' own myopic entropies serve when it covered the trained context; otherwise they are computed to
    1e-6 nats (None where that is out of reach).
    """
    trained_len = run.experiment.training.sequence_len
    if geometry.dataset.max_context_len == trained_len:
        return float(geometry.myopic_entropies.mean())
    try:
        return float(optimal_loss_per_position(run.experiment.process, trained_len).mean())
    except ValueError:
        return None


def _figure_title(run: TrainedRun, with_step: bool = True) -> str:
    """Names the run directory, its process and model, and (`with_step`) the analysed checkpoint's step."""
    parts = [run.run_dir.name, run.config.training_data_generator.name, run.config.predictive_model.name]
    if with_step:
        parts.append(f"step {run.step}")
    return " · ".join(parts)


def _quiet(message: str) -> None:
    """Shows no progress."""


def analyze_run(
    run_dir: str | Path,
    options: AnalysisOptions | None = None,
    notify: Notify = notify_on_stderr,
    progress: Notify = _quiet,
) -> dict[str, Any]:
    """Analyses the run in `run_dir` and writes `analysis.json` and figures into `options.output_dir` (or `run_dir`).

    Every check (the run directory, the checkpoint, the options, the output directory) comes before the analysis
    runs. A damaged checkpoint passed over (`step=latest`, `step=all`) is said in one line through `notify`.
    `progress` receives one line as each stage begins (the contexts, each checkpoint of `step=all` with its
    number out of how many, the analysed checkpoint, the figures); nothing is shown by default.

    Returns:
        What `analysis.json` holds: the step, probe R^2 and RMSE per activation and concatenated, PCA explained
        variance, the model's loss per position against the myopic entropy, the entropy rate, the figures.

    Raises:
        ConfigError: for a directory that cannot be analysed (see `load_trained_run`), a model without
            activations, or a context length that does not fit.
        DamagedCheckpointRequestedError: the checkpoint of `options.step` is damaged, or every checkpoint is.
        UnfitCheckpointError: the checkpoint does not fit the model of the run's config.
        StorageError: the output directory cannot be created or written.
    """
    options = options or AnalysisOptions()
    run = load_trained_run(run_dir, options.step, notify)
    progress(f"building the contexts of {run.config.training_data_generator.name}")
    dataset = _dataset(run, options)
    output_dir = Path(options.output_dir or run.run_dir).absolute()
    output_key = "run_dir" if options.output_dir is None else "output_dir"
    require_writable(output_dir, output_key, OUTPUT_FILES)
    with storage_errors(output_dir, output_key):
        return _analyze_into(run, options, dataset, output_dir, notify, progress)


def _analyze_into(
    run: TrainedRun,
    options: AnalysisOptions,
    dataset: BeliefDataset,
    output_dir: Path,
    notify: Notify,
    progress: Notify = _quiet,
) -> dict[str, Any]:
    """Analyses `run` on `dataset` and writes `analysis.json` and the figures into `output_dir`."""
    curve = _curve(run, options, dataset, notify, progress) if options.all_steps else None
    progress(f"analysing checkpoint {run.step} on {len(dataset.lengths)} contexts")
    geometry = _analyze(run, options, dataset, run.model)
    rate = _entropy_rate_or_none(run)
    best_loss = _best_average_loss(run, geometry)
    title = _figure_title(run)
    progress(f"drawing the figures into {output_dir}")
    figures = [
        plot_belief_geometry(
            geometry.dataset.beliefs,
            {**geometry.predictions, **{label: pair[0] for label, pair in geometry.control_predictions.items()}},
            output_dir / FIGURES["belief_geometry"],
            scores={
                **{name: probe.r2 for name, probe in geometry.probes.items()},
                **{label: pair[1] for label, pair in geometry.control_predictions.items()},
            },
            title=title,
        ),
        plot_position_losses(
            geometry.model_losses, geometry.myopic_entropies, output_dir / FIGURES["position_loss"], title=title
        ),
    ]
    if curve is not None:
        run_title = _figure_title(run, with_step=False)
        figures.append(plot_analysis_curve(curve, output_dir / ANALYSIS_CURVE, title=run_title))
    records = read_jsonl_metrics(run.run_dir / METRICS_FILE)
    metrics = [record for record in records if "loss" in record]
    if metrics:
        steps, losses = [record["step"] for record in metrics], [record["loss"] for record in metrics]
        validated = [record for record in records if "validation/loss" in record]
        validation = ([record["step"] for record in validated], [record["validation/loss"] for record in validated])
        figures.append(
            plot_training_curve(
                steps,
                losses,
                output_dir / TRAINING_CURVE,
                rate,
                best_loss,
                validation,
                title=_figure_title(run, with_step=False),
            )
        )
    report = {
        "run_dir": str(run.run_dir),
        "output_dir": str(output_dir),
        "step": run.step,
        "process": run.config.training_data_generator.name,
        "model": run.config.predictive_model.name,
        "test_fraction": options.test_fraction,
        "split_seed": options.split_seed,
        "ridge": "cross-validated" if options.ridge is None else options.ridge,
        "min_probability": options.min_probability,
        "contexts": "enumerated" if options.contexts == "enumerate" else f"sampled ({options.num_sequences} sequences)",
        "weights": options.weights,
        "last_position_only": options.last_position_only,
        **geometry.summary(),
        "entropy_rate": rate,
        "best_average_loss": best_loss,
        "final_training_loss": metrics[-1]["loss"] if metrics else None,
        "figures": [path.name for path in figures],
    }
    if curve is not None:
        report["curve"] = curve
    path = output_dir / ANALYSIS_FILE
    path.write_text(json.dumps(report, indent=2, allow_nan=False) + "\n", encoding="utf-8")
    from simplexity.logging.mlflow_logger import log_analysis_artifacts  # MLflow loads here, not on import

    log_analysis_artifacts(run.run_dir, [path, *figures])  # into the run's MLflow run, when it has one
    return report


def _curve(
    run: TrainedRun, options: AnalysisOptions, dataset: BeliefDataset, notify: Notify, progress: Notify = _quiet
) -> list[dict[str, Any]]:
    """Returns one point per checkpoint: tokens seen, the probes' scores and ratios, and the exact excess loss.

    The excess loss is the model's expected loss over the analysed contexts minus the myopic entropy, averaged
    over positions: its gap to the optimum, free of sampling noise. A damaged checkpoint is skipped, said in one
    line through `notify`; those newer than `run.step` were said when the run was loaded.
    """
    assert run.config.persistence.checkpoint_dir is not None
    checkpoint_dir = run.run_dir / run.config.persistence.checkpoint_dir
    tokens_per_step = run.config.training.batch_size * run.config.training.sequence_len
    points = []
    steps = [step for step in checkpoint_steps(run) if step <= run.step]
    for number, step in enumerate(steps, start=1):
        progress(f"checkpoint {number}/{len(steps)} (step {step}): analysing")
        try:
            model = run.model if step == run.step else restore_checkpoint(run.experiment, checkpoint_dir, step)
        except DamagedCheckpointError as error:
            notify(f"warning: {error}; left in place; skipped")
            continue
        summary = _analyze(run, options, dataset, model).summary()
        losses = summary["position_loss"]
        points.append(
            {
                "step": step,
                "tokens_seen": step * tokens_per_step,
                "excess_loss": float(np.mean(np.subtract(losses["model"], losses["myopic_entropy"]))),
                "regression": {
                    name: {key: scores[key] for key in ("r2", "rmse", "rmse_over_untrained", "rmse_over_best_markov")}
                    for name, scores in summary["regression"].items()
                },
                "best_markov_rmse": summary["controls"]["markov"][f"order_{summary['controls']['best_markov_order']}"][
                    "rmse"
                ],
                "best_markov_exact": summary["controls"]["best_markov_exact"],
            }
        )
    return points


SWEEP_TABLE = "analysis_table.json"


def sweep_run_dirs(directory: str | Path) -> list[Path]:
    """Returns the run directories (holding `config.yaml`) directly inside a sweep directory, in natural order."""
    directory = Path(directory)
    runs = [path for path in directory.iterdir() if (path / "config.yaml").is_file()] if directory.is_dir() else []
    return sorted(
        runs, key=lambda path: [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", path.name)]
    )


def analyze_sweep(
    sweep_dir: str | Path,
    options: AnalysisOptions | None = None,
    notify: Notify = notify_on_stderr,
    progress: Notify = _quiet,
) -> list[dict[str, Any]]:
    """Analyses every run of a sweep directory (each into its own directory) and writes one table of them.

    The table, `analysis_table.json` in the sweep directory, has one row per run: its directory, step, model,
    process, and the held-out R^2 and RMSE of each probe with the RMSE ratios to the controls. `progress` receives
    a line as each run begins (`run N/M: DIR`) and the lines of `analyze_run`.

    Raises:
        ConfigError: when `sweep_dir` holds no run directory, or a run cannot be analysed.
        StorageError: when the sweep directory or a run directory cannot be written (checked before any analysis).
    """
    options = options or AnalysisOptions()
    runs = sweep_run_dirs(sweep_dir)
    if not runs:
        raise ConfigError.invalid("run_dir", str(sweep_dir), "holds neither config.yaml nor run directories that do")
    sweep_dir = Path(sweep_dir).absolute()
    require_writable(sweep_dir, "run_dir", [SWEEP_TABLE])
    for run_dir in runs:
        require_writable(run_dir.absolute(), "run_dir", OUTPUT_FILES)
    rows = []
    for number, run_dir in enumerate(runs, start=1):
        progress(f"run {number}/{len(runs)}: {run_dir.name}")
        report = analyze_run(run_dir, replace(options, output_dir=None), notify, progress)
        rows.append(
            {
                "run_dir": report["run_dir"],
                "step": report["step"],
                "model": report["model"],
                "process": report["process"],
                "regression": {
                    name: {key: scores[key] for key in ("r2", "rmse", "rmse_over_untrained", "rmse_over_best_markov")}
                    for name, scores in report["regression"].items()
                },
            }
        )
    path = sweep_dir / SWEEP_TABLE
    with storage_errors(sweep_dir, "run_dir"):
        path.write_text(json.dumps(rows, indent=2, allow_nan=False) + "\n", encoding="utf-8")
    return rows


def format_sweep_table(rows: list[dict[str, Any]]) -> str:
    """Returns one line per run: its directory name and the concatenated probe's R^2, RMSE and ratios."""
    lines = ["run  step  model  R^2  RMSE  x untrained  x best Markov (concatenated probe)"]
    for row in rows:
        scores = row["regression"][CONCATENATED]
        lines.append(
            f"{Path(row['run_dir']).name}  {row['step']}  {row['model']}  {_formatted(scores['r2'])}  "
            f"{_formatted(scores['rmse'])}  {_ratio(scores['rmse_over_untrained'])}  "
            f"{_ratio(scores['rmse_over_best_markov'])}"
        )
    return "\n".join(lines)


def _formatted(value: float | None) -> str:
    return "nan" if value is None else f"{value:.4f}"


def _ratio(value: float | None) -> str:
    """An RMSE ratio; None is a ratio to an exact control, which is undefined."""
    return "undefined" if value is None else f"{value:.4f}"


def format_report(report: dict[str, Any]) -> str:
    """Returns a few lines summarising an analysis report for the console."""
    lines = [f"analysed step {report['step']}: {report['num_contexts']} contexts of up to {report['max_context_len']}"]
    num_train = report["num_probed_contexts"] - report["num_test_contexts"]
    lines.append(
        f"  probes fitted on {num_train} contexts (worth {report['effective_train_contexts']:.0f} equally weighted), "
        f"scored on {report['num_test_contexts']} (worth {report['effective_test_contexts']:.0f})"
    )
    controls = report["controls"]
    for name, scores in report["regression"].items():
        r2 = "nan" if scores["r2"] is None else f"{scores['r2']:.4f}"
        rmse = "nan" if scores["rmse"] is None else f"{scores['rmse']:.4f}"
        untrained_exact = controls["untrained"] is not None and controls["untrained"][name]["exact"]
        ratios = [
            f"{label} {'undefined' if exact else format(scores[key], '.3f')}"
            for key, label, exact in (
                ("rmse_over_untrained", "x untrained", untrained_exact),
                ("rmse_over_best_markov", "x best Markov", controls["best_markov_exact"]),
            )
            if exact or scores.get(key) is not None
        ]
        relative = f" (RMSE {', '.join(ratios)})" if ratios else ""
        lines.append(f"  belief probe from {name}: held-out R^2={r2} RMSE={rmse}{relative}")
    best = controls["markov"][f"order_{controls['best_markov_order']}"]
    exact = ", exact: it predicts every held-out belief, so ratios to it are undefined" if best["exact"] else ""
    lines.append(
        f"  controls: best Markov baseline (order {controls['best_markov_order']}) R^2={_formatted(best['r2'])} "
        f"RMSE={_formatted(best['rmse'])}{exact}; shuffled targets R^2="
        f"{_formatted(controls['shuffled_targets'][CONCATENATED]['r2'])} (concatenated)"
    )
    if exact_untrained := [name for name, scores in (controls["untrained"] or {}).items() if scores["exact"]]:
        lines.append(
            f"  controls: the untrained model's probes of {', '.join(exact_untrained)} are exact: ratios to them "
            "are undefined"
        )
    gap = report["position_loss"]["max_abs_difference"]
    lines.append(f"  max |loss - myopic entropy| over positions: {gap:.4f} nats")
    if report["entropy_rate"] is not None:
        lines.append(f"  entropy rate: {report['entropy_rate']:.4f} nats")
    for point in report.get("curve", []):
        scores = point["regression"][CONCATENATED]
        lines.append(
            f"  step {point['step']} ({point['tokens_seen']} tokens): concatenated R^2={_formatted(scores['r2'])} "
            f"RMSE={_formatted(scores['rmse'])}, excess loss {point['excess_loss']:.5f} nats"
        )
    return "\n".join(lines)
