"""simplexity: sequence models trained on stochastic processes whose structure is known exactly.

The parts, each importable on its own:
    `simplexity.generative_processes`: hidden Markov models and the named processes.
    `simplexity.predictive_models`: the `PredictiveModel` protocol and the models.
    `simplexity.training`: the compiled training loop.
    `simplexity.persistence`: orbax checkpoints.
    `simplexity.logging`: metrics destinations.
    `simplexity.experiment`: one experiment from a Hydra config.

`list_models()` and `list_processes()` name what a config can select; `load_config(overrides)` composes the
command line's config and `build(cfg)` returns its `Experiment` (process, model, optimizer, `train()`).
"""

from simplexity.catalog import list_models, list_processes
from simplexity.config.loading import load_config
from simplexity.experiment import Experiment, build_experiment

build = build_experiment

__version__ = "0.1.0"
__all__ = ["Experiment", "build", "build_experiment", "list_models", "list_processes", "load_config"]
