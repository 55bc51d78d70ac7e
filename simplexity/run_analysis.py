"""The analysis command: a trained run directory (or every run of a sweep) analysed into `analysis.json` and figures.

A run directory is what `run_experiment.py` writes (`simplexity.run_record` reads it back); the computations are the
library's (`simplexity.analysis`). Every mistake a user can make in pointing the analysis at one (no such directory,
no checkpoint, a model without activations, a context too long) raises a one-line `ConfigError` before anything is
written.
"""

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from simplexity.analysis.belief_dataset import BeliefDataset, belief_dataset, sampled_belief_dataset
from simplexity.analysis.belief_geometry import BeliefGeometry, UntrainedControl, analyze_contexts, model_outputs
from simplexity.analysis.extraction import MAX_SEQUENCES, extract_machine
from simplexity.analysis.factors import FactorGeometry, analyze_factors, is_factored
from simplexity.analysis.interventions import analyze_interventions
from simplexity.analysis.output_dir import require_writable, storage_errors
from simplexity.analysis.plots import (
    plot_analysis_curve,
    plot_belief_geometry,
    plot_factors,
    plot_interventions,
    plot_machine,
    plot_position_losses,
    plot_training_curve,
)
from simplexity.analysis.report import (
    ANALYSIS_CURVE,
    ANALYSIS_FILE,
    EXTRACTED_FILES,
    FACTORS_FIGURE,
    FIGURES,
    INTERVENTIONS_FIGURE,
    MACHINE_FILES,
    OUTPUT_FILES,
    SWEEP_TABLE,
    TRAINING_CURVE,
)
from simplexity.analysis.settings import AnalysisOptions
from simplexity.analysis.targets import compare_targets
from simplexity.config import ConfigError
from simplexity.experiment import training_entropy_rate
from simplexity.generative_processes import GenerativeProcess
from simplexity.generative_processes.bidirectional import reverse_mixed_states
from simplexity.generative_processes.export import Machine, epsilon_machine, presentation_machine, to_dot, to_json
from simplexity.generative_processes.mixed_state_presentation import UnboundedMixedStatesError
from simplexity.logging import read_jsonl_metrics
from simplexity.persistence.checkpointer import DamagedCheckpointError
from simplexity.predictive_models import AbstractSiteModel, ActivationsUnavailableError, PredictiveModel
from simplexity.run_directory import CONFIG_FILE, METRICS_FILE, checkpoint_steps, find_run_dirs
from simplexity.run_record import Notify, RestoredModel, Run, notify_on_stderr, open_run, restore_checkpoint
from simplexity.training import optimal_loss_per_position


def open_trained_run(run_dir: str | Path) -> Run:
    """Returns the run in `run_dir` (`open_run`), refusing a directory that is not a run in one line.

    Its config is that of its latest start (`config.N.yaml` of a resumed run, else `config.yaml`).

    Raises:
        ConfigError: when `run_dir` is not a directory, holds no config, or its config does not validate.
    """
    run_dir = Path(run_dir).absolute()
    if not run_dir.is_dir():
        raise ConfigError.invalid("run_dir", str(run_dir), "is not a directory")
    try:
        return open_run(run_dir)
    except FileNotFoundError as error:
        raise ConfigError.invalid(
            "run_dir", str(run_dir), f"has no {CONFIG_FILE}; give a directory run_experiment.py wrote"
        ) from error


def _entropy_rate_or_none(run: Run) -> float | None:
    """Returns the process's entropy rate (to 1e-6 nats, for display) as training logs it, or None out of reach.

    Out of reach is found as training finds it (`training_entropy_rate`), within a bounded number of mixed
    states: a noisy or chained process's grow as the joint vocabulary's powers.
    """
    return training_entropy_rate(run.experiment.process)


