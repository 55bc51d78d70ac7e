"""The settings of the belief-geometry analysis: how probes are fitted, during training and of a trained run.

`ProbeSettings` is the one declaration of the probe settings and their defaults. `AnalysisSettings` adds when to
probe during training (an experiment's `analysis` node); `CheckpointAnalysisSettings` adds how the contexts of a
trained run's checkpoint are chosen and batched, and `AnalysisOptions` which checkpoint and where the report
goes (what `analyze_run` takes). The one default that differs between the two uses is `max_contexts`: 20,000
contexts for probes repeated during training, 300,000 for a single analysis of a trained run.
"""

from dataclasses import dataclass
from pathlib import Path

from simplexity.errors import ConfigError
from simplexity.value_checks import is_number, require_optional_positive_int, require_positive_int, require_seed

WEIGHTINGS = ("probability", "uniform")
CONTEXT_SOURCES = ("enumerate", "sample")


@dataclass
class ProbeSettings:
    """How belief-geometry probes are fitted: the contexts, their weights and the held-out split.

    The numbers typed `int | float` keep the type they were given in, so that an error names the value as written.

    Arguments:
        max_context_len: the longest context probed; None takes the trained `sequence_len`, shortened to what
            fits in `max_contexts`.
        max_contexts: the most contexts enumerated (vocab + vocab^2 + ... up to `max_context_len`, before
            `min_probability` prunes).
        min_probability: contexts of at most this probability are left out (0 keeps every possible context).
        weights: how contexts count in fitting and scoring the probes: `probability` (each by its probability,
            so every position counts equally, as in the training loss) or `uniform` (each distinct context once).
        last_position_only: probe only the contexts of the full length (`max_context_len` tokens), as the
            published comparison does.
        test_fraction: the share of the contexts held out from fitting the probes.
        split_seed: the seed of that split (and of the cross-validation folds).
        ridge: the probes' ridge penalty, relative to the mean eigenvalue of the weighted activation covariance;
            None chooses it for each probe by 5-fold cross-validation on the training contexts, 0 fits plain
            least squares.
    """

    max_context_len: int | None = None
    max_contexts: int = 20_000
    min_probability: int | float = 0.0
    weights: str = "probability"
    last_position_only: bool = False
    test_fraction: int | float = 0.2
    split_seed: int = 0
    ridge: int | float | None = None

    def check_probes(self, prefix: str) -> None:
        """Raises a `ConfigError` naming `<prefix><field>` for a probe setting that cannot be used."""
        require_optional_positive_int(f"{prefix}max_context_len", self.max_context_len)
        require_positive_int(f"{prefix}max_contexts", self.max_contexts)
        if not is_number(self.min_probability) or not 0 <= self.min_probability < 1:
            raise ConfigError.invalid(f"{prefix}min_probability", self.min_probability, "must be a number in [0, 1)")
        if self.weights not in WEIGHTINGS:
            raise ConfigError.invalid(f"{prefix}weights", self.weights, f"must be one of {', '.join(WEIGHTINGS)}")
        if not isinstance(self.last_position_only, bool):
            raise ConfigError.invalid(f"{prefix}last_position_only", self.last_position_only, "must be true or false")
        if not is_number(self.test_fraction) or not 0 < self.test_fraction < 1:
            raise ConfigError.invalid(
                f"{prefix}test_fraction", self.test_fraction, "must be a number strictly between 0 and 1"
            )
        require_seed(f"{prefix}split_seed", self.split_seed)
        if self.ridge is not None and (not is_number(self.ridge) or not 0 <= self.ridge < float("inf")):
            raise ConfigError.invalid(
                f"{prefix}ridge", self.ridge, "must be null (chosen by cross-validation) or a number at least 0"
            )


