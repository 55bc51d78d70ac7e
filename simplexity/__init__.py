"""simplexity: sequence models trained on stochastic processes whose structure is known exactly.

The parts, each importable on its own:
    `simplexity.generative_processes`: hidden Markov models and the named processes.
    `simplexity.predictive_models`: the `PredictiveModel` protocol and the models.
    `simplexity.training`: the compiled training loop.
    `simplexity.persistence`: orbax checkpoints.
    `simplexity.logging`: metrics destinations.
    `simplexity.config`: the typed experiment config and the `ConfigError` a user's mistake raises.
    `simplexity.experiment`: one experiment from a Hydra config.
    `simplexity.run_directory`: the layout of a run directory: its file names, config files and checkpoints.
    `simplexity.run_record`: a run directory read back: config, metrics, checkpoints, restored models.
    `simplexity.sweeps`: the failed jobs of a multirun and the table of its runs.
    `simplexity.analysis`: belief-geometry probes of trained models.
    `simplexity.run_analysis`: the analysis of a run directory or a sweep (`analysis.json` and figures).

`list_models()` and `list_processes()` name what a config can select; `load_config(overrides)` composes the
command line's config and `build(cfg)` returns its `Experiment` (process, model, optimizer, `train()`).
`load_run(run_dir)` reads a run directory back (`.config`, `.metrics`, `.checkpoints`, `.model(step)`,
`.restore(step)`, `.process`, `.provenance`) and `load_sweep(sweep_dir)` returns a table of a sweep's runs, one row
each.
"""

from simplexity.catalog import list_models, list_processes
from simplexity.config.loading import load_config
from simplexity.experiment import Experiment, build_experiment
from simplexity.run_record import Run, load_run
from simplexity.sweeps.summary import load_sweep

build = build_experiment

__version__ = "0.1.0"
__all__ = [
    "Experiment",
    "Run",
    "build",
    "build_experiment",
    "list_models",
    "list_processes",
    "load_config",
    "load_run",
    "load_sweep",
]
