"""simplexity's Hydra sweeper, declared where Hydra accepts plugins (`hydra_plugins`): `hydra/sweeper=jobwise`."""

from simplexity.sweeps.sweeper import JobwiseBasicSweeper


class JobwiseSweeper(JobwiseBasicSweeper):
    """Hydra's basic sweeper, but a job whose overrides cannot be composed fails alone (`simplexity.sweeps.sweeper`)."""