def _check_context_len(run: Run, options: AnalysisOptions) -> int:
    """Returns the context length to analyse, or raises a `ConfigError` for one the model was not trained on."""
    trained = run.experiment.training.sequence_len
    if options.max_context_len is None:
        return trained
    if options.max_context_len > trained:
        raise ConfigError.invalid(
            "max_context_len", options.max_context_len, f"must be at most the trained sequence_len={trained}"
        )
    return options.max_context_len


def _dataset(run: Run, options: AnalysisOptions) -> BeliefDataset:
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


def _probe_arguments(options: AnalysisOptions) -> dict[str, Any]:
    """The probes' settings, as `analyze_contexts` and `analyze_factors` take them."""
    return {
        "weights": options.weights,
        "last_position_only": options.last_position_only,
        "test_fraction": options.test_fraction,
        "split_seed": options.split_seed,
        "ridge": options.ridge,
        "batch_size": options.batch_size,
    }


def _analyze(
    run: Run,
    options: AnalysisOptions,
    dataset: BeliefDataset,
    model: PredictiveModel,
    untrained: UntrainedControl | None = None,
) -> BeliefGeometry:
    """Runs `analyze_contexts` on `model`, turning a model without activations into a `ConfigError`.

    The untrained model (built from the run's config and seed: the model at step 0) is probed unless `untrained`
    holds its probes from an earlier analysis of the same contexts.
    """
    try:
        return analyze_contexts(
            model,
            dataset,
            untrained=run.experiment.model if untrained is None else untrained,
            sites=options.sites,
            **_probe_arguments(options),
        )
    except ActivationsUnavailableError as error:
        name = run.config.predictive_model.name
        raise ConfigError(f"run_dir={str(run.run_dir)!r}: model {name!r} cannot be analysed: {error}") from error


def _analyze_factors(
    run: Run, options: AnalysisOptions, dataset: BeliefDataset, model: PredictiveModel, with_untrained: bool = True
) -> FactorGeometry | None:
    """Runs `analyze_factors` on `model` when the run's process is made of factors (None otherwise)."""
    if not is_factored(run.experiment.process):
        return None
    return analyze_factors(
        model,
        run.experiment.process,
        dataset,
        untrained=run.experiment.model if with_untrained else None,
        **_probe_arguments(options),
    )


def _check_sites(run: Run, model: PredictiveModel, options: AnalysisOptions) -> None:
    """Raises a `ConfigError` naming `sites` (or `interventions`) for sites the run's model does not have."""
    name = run.config.predictive_model.name
    if options.sites is None and not options.interventions:
        return
    if not isinstance(model, AbstractSiteModel) or not model.sites:
        setting = f"sites={options.sites}" if options.sites is not None else "interventions=true"
        raise ConfigError(f"{setting}: model {name!r} has no named activation sites")
    if options.sites is None:
        return
    for site in options.sites:
        if site not in model.sites:
            raise ConfigError.invalid(
                "sites", options.sites, f"model {name!r} has no site {site!r}; its sites are {', '.join(model.sites)}"
            )
        if site.endswith("attn_pattern"):
            raise ConfigError.invalid(
                "sites", options.sites, f"{site} is an attention pattern, not features a probe can read"
            )


# A machine is exported when its matrices hold at most this many entries, and drawn when it has at most this many
# states (more would not be legible).
MAX_MACHINE_ENTRIES = 1_000_000
MAX_DRAWN_STATES = 30


def _process_machine(process: GenerativeProcess) -> Machine | None:
    """The process's epsilon-machine, or its own presentation where the mixed states do not close in 1,000.

    None for a presentation whose matrices hold more than `MAX_MACHINE_ENTRIES` entries (a large factored product,
    say), which is neither explored nor exported.
    """
    presentation = process.presentation
    if presentation.vocab_size * presentation.num_states**2 > MAX_MACHINE_ENTRIES:
        return None
    try:
        return epsilon_machine(process, max_states=1_000)
    except UnboundedMixedStatesError:
        return presentation_machine(process)


