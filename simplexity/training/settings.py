"""The settings of training: the trainer's, the learning-rate schedule's, the validation set's and the devices'.

Plain dataclasses with their own checks; each `check` raises a one-line `ConfigError` naming the config key
(`training.<field>`, `validation.<field>`, ...) under which an experiment's config holds the setting.
"""

from dataclasses import dataclass

from simplexity.errors import ConfigError
from simplexity.value_checks import (
    require_non_negative_int,
    require_optional_positive_int,
    require_positive_int,
    require_seed,
)

SCHEDULES = ("constant", "warmup_cosine")  # the names `learning_rate_schedule` builds
PRECISIONS = ("float32", "bfloat16")  # the compute dtypes of `simplexity.training.precision`


@dataclass
class TrainingConfig:
    """How long and on what batches to train: the trainer's settings, also the start of `training`.

    Arguments:
        sequence_len: tokens of context the model sees; sequences of `sequence_len + 1` tokens are sampled
            so that every position has a next-token target.
        batch_size: sequences per optimizer step.
        num_steps: the step the run ends at (a resumed run counts the steps taken before it).
        log_every: steps between logged metrics; metrics are averaged over those steps.
        checkpoint_every: steps between checkpoints; None saves only at the end.
        checkpoint_steps: further steps to checkpoint at (geometrically spaced ones, say, for curves against
            tokens seen), 0 for the initial parameters; None for none.
        loss_ema_decay: the decay `d` of the logged exponential moving average of the loss,
            `loss_ema = sum_s (1 - d) d^(t-s) loss_s / (1 - d^t)` after step `t`.
        checkpoint_on_interrupt: on Ctrl-C, save a checkpoint of the last completed step before stopping.
        precision: the dtype each step computes in, `float32` or `bfloat16` (parameters, optimizer state and
            loss stay float32; `simplexity.training.precision`).
    """

    sequence_len: int
    batch_size: int
    num_steps: int
    log_every: int
    checkpoint_every: int | None = None
    checkpoint_steps: list[int] | None = None
    loss_ema_decay: float = 0.99
    checkpoint_on_interrupt: bool = False
    precision: str = "float32"

    def check(self) -> None:
        """Raises a `ConfigError` naming `training.<field>` for a length, interval or decay out of range."""
        for name in ("sequence_len", "batch_size", "num_steps", "log_every"):
            require_positive_int(f"training.{name}", getattr(self, name))
        require_optional_positive_int("training.checkpoint_every", self.checkpoint_every)
        for step in self.checkpoint_steps or []:
            if isinstance(step, bool) or not isinstance(step, int) or not 0 <= step <= self.num_steps:
                raise ConfigError.invalid(
                    "training.checkpoint_steps",
                    self.checkpoint_steps,
                    f"must be a list of steps in [0, training.num_steps={self.num_steps}] or null",
                )
        if self.log_every > self.num_steps:
            raise ConfigError.invalid(
                "training.log_every", self.log_every, f"must be at most training.num_steps={self.num_steps}"
            )
        if self.precision not in PRECISIONS:
            raise ConfigError.invalid("training.precision", self.precision, f"must be one of {', '.join(PRECISIONS)}")
        decay = self.loss_ema_decay
        if isinstance(decay, bool) or not isinstance(decay, int | float) or not 0 <= decay < 1:
            raise ConfigError.invalid("training.loss_ema_decay", decay, "must be a number in [0, 1)")


@dataclass
class ScheduleConfig:
    """`training.schedule`: the learning-rate schedule (`learning_rate_schedule`)."""

    name: str = "constant"
    warmup_steps: int = 0
    final_fraction: float = 1.0

    def check(self) -> None:
        """Raises a `ConfigError` for an unknown schedule or a value out of range."""
        if self.name not in SCHEDULES:
            raise ConfigError.invalid("training.schedule.name", self.name, f"must be one of {', '.join(SCHEDULES)}")
        require_non_negative_int("training.schedule.warmup_steps", self.warmup_steps)
        if not 0.0 <= self.final_fraction <= 1.0:
            raise ConfigError.invalid(
                "training.schedule.final_fraction", self.final_fraction, "must be a number in [0, 1]"
            )


@dataclass
class ValidationSettings:
    """`validation`: the fixed validation set."""

    num_sequences: int = 2048
    seed: int = 0

    def check(self) -> None:
        """Raises a `ConfigError` for an empty validation set or a negative seed."""
        require_positive_int("validation.num_sequences", self.num_sequences)
        require_seed("validation.seed", self.seed)


@dataclass
class DistributedSettings:
    """`distributed`: joining a multi-host run (`initialize_distributed`, docs/scaling.md)."""

    coordinator_address: str | None = None
    num_processes: int | None = None
    process_id: int | None = None
