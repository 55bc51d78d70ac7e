"""Belief-geometry probes during training: the same probes as the analysis, every `analysis.every` steps.

The contexts, their beliefs, the train/test split and the controls (the untrained model's probes and the best
Markov baseline) are computed once; each evaluation runs the model on the contexts (its own compiled forward
pass, outside the training chunk) and refits the probes. For a process made of factors each evaluation also
runs the factored-representation analysis (`analyze_factors`) on the same contexts and logs what it follows over
training: each factor's probe, every activation's dimension at 95% of the variance beside the two reference
lines, and the vary-one overlap at k = 1.
"""

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from simplexity.analysis.belief_dataset import BeliefDataset, TooManyContextsError, belief_dataset
from simplexity.analysis.belief_geometry import (
    CONCATENATED,
    ModelOutputs,
    model_outputs,
    probe_features,
    probe_split,
)
from simplexity.analysis.controls import belief_scale, best_markov_order, is_exact, markov_baselines
from simplexity.analysis.factors import REFERENCE_SHARE, FactorGeometry, analyze_factors, is_factored
from simplexity.analysis.regression import fit_probe
from simplexity.analysis.settings import AnalysisSettings
from simplexity.errors import ConfigError
from simplexity.generative_processes import GenerativeProcess
from simplexity.predictive_models import ActivationsUnavailableError, PredictiveModel


@dataclass
class TrainingProbes:
    """Probes a model's activations for the exact beliefs; a `PeriodicEvaluation` for the trainer.

    Logs, for each activation (and `concatenated`), `analysis/<activation>/r2`, `.../rmse`,
    `.../rmse_over_untrained` and `.../rmse_over_best_markov`. A ratio to a control that is exact (its RMSE 0 to
    float64 rounding, `controls.is_exact`) is undefined and not logged, as `analyze_run` reports it as null.

    For a process made of factors (`factored_process` set) it also logs, from the concatenated activations,
    `analysis/factors/<target>/r2`, `.../rmse` and `.../rmse_over_untrained` for each target (`factor_n`,
    `factors`, `joint`); `analysis/factors/<activation>/dims95` with `analysis/factors/reference/factored` and
    `.../joint95`; and, for independent factors, `analysis/factors/<activation>/overlap_k1/<m>-<n>`.

    Arguments:
        every: steps between evaluations.
        dataset: the contexts, built once.
        weights: each context's weight in fitting and scoring.
        train: the contexts the probes are fitted on.
        test: the held-out contexts they are scored on.
        untrained_rmse: activation name to the untrained model's held-out probe RMSE.
        best_markov_rmse: the best order-k Markov baseline's held-out RMSE.
        scale: the held-out beliefs' scale (`controls.belief_scale`), on which a control's RMSE counts as exact.
        ridge: the probes' relative ridge penalty, or None to choose it by cross-validation (`fit_probe`).
        seed: seed of the cross-validation folds.
        batch_size: contexts per forward pass.
        factored_process: the process, when it is made of factors and its factors are analysed; else None.
        factor_options: the probe arguments of `analyze_factors` (weights, split, ridge).
        factor_untrained_rmse: target name to the untrained model's held-out RMSE of the concatenated probe.
    """

    every: int
    dataset: BeliefDataset
    weights: np.ndarray
    train: np.ndarray
    test: np.ndarray
    untrained_rmse: dict[str, float]
    best_markov_rmse: float
    scale: float
    ridge: float | None = None
    seed: int = 0
    batch_size: int = 4096
    factored_process: GenerativeProcess | None = None
    factor_options: dict[str, Any] = field(default_factory=dict)
    factor_untrained_rmse: dict[str, float] = field(default_factory=dict)

    def probe_rmse(self, model: PredictiveModel, outputs: ModelOutputs | None = None) -> dict[str, tuple[float, float]]:
        """Returns activation name to the held-out R^2 and RMSE of its probe (`outputs`: `model`'s, if computed)."""
        outputs = outputs if outputs is not None else model_outputs(model, self.dataset, self.batch_size)
        scores = {}
        for name, values in probe_features(outputs).items():
            probe = fit_probe(values, self.dataset.beliefs, self.weights, self.train, self.test, self.ridge, self.seed)
            scores[name] = (probe.r2, probe.rmse)
        return scores

    def factor_geometry(self, model: PredictiveModel, outputs: ModelOutputs | None = None) -> FactorGeometry:
        """Returns the factored-representation analysis of `model` on the contexts (needs `factored_process`)."""
        assert self.factored_process is not None
        return analyze_factors(
            model,
            self.factored_process,
            self.dataset,
            batch_size=self.batch_size,
            outputs=outputs,
            **self.factor_options,
        )

    def __call__(self, model: PredictiveModel) -> dict[str, float]:
        """Returns the `analysis/...` metrics of `model`."""
        record: dict[str, float] = {}
        markov_exact = is_exact(self.best_markov_rmse, self.scale)
        outputs = model_outputs(model, self.dataset, self.batch_size)
        for name, (r2, rmse) in self.probe_rmse(model, outputs).items():
            record[f"analysis/{name}/r2"] = float(r2)
            record[f"analysis/{name}/rmse"] = float(rmse)
            if not is_exact(self.untrained_rmse[name], self.scale):
                record[f"analysis/{name}/rmse_over_untrained"] = float(rmse / self.untrained_rmse[name])
            if not markov_exact:
                record[f"analysis/{name}/rmse_over_best_markov"] = float(rmse / self.best_markov_rmse)
        if self.factored_process is not None:
            record.update(_factor_record(self.factor_geometry(model, outputs), self.factor_untrained_rmse))
        return record