@dataclass
class AnalysisSettings(ProbeSettings):
    """`analysis`: belief-geometry probes during training (`training_probes`), every `every` steps.

    Arguments:
        every: steps between probes, a multiple of `training.log_every`; None turns them off.
    """

    every: int | None = None

    def check(self, log_every: int, sequence_len: int) -> None:
        """Raises a `ConfigError` naming `analysis.<field>` for a value that cannot be used."""
        every = require_optional_positive_int("analysis.every", self.every)
        if every is not None and every % log_every:
            raise ConfigError.invalid("analysis.every", every, f"must be a multiple of training.log_every={log_every}")
        self.check_probes("analysis.")
        if self.max_context_len is not None and self.max_context_len > sequence_len:
            raise ConfigError.invalid(
                "analysis.max_context_len",
                self.max_context_len,
                f"must be at most training.sequence_len={sequence_len}",
            )


@dataclass
class CheckpointAnalysisSettings(ProbeSettings):
    """How a checkpoint of a trained run is analysed: the probe settings, and how its contexts are chosen and batched.

    Arguments:
        max_contexts: the most contexts enumerated; a single analysis reaches further than the probes repeated
            during training (300,000 here, 20,000 there).
        batch_size: contexts per forward pass.
        contexts: `enumerate` (every context up to `max_context_len`, shortened to what fits in `max_contexts`)
            or `sample` (the distinct prefixes of `num_sequences` sequences drawn from the process, with exact
            beliefs and probabilities: for a model trained on long contexts or a process with a large vocabulary).
        num_sequences: how many sequences `contexts=sample` draws.
        sites: the activation sites probed (and intervened on), e.g. `[block_3.resid_post, final_norm]`; None for
            the model's default sites (the embedding and each layer's output).
        interventions: also run the intervention analyses at each site (`simplexity.analysis.interventions`):
            probe-implied excess loss, belief patching and subspace ablation.
        num_pairs: how many context pairs the belief patching patches.
        extraction: also read off the machine the model implements and score it against the process's
            epsilon-machine (`simplexity.analysis.extraction`; the epsilon-machine must be finite).
        extraction_depth: how many tokens ahead the extraction's signatures look.
        targets: also probe the targets beyond the belief (`simplexity.analysis.targets`: the causal state, the
            last `last_k` tokens, the reverse-time belief; the epsilon-machine and its reverse must be finite).
        last_k: how many last tokens the `last_k_tokens` target holds.
    """

    max_contexts: int = 300_000
    batch_size: int = 4096
    contexts: str = "enumerate"
    num_sequences: int = 20_000
    sites: list[str] | None = None
    interventions: bool = False
    num_pairs: int = 512
    extraction: bool = False
    extraction_depth: int = 3
    targets: bool = False
    last_k: int = 2

    def check(self) -> None:
        """Raises a `ConfigError` naming the field for a value that cannot be used."""
        if self.contexts not in CONTEXT_SOURCES:
            raise ConfigError.invalid("contexts", self.contexts, f"must be one of {', '.join(CONTEXT_SOURCES)}")
        require_positive_int("batch_size", self.batch_size)
        require_positive_int("num_sequences", self.num_sequences)
        if self.sites is not None and (
            not self.sites or not all(isinstance(site, str) and site for site in self.sites)
        ):
            raise ConfigError.invalid("sites", self.sites, "must be null or a non-empty list of site names")
        if not isinstance(self.interventions, bool):
            raise ConfigError.invalid("interventions", self.interventions, "must be true or false")
        require_positive_int("num_pairs", self.num_pairs)
        if not isinstance(self.extraction, bool):
            raise ConfigError.invalid("extraction", self.extraction, "must be true or false")
        require_positive_int("extraction_depth", self.extraction_depth)
        if not isinstance(self.targets, bool):
            raise ConfigError.invalid("targets", self.targets, "must be true or false")
        require_positive_int("last_k", self.last_k)
        self.check_probes("")


@dataclass
class AnalysisOptions(CheckpointAnalysisSettings):
    """What to analyse and how: the settings of `CheckpointAnalysisSettings`, which checkpoints and where to write.

    Arguments:
        step: the checkpoint to analyse; None for the latest.
        all_steps: analyse every checkpoint of the run, for curves against tokens seen (`step=all`).
        output_dir: where `analysis.json` and the figures go; None for the run directory.
    """

    step: int | None = None
    all_steps: bool = False
    output_dir: Path | None = None
