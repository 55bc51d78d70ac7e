"""What a trained model learned: linear probes from its activations to the beliefs of its process, and plots.

The analysis of a trained run (`analyze_run`, `load_trained_run`, `TrainedRun`, `format_report`, `ANALYSIS_FILE`)
builds the run's experiment through the application's config, `simplexity.config`, whose schema in turn imports
this package's settings (`simplexity.analysis.settings`); so those names are imported from
`simplexity.analysis.trained_run` when first used, not with the package.
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
from simplexity.analysis.pca import PCA, fit_pca
from simplexity.analysis.plots import (
    belief_colors,
    plot_analysis_curve,
    plot_belief_geometry,
    plot_position_losses,
    plot_training_curve,
    simplex_projection,
)
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
from simplexity.analysis.settings import (
    AnalysisOptions,
    AnalysisSettings,
    CheckpointAnalysisSettings,
    ProbeSettings,
)

if TYPE_CHECKING:
    from simplexity.analysis.trained_run import (
        ANALYSIS_FILE,
        TrainedRun,
        analyze_run,
        format_report,
        load_trained_run,
    )

_TRAINED_RUN_NAMES = ("ANALYSIS_FILE", "TrainedRun", "analyze_run", "format_report", "load_trained_run")


def __getattr__(name: str) -> Any:
    """Returns a name of `simplexity.analysis.trained_run`, imported on first use."""
    if name in _TRAINED_RUN_NAMES:
        from simplexity.analysis import trained_run

        return getattr(trained_run, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "ANALYSIS_FILE",
    "CONCATENATED",
    "PCA",
    "AffineMap",
    "AnalysisOptions",
    "AnalysisSettings",
    "BeliefDataset",
    "BeliefGeometry",
    "CheckpointAnalysisSettings",
    "ModelOutputs",
    "ProbeResult",
    "ProbeSettings",
    "TooManyContextsError",
    "TrainedRun",
    "analyze_contexts",
    "analyze_model",
    "analyze_run",
    "belief_colors",
    "belief_dataset",
    "choose_ridge",
    "effective_sample_size",
    "fit_affine_map",
    "fit_pca",
    "fit_probe",
    "format_report",
    "load_trained_run",
    "model_outputs",
    "plot_analysis_curve",
    "plot_belief_geometry",
    "plot_position_losses",
    "plot_training_curve",
    "sampled_belief_dataset",
    "simplex_projection",
    "train_test_split",
    "weighted_r2",
    "weighted_rmse",
]
