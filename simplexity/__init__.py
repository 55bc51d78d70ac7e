"""simplexity: sequence models trained on stochastic processes whose structure is known exactly.

The parts, each importable on its own:
    `simplexity.generative_processes`: hidden Markov models and the named processes.
    `simplexity.predictive_models`: the `PredictiveModel` protocol and the models.
    `simplexity.training`: the compiled training loop.
    `simplexity.persistence`: orbax checkpoints.
    `simplexity.logging`: metrics destinations.
    `simplexity.experiment`: one experiment from a Hydra config.
"""

__version__ = "0.1.0"