def _write_machine(process: GenerativeProcess, output_dir: Path, title: str) -> tuple[dict[str, Any], list[Path]]:
    """Writes the process's machine as DOT and JSON (and a figure when small enough); returns its summary and files."""
    machine = _process_machine(process)
    if machine is None:
        return {"kind": None}, []
    paths = [output_dir / MACHINE_FILES["dot"], output_dir / MACHINE_FILES["json"]]
    paths[0].write_text(to_dot(machine), encoding="utf-8")
    paths[1].write_text(to_json(machine) + "\n", encoding="utf-8")
    if len(machine.labels) <= MAX_DRAWN_STATES:
        paths.append(plot_machine(machine, output_dir / MACHINE_FILES["figure"], f"{machine.name} · {title}"))
    kind = "epsilon-machine" if machine.name.endswith("epsilon-machine") else "presentation"
    return {"kind": kind, "num_states": len(machine.labels), "files": [path.name for path in paths]}, paths


def _extraction_context_len(run: Run, options: AnalysisOptions) -> int:
    """The extraction's context length: the trained length less the continuation, within `MAX_SEQUENCES`."""
    vocab = run.experiment.process.vocab_size
    length = run.experiment.training.sequence_len - options.extraction_depth - 1
    while length > 0 and vocab ** (length + 1 + options.extraction_depth) > MAX_SEQUENCES:
        length -= 1
    return length


def _check_extraction(run: Run, options: AnalysisOptions) -> None:
    """Raises a `ConfigError` for an extraction or targets that cannot run: machines not finite, contexts too short."""
    name = run.config.training_data_generator.name
    for setting, wanted in (("extraction", options.extraction), ("targets", options.targets)):
        if not wanted:
            continue
        try:
            reverse_mixed_states(run.experiment.process, max_states=2_000)
        except (UnboundedMixedStatesError, ValueError) as error:
            raise ConfigError(
                f"{setting}=true: process {name!r} has no finite epsilon-machine (forward and reverse) to use"
            ) from error
    if options.extraction and _extraction_context_len(run, options) < 1:
        raise ConfigError.invalid(
            "extraction_depth",
            options.extraction_depth,
            f"leaves no context: the model was trained on sequence_len={run.experiment.training.sequence_len}",
        )


def _best_average_loss(run: Run, geometry: BeliefGeometry) -> float | None:
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


