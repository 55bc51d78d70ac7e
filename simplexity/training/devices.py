"""The devices a run trains on: joining a multi-host run, and splitting each batch over the devices."""

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from simplexity.config.errors import ConfigError
from simplexity.config.schema import DistributedSettings


def initialize_distributed(settings: DistributedSettings) -> None:
    """Joins a multi-host run through `jax.distributed.initialize` when `coordinator_address` is set."""
    if settings.coordinator_address is None:
        return
    jax.distributed.initialize(
        coordinator_address=settings.coordinator_address,
        num_processes=settings.num_processes,
        process_id=settings.process_id,
    )


def data_parallel_sharding() -> NamedSharding | None:
    """Returns the sharding of a batch over every device (axis `"data"`), or None with a single device."""
    devices = jax.devices()
    if len(devices) == 1:
        return None
    return NamedSharding(Mesh(np.asarray(devices), ("data",)), PartitionSpec("data"))


def check_batch_splits_over_devices(batch_size: int) -> None:
    """Raises a `ConfigError` naming `training.batch_size` unless it splits evenly over the devices."""
    devices = jax.device_count()
    if batch_size % devices:
        raise ConfigError.invalid(
            "training.batch_size", batch_size, f"must be a multiple of the {devices} devices it is split over"
        )