def _factor_record(geometry: FactorGeometry, untrained_rmse: dict[str, float]) -> dict[str, float]:
    """Returns the `analysis/factors/...` metrics of one factored-representation analysis."""
    point = geometry.curve_point()
    record: dict[str, float] = {}
    for target, scores in point["probes"].items():
        record[f"analysis/factors/{target}/r2"] = float(scores["r2"])
        record[f"analysis/factors/{target}/rmse"] = float(scores["rmse"])
        if untrained_rmse.get(target, 0.0) > 0:
            record[f"analysis/factors/{target}/rmse_over_untrained"] = float(scores["rmse"] / untrained_rmse[target])
    share = f"{REFERENCE_SHARE:g}"
    for name, counts in point["dimensions"].items():
        record[f"analysis/factors/{name}/dims95"] = float(counts[share])
    record["analysis/factors/reference/factored"] = float(point["reference_dimensions"]["factored"])
    record["analysis/factors/reference/joint95"] = float(point["reference_dimensions"]["joint"])
    for name, pairs in point["vary_one_overlap_k1"].items():
        for pair, overlap in pairs.items():
            record[f"analysis/factors/{name}/overlap_k1/{pair}"] = float(overlap)
    return record


def training_probes(
    settings: AnalysisSettings, process: GenerativeProcess, untrained: PredictiveModel, sequence_len: int
) -> TrainingProbes | None:
    """Returns the probes `settings` ask for (None when `settings.every` is null), built once.

    Arguments:
        settings: the `analysis` config.
        process: the training process, whose contexts and beliefs are probed.
        untrained: the model at its initialisation, probed once as the control.
        sequence_len: the trained context length; the contexts go up to it (or `settings.max_context_len`),
            shortened to what fits in `settings.max_contexts`.

    Raises:
        ConfigError: when not even one-token contexts fit in `max_contexts`, or the model has no activations.
    """
    if settings.every is None:
        return None
    length = settings.max_context_len or sequence_len
    try:
        dataset = belief_dataset(process, length, settings.min_probability, settings.max_contexts)
    except TooManyContextsError as error:
        raise ConfigError.invalid("analysis.max_contexts", settings.max_contexts, str(error)) from error
    _, weights, train, test = probe_split(
        dataset, settings.weights, settings.last_position_only, settings.test_fraction, settings.split_seed
    )
    baselines = markov_baselines(dataset, weights, train, test)
    scale = belief_scale(dataset.beliefs[test], weights[test])
    probes = TrainingProbes(
        every=settings.every,
        dataset=dataset,
        weights=weights,
        train=train,
        test=test,
        untrained_rmse={},
        best_markov_rmse=baselines[best_markov_order(baselines, scale)].rmse,
        scale=scale,
        ridge=settings.ridge,
        seed=settings.split_seed,
    )
    try:
        probes.untrained_rmse = {name: rmse for name, (_, rmse) in probes.probe_rmse(untrained).items()}
    except ActivationsUnavailableError as error:
        raise ConfigError(f"analysis.every={settings.every}: the model cannot be probed: {error}") from error
    if is_factored(process):
        probes.factored_process = process
        probes.factor_options = {
            "weights": settings.weights,
            "last_position_only": settings.last_position_only,
            "test_fraction": settings.test_fraction,
            "split_seed": settings.split_seed,
            "ridge": settings.ridge,
        }
        untrained_factors = probes.factor_geometry(untrained)
        probes.factor_untrained_rmse = {
            target: by_name[CONCATENATED].rmse for target, by_name in untrained_factors.probes.items()
        }
    return probes
