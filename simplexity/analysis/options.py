"""The options of an analysis, read and checked from its config (`configs/analyze.yaml`)."""

from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from simplexity.config import ConfigError
from simplexity.config.schema import ProbeSettings
from simplexity.value_checks import require_positive_int


@dataclass
class AnalysisOptions(ProbeSettings):
    """What to analyse and how: the probe settings (`ProbeSettings`) and which checkpoints and contexts.

    Arguments:
        step: the checkpoint to analyse; None for the latest.
        all_steps: analyse every checkpoint of the run, for curves against tokens seen (`step=all`).
        output_dir: where `analysis.json` and the figures go; None for the run directory.
        batch_size: contexts per forward pass.
        contexts: `enumerate` (every context up to `max_context_len`) or `sample` (the distinct prefixes of
            `num_sequences` sampled sequences, for contexts too many to enumerate).
        num_sequences: how many sequences `contexts=sample` draws.
        max_contexts: the most contexts to enumerate (300,000 here).
    """

    step: int | None = None
    all_steps: bool = False
    output_dir: Path | None = None
    batch_size: int = 4096
    contexts: str = "enumerate"
    num_sequences: int = 20_000
    max_contexts: int = 300_000


CONTEXT_SOURCES = ("enumerate", "sample")


def _select(cfg: DictConfig, key: str) -> Any:
    if OmegaConf.is_missing(cfg, key) or key not in cfg:
        raise ConfigError(f"{key}: missing required key")
    return cfg[key]


def analysis_options(cfg: DictConfig) -> AnalysisOptions:
    """Returns the options of an analysis config, or raises a one-line `ConfigError` for the first bad value.

    Checks `run_dir` too, which is not an option but the analysis's subject.
    """
    if OmegaConf.is_missing(cfg, "run_dir") or not isinstance(cfg.get("run_dir"), str) or not cfg.run_dir:
        raise ConfigError("run_dir: missing; give the training run directory to analyse, run_dir=PATH")
    step = _select(cfg, "step")
    all_steps = step == "all"
    if step in ("latest", "all"):
        step = None
    if step is not None and (not isinstance(step, int) or isinstance(step, bool) or step < 0):
        raise ConfigError.invalid("step", step, "must be `latest`, `all` or a non-negative integer")
    output_dir = _select(cfg, "output_dir")
    if output_dir is not None and (not isinstance(output_dir, str) or not output_dir):
        raise ConfigError.invalid("output_dir", output_dir, "must be a path or null")
    contexts = _select(cfg, "contexts")
    if contexts not in CONTEXT_SOURCES:
        raise ConfigError.invalid("contexts", contexts, f"must be one of {', '.join(CONTEXT_SOURCES)}")
    options = AnalysisOptions(
        step=step,
        all_steps=all_steps,
        output_dir=None if output_dir is None else Path(output_dir),
        batch_size=require_positive_int("batch_size", _select(cfg, "batch_size")),
        contexts=contexts,
        num_sequences=require_positive_int("num_sequences", _select(cfg, "num_sequences")),
        **{name: _select(cfg, name) for name in _PROBE_FIELDS},
    )
    options.check_probes("")
    options.min_probability, options.test_fraction = float(options.min_probability), float(options.test_fraction)
    options.ridge = None if options.ridge is None else float(options.ridge)
    return options


_PROBE_FIELDS = [field.name for field in fields(ProbeSettings)]