def _figure_title(run: Run, step: int | None = None) -> str:
    """Names the run directory, its process and model, and the analysed checkpoint's `step` (unless None)."""
    parts = [run.run_dir.name, run.config.training_data_generator.name, run.config.predictive_model.name]
    if step is not None:
        parts.append(f"step {step}")
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
        ConfigError: for a directory that cannot be analysed (see `open_trained_run` and `Run.restore`), a model
            without activations, or a context length that does not fit.
        DamagedCheckpointRequestedError: the checkpoint of `options.step` is damaged, or every checkpoint is.
        UnfitCheckpointError: the checkpoint does not fit the model of the run's config.
        StorageError: the output directory cannot be created or written.
    """
    options = options or AnalysisOptions()
    run = open_trained_run(run_dir)
    restored = run.restore("latest" if options.step is None else options.step, notify)
    _check_sites(run, restored.model, options)
    _check_extraction(run, options)
    progress(f"building the contexts of {run.config.training_data_generator.name}")
    dataset = _dataset(run, options)
    output_dir = Path(options.output_dir or run.run_dir).absolute()
    output_key = "run_dir" if options.output_dir is None else "output_dir"
    require_writable(output_dir, output_key, OUTPUT_FILES)
    with storage_errors(output_dir, output_key):
        return _analyze_into(run, restored, options, dataset, output_dir, notify, progress)


def _analyze_into(
    run: Run,
    restored: RestoredModel,
    options: AnalysisOptions,
    dataset: BeliefDataset,
    output_dir: Path,
    notify: Notify,
    progress: Notify = _quiet,
) -> dict[str, Any]:
    """Analyses the `restored` model of `run` on `dataset`; writes `analysis.json` and the figures into `output_dir`."""
    curve, geometry = _curve(run, restored, options, dataset, notify, progress) if options.all_steps else (None, None)
    if geometry is None:  # not analysed on the curve
        progress(f"analysing checkpoint {restored.step} on {len(dataset.lengths)} contexts")
        geometry = _analyze(run, options, dataset, restored.model)
    factors = _analyze_factors(run, options, dataset, restored.model)
    rate = _entropy_rate_or_none(run)
    best_loss = _best_average_loss(run, geometry)
    title = _figure_title(run, restored.step)
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
        run_title = _figure_title(run)
        figures.append(plot_analysis_curve(curve, output_dir / ANALYSIS_CURVE, title=run_title))
    if factors is not None:
        figures.append(
            plot_factors(
                factors.targets, factors.predictions, factors.summary(), output_dir / FACTORS_FIGURE, curve, title
            )
        )
    interventions = None
    if options.interventions:
        progress(f"intervening at each site of checkpoint {restored.step}")
        model = restored.model
        assert isinstance(model, AbstractSiteModel)  # checked by `_check_sites`
        untrained = run.experiment.model
        interventions = analyze_interventions(
            model,
            dataset,
            run.experiment.process.presentation,
            sites=options.sites,
            untrained=untrained if isinstance(untrained, AbstractSiteModel) else None,
            num_pairs=options.num_pairs,
            weights=options.weights,
            test_fraction=options.test_fraction,
            split_seed=options.split_seed,
            ridge=options.ridge,
            batch_size=options.batch_size,
        ).summary()
        figures.append(plot_interventions(interventions, output_dir / INTERVENTIONS_FIGURE, title))
    machine_summary, machine_files = _write_machine(run.experiment.process, output_dir, title)
    extraction: dict[str, Any] | None = None
    if options.extraction:
        progress(f"extracting the machine of checkpoint {restored.step}")
        extracted = extract_machine(
            restored.model,
            run.experiment.process,
            _extraction_context_len(run, options),
            options.extraction_depth,
            options.batch_size,
        )
        extraction = dict(extracted.summary())
        machine_files += [output_dir / EXTRACTED_FILES["dot"], output_dir / EXTRACTED_FILES["json"]]
        machine_files[-2].write_text(to_dot(extracted.machine), encoding="utf-8")
        machine_files[-1].write_text(to_json(extracted.machine) + "\n", encoding="utf-8")
        if len(extracted.machine.labels) <= MAX_DRAWN_STATES:
            machine_files.append(plot_machine(extracted.machine, output_dir / EXTRACTED_FILES["figure"], title))
        extraction["files"] = [path.name for path in machine_files if path.name.startswith("extracted")]
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
                title=_figure_title(run),
            )
        )
    report = {
        "run_dir": str(run.run_dir),
        "output_dir": str(output_dir),
        "step": restored.step,
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
        "machine": machine_summary,
    }
    if factors is not None:
        report["factors"] = factors.summary()
    if interventions is not None:
        report["interventions"] = interventions
    if extraction is not None:
        report["extraction"] = extraction
    if options.targets:
        progress("probing the targets beyond the belief")
        report["targets"] = compare_targets(
            run.experiment.process,
            dataset,
            model_outputs(restored.model, dataset, options.batch_size, options.sites),
            last_k=options.last_k,
            **{key: value for key, value in _probe_arguments(options).items() if key != "batch_size"},
        ).summary()
    if curve is not None:
        report["curve"] = curve
    path = output_dir / ANALYSIS_FILE
    path.write_text(json.dumps(report, indent=2, allow_nan=False) + "\n", encoding="utf-8")
    from simplexity.logging.mlflow_logger import log_analysis_artifacts  # MLflow loads here, not on import

    log_analysis_artifacts(run.run_dir, [path, *figures, *machine_files])  # into the run's MLflow run, when it has one
    return report


def _curve(
    run: Run,
    restored: RestoredModel,
    options: AnalysisOptions,
    dataset: BeliefDataset,
    notify: Notify,
    progress: Notify = _quiet,
) -> tuple[list[dict[str, Any]], BeliefGeometry | None]:
    """Returns one point per checkpoint up to `restored.step`, and the analysis of `restored.step` itself.

    A point holds the tokens seen, the probes' scores and the exact excess loss: the model's expected loss over the
    analysed contexts minus the myopic entropy, averaged over positions, its gap to the optimum free of sampling
    noise. Each checkpoint is analysed once and the untrained model's probes are fitted once. A damaged checkpoint
    is skipped, said in one line through `notify`; those newer than `restored.step` were said when it was restored.
    """
    assert run.checkpoint_dir is not None
    tokens_per_step = run.config.training.batch_size * run.config.training.sequence_len
    points = []
    control: UntrainedControl | None = None
    latest: BeliefGeometry | None = None
    steps = [step for step in checkpoint_steps(run.checkpoint_dir) if step <= restored.step]
    for number, step in enumerate(steps, start=1):
        progress(f"checkpoint {number}/{len(steps)} (step {step}): analysing")
        try:
            model = (
                restored.model
                if step == restored.step
                else restore_checkpoint(run.experiment, run.checkpoint_dir, step)
            )
        except DamagedCheckpointError as error:
            notify(f"warning: {error}; left in place; skipped")
            continue
        geometry = _analyze(run, options, dataset, model, control)
        control = geometry.untrained_control
        if step == restored.step:
            latest = geometry
        summary = geometry.summary()
        losses = summary["position_loss"]
        factors = _analyze_factors(run, options, dataset, model, with_untrained=False)
        points.append(
            {
                "step": step,
                "tokens_seen": step * tokens_per_step,
                "excess_loss": float(np.mean(np.subtract(losses["model"], losses["myopic_entropy"]))),
                "predictable_information_captured": losses["predictable_information_captured"],
                "predictable_information_error_bound": losses["predictable_information_error_bound"],
                "regression": {
                    name: {key: scores[key] for key in ("r2", "rmse", "rmse_over_untrained", "rmse_over_best_markov")}
                    for name, scores in summary["regression"].items()
                },
                "best_markov_rmse": summary["controls"]["markov"][f"order_{summary['controls']['best_markov_order']}"][
                    "rmse"
                ],
                "best_markov_exact": summary["controls"]["best_markov_exact"],
                **({"factors": factors.curve_point()} if factors is not None else {}),
            }
        )
    return points, latest


def is_sweep_dir(directory: str | Path) -> bool:
    """Returns whether `directory` is a sweep's: no run directory itself, but run directories directly inside."""
    return not (Path(directory) / CONFIG_FILE).is_file() and bool(find_run_dirs(directory, nested=False))


def analyze_sweep(
    sweep_dir: str | Path,
    options: AnalysisOptions | None = None,
    notify: Notify = notify_on_stderr,
    progress: Notify = _quiet,
) -> list[dict[str, Any]]:
    """Analyses every run of a sweep directory (each into its own directory) and writes one table of them.

    The runs are the subdirectories holding `config.yaml` (hidden ones left out), in natural order of their names.

    The table, `analysis_table.json` in the sweep directory, has one row per run: its directory, step, model,
    process, and the held-out R^2 and RMSE of each probe with the RMSE ratios to the controls. `progress` receives
    a line as each run begins (`run N/M: DIR`) and the lines of `analyze_run`.

    Raises:
        ConfigError: when `sweep_dir` holds no run directory, or a run cannot be analysed.
        StorageError: when the sweep directory or a run directory cannot be written (checked before any analysis).
    """
    options = options or AnalysisOptions()
    runs = find_run_dirs(sweep_dir, nested=False)
    if not runs:
        raise ConfigError.invalid("run_dir", str(sweep_dir), f"holds neither {CONFIG_FILE} nor run directories that do")
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
