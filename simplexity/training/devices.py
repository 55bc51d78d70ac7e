"""The devices a run trains on: joining a multi-host run, and splitting each batch over the devices."""

from typing import TypeVar

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from simplexity.errors import ConfigError
from simplexity.training.settings import DistributedSettings

Tree = TypeVar("Tree")


def initialize_distributed(settings: DistributedSettings) -> None:
    """Joins a multi-host run through `jax.distributed.initialize` when `coordinator_address` is set.

    With `num_processes` and `process_id` both set, JAX does not look for a cluster, so each process uses every
    device it sees (one process per host). With either one null, JAX takes it from the cluster's environment
    (under SLURM `SLURM_NTASKS` and `SLURM_PROCID`), and under SLURM then also restricts each process to the GPU
    numbered by its `SLURM_LOCALID` (one process per GPU). On CPUs the processes' collectives go through gloo,
    JAX's default (`jax_cpu_collectives_implementation`).
    """
    if settings.coordinator_address is None:
        return
    explicit = settings.num_processes is not None and settings.process_id is not None
    jax.distributed.initialize(
        coordinator_address=settings.coordinator_address,
        num_processes=settings.num_processes,
        process_id=settings.process_id,
        cluster_detection_method="deactivate" if explicit else None,
    )


def data_parallel_sharding() -> NamedSharding | None:
    """Returns the sharding of a batch over every device (axis `"data"`), or None with a single device."""
    devices = jax.devices()
    if len(devices) == 1:
        return None
    return NamedSharding(Mesh(np.asarray(devices), ("data",)), PartitionSpec("data"))


def replicate(tree: Tree, sharding: NamedSharding) -> Tree:
    """Returns `tree` with every array copied whole onto each device of the mesh of `sharding`.

    With several processes the arrays pass through host memory: an array committed to this process's device (a
    restored checkpoint, say) cannot be moved onto devices of other processes, while `jax.device_put` of a host
    array checks that every process holds the same value and places it on all of them.

    Arguments:
        tree: a pytree of arrays, the same on every process.
        sharding: a sharding over the devices to replicate onto (the batch's, say); only its mesh is used.
    """
    if jax.process_count() > 1:
        tree = jax.device_get(tree)
    return jax.device_put(tree, NamedSharding(sharding.mesh, PartitionSpec()))


def check_batch_splits_over_devices(batch_size: int) -> None:
    """Raises a `ConfigError` naming `training.batch_size` unless it splits evenly over the devices."""
    devices = jax.device_count()
    if batch_size % devices:
        raise ConfigError.invalid(
            "training.batch_size", batch_size, f"must be a multiple of the {devices} devices it is split over"
        )
