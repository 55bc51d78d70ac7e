"""Hydra's basic sweeper, but a job whose overrides cannot be composed fails alone and the others run.

Hydra's basic sweeper composes every job's config before launching any, and one value that cannot be converted
(`training.batch_size=4,abc`) stops the whole sweep. `JobwiseBasicSweeper` (declared to Hydra as
`hydra_plugins.simplexity_sweeper.JobwiseSweeper`, the default `hydra/sweeper` of `configs/train.yaml`)
composes each job the same way; a job that fails is recorded in its directory (`FAILED`, said in one line) under
the number it would have had, and the jobs around it are launched as they would have been, with any launcher.
"""

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.utils import JobReturn
from omegaconf import OmegaConf, open_dict
from omegaconf.errors import OmegaConfBaseException

from simplexity.errors import one_line
from simplexity.sweeps.failed_jobs import announce_failure, record_failure


def describe_composition_error(error: BaseException) -> str:
    """Returns one line for a job config that could not be composed, naming the key where the config says it."""
    cause = error.__cause__ if isinstance(error.__cause__, OmegaConfBaseException) else error
    key = getattr(cause, "full_key", None)
    message = str(cause).strip().splitlines()[0] if str(cause).strip() else type(cause).__name__
    return f"{key}: {message}" if key else one_line(error)


class JobwiseBasicSweeper(BasicSweeper):
    """The basic sweeper (`hydra.sweeper.params`, `max_batch_size`), failing a job that cannot be composed alone."""

    def sweep(self, arguments: list[str]) -> Any:
        """Launches every job of the sweep; returns the launched jobs' results, one sequence per launch."""
        assert self.config is not None and self.launcher is not None and self.hydra_context is not None
        params_conf = self._parse_config()
        params_conf.extend(arguments)
        parser = OverridesParser.create(config_loader=self.hydra_context.config_loader)
        self.overrides = self.split_arguments(parser.parse_overrides(params_conf), self.max_batch_size)
        sweep_dir = Path(self.config.hydra.sweep.dir)
        sweep_dir.mkdir(parents=True, exist_ok=True)
        OmegaConf.save(self.config, sweep_dir / "multirun.yaml")
        returns: list[Sequence[JobReturn]] = []
        first = 0
        while not self.is_done():
            batch = self.get_job_batch()
            composes = [self._composes(overrides, first + index) for index, overrides in enumerate(batch)]
            start = 0
            while start < len(batch):
                if not composes[start]:
                    start += 1
                    continue
                end = start
                while end < len(batch) and composes[end]:
                    end += 1
                results = self.launcher.launch(batch[start:end], initial_job_idx=first + start)
                for result in results:
                    _ = result.return_value  # raises what a job raised, as the basic sweeper does
                returns.append(results)
                start = end
            first += len(batch)
        return returns

    def _composes(self, overrides: Sequence[str], job: int) -> bool:
        """Whether the job's config composes; if not, records its failure in its directory and says so."""
        assert self.config is not None and self.hydra_context is not None
        try:
            self.hydra_context.config_loader.load_sweep_config(self.config, list(overrides))
        except Exception as error:
            failure = record_failure(self._job_dir(job), job, list(overrides), describe_composition_error(error))
            announce_failure(failure)
            return False
        return True

    def _job_dir(self, job: int) -> Path:
        """Returns the directory job number `job` runs in: `hydra.sweep.dir` / `hydra.sweep.subdir`."""
        assert self.config is not None
        config = OmegaConf.create({"hydra": OmegaConf.to_container(self.config.hydra)})
        with open_dict(config):
            config.hydra.job.num = job
            config.hydra.job.id = job
        try:
            subdir = str(OmegaConf.select(config, "hydra.sweep.subdir"))
        except OmegaConfBaseException:
            subdir = str(job)
        return Path(str(self.config.hydra.sweep.dir)) / subdir
