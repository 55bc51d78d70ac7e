"""The options of an analysis, read and checked from its config (`simplexity/configs/analyze.yaml`)."""

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from simplexity.analysis.belief_geometry import WEIGHTINGS
from simplexity.config import ConfigError
from simplexity.config.checks import require_non_negative_int, require_positive_int


@dataclass(frozen=True)
class AnalysisOptions:
    """What to analyse and how.

    Arguments:
        step: the checkpoint to analyse; None for the latest.
        all_steps: analyse every checkpoint of the run, for curves against tokens seen (`step=all`).
        output_dir: where `analysis.json` and the figures go; None for the run directory.
        max_context_len: the longest context analysed; None for the trained `sequence_len` (shortened to what
            fits in `max_contexts`).
        min_probability: contexts of at most this probability are left out.
        max_contexts: the most contexts to enumerate.
        test_fraction: the share of contexts held out from fitting the probes.
        split_seed: seed of the train/test split.
        batch_size: contexts per forward pass.
        weights: `probability` (each context by its probability) or `uniform` (each distinct context once).
        last_position_only: probe only the contexts of the full length.
        contexts: `enumerate` (every context up to `max_context_len`) or `sample` (the distinct prefixes of
            `num_sequences` sampled sequences, for contexts too many to enumerate).
        num_sequences: how many sequences `contexts=sample` draws.
    """

    step: int | None = None
    all_steps: bool = False
    output_dir: Path | None = None
    max_context_len: int | None = None
    min_probability: float = 0.0
    max_contexts: int = 300_000
    test_fraction: float = 0.2
    split_seed: int = 0
    batch_size: int = 4096
    weights: str = "probability"
    last_position_only: bool = False
    contexts: str = "enumerate"
    num_sequences: int = 20_000


CONTEXT_SOURCES = ("enumerate", "sample")


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


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
    max_context_len = _select(cfg, "max_context_len")
    if max_context_len is not None:
        max_context_len = require_positive_int("max_context_len", max_context_len)
    min_probability = _select(cfg, "min_probability")
    if not _is_number(min_probability) or not 0 <= min_probability < 1:
        raise ConfigError.invalid("min_probability", min_probability, "must be a number in [0, 1)")
    test_fraction = _select(cfg, "test_fraction")
    if not _is_number(test_fraction) or not 0 < test_fraction < 1:
        raise ConfigError.invalid("test_fraction", test_fraction, "must be a number strictly between 0 and 1")
    split_seed = require_non_negative_int("split_seed", _select(cfg, "split_seed"))
    weights = _select(cfg, "weights")
    if weights not in WEIGHTINGS:
        raise ConfigError.invalid("weights", weights, f"must be one of {', '.join(WEIGHTINGS)}")
    last_position_only = _select(cfg, "last_position_only")
    if not isinstance(last_position_only, bool):
        raise ConfigError.invalid("last_position_only", last_position_only, "must be true or false")
    contexts = _select(cfg, "contexts")
    if contexts not in CONTEXT_SOURCES:
        raise ConfigError.invalid("contexts", contexts, f"must be one of {', '.join(CONTEXT_SOURCES)}")
    return AnalysisOptions(
        step=step,
        all_steps=all_steps,
        output_dir=None if output_dir is None else Path(output_dir),
        max_context_len=max_context_len,
        min_probability=float(min_probability),
        max_contexts=require_positive_int("max_contexts", _select(cfg, "max_contexts")),
        test_fraction=float(test_fraction),
        split_seed=split_seed,
        batch_size=require_positive_int("batch_size", _select(cfg, "batch_size")),
        weights=weights,
        last_position_only=last_position_only,
        contexts=contexts,
        num_sequences=require_positive_int("num_sequences", _select(cfg, "num_sequences")),
    )
