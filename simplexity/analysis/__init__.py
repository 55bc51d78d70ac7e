"""What a trained model learned: linear probes from its activations to the beliefs of its process, and plots.

The analysis of a run directory, the command's work, is `simplexity.run_analysis.analyze_run`; this package holds
the computations, the figures and the report's console formatting. The figures' module, and matplotlib with it,
is loaded when one of its functions is first used: a training run, which reads the analysis settings, never
draws.
"""

from typing import TYPE_CHECKING, Any

from simplexity.analysis.belief_dataset import (
    BeliefDataset,
    TooManyContextsError,
    belief_dataset,
    sampled_belief_dataset,
)
from simplexity.analysis.belief_geometry import (
    CONCATENATED,
    BeliefGeometry,
    ModelOutputs,
    analyze_contexts,
    analyze_model,
    model_outputs,
)
from simplexity.analysis.interventions import InterventionAnalysis, analyze_interventions
from simplexity.analysis.pca import PCA, fit_pca
from simplexity.analysis.regression import (
    AffineMap,
    ProbeResult,
    choose_ridge,
    effective_sample_size,
    fit_affine_map,
    fit_probe,
    train_test_split,
    weighted_r2,
    weighted_rmse,
)
from simplexity.analysis.report import ANALYSIS_FILE, SWEEP_TABLE, format_report, format_sweep_table
from simplexity.analysis.settings import (
    AnalysisOptions,
    AnalysisSettings,
    CheckpointAnalysisSettings,
    ProbeSettings,
)

if TYPE_CHECKING:
    from simplexity.analysis.plots import (
        belief_colors,
        plot_analysis_curve,
        plot_belief_geometry,
        plot_factors,
        plot_interventions,
        plot_machine,
        plot_position_losses,
        plot_training_curve,
        simplex_projection,
    )

_FIGURES = (
    "belief_colors",
    "plot_analysis_curve",
    "plot_belief_geometry",
    "plot_factors",
    "plot_interventions",
    "plot_machine",
    "plot_position_losses",
    "plot_training_curve",
    "simplex_projection",
)


def __getattr__(name: str) -> Any:
    """Returns a function of the figures' module, loading it (and matplotlib) on first use."""
    if name in _FIGURES:
        from simplexity.analysis import plots

        return getattr(plots, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "ANALYSIS_FILE",
    "CONCATENATED",
    "PCA",
    "SWEEP_TABLE",
    "AffineMap",
    "AnalysisOptions",
    "AnalysisSettings",
    "BeliefDataset",
    "BeliefGeometry",
    "CheckpointAnalysisSettings",
    "InterventionAnalysis",
    "ModelOutputs",
    "ProbeResult",
    "ProbeSettings",
    "TooManyContextsError",
    "analyze_contexts",
    "analyze_interventions",
    "analyze_model",
    "belief_colors",
    "belief_dataset",
    "choose_ridge",
    "effective_sample_size",
    "fit_affine_map",
    "fit_pca",
    "fit_probe",
    "format_report",
    "format_sweep_table",
    "model_outputs",
    "plot_analysis_curve",
    "plot_belief_geometry",
    "plot_factors",
    "plot_interventions",
    "plot_machine",
    "plot_position_losses",
    "plot_training_curve",
    "sampled_belief_dataset",
    "simplex_projection",
    "train_test_split",
    "weighted_r2",
    "weighted_rmse",
]
