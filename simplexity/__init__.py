"""simplexity: sequence models trained on stochastic processes whose structure is known exactly.

The parts, each importable on its own:
    `simplexity.generative_processes`: hidden Markov models and the named processes.
    `simplexity.predictive_models`: the `PredictiveModel` protocol and the models.
    `simplexity.training`: the compiled training loop.
    `simplexity.persistence`: orbax checkpoints.
    `simplexity.logging`: metrics destinations.
    `simplexity.experiment`: one experiment from a Hydra config.

`list_models()` and `list_processes()` name what a config can select.
"""

from simplexity.catalog import list_models, list_processes

__version__ = "0.1.0"
__all__ = ["list_models", "list_processes"]
