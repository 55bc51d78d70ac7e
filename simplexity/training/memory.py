"""Memory a run needs before it allocates: the validation set, a training step, and XLA's out-of-memory error.

The estimates are lower bounds of what is certainly held at once, so a run refused by them could not have run;
a model whose activations do not fit passes them and meets XLA's `RESOURCE_EXHAUSTED`, which `out_of_memory`
turns into one line naming the keys that set the sizes.
"""

import os
from collections.abc import Mapping
from typing import Any

import jax

from simplexity.errors import ConfigError

_GIB = 2**30
# Float64 arrays of (sequences, positions, vocabulary) on the host while the exact next-token distributions are
# computed and logged: the distributions, their logarithm and its masked copy, and the float32 casts beside them.
_HOST_VOCAB_ARRAYS = 4
# Float32 arrays of (sequences, positions, vocabulary) on the device while validating: the exact distributions,
# their logarithm, the logits and their log-softmax.
_DEVICE_VOCAB_ARRAYS = 4
# Float32 arrays of (batch, positions, vocabulary) in a training step: the logits, their log-softmax and its gradient.
_STEP_VOCAB_ARRAYS = 3
# Copies of the parameters a step holds: the parameters, the gradient, Adam's two moments and the update.
_PARAMETER_COPIES = 5


def host_memory_available() -> int | None:
    """Returns the bytes of host memory available to allocate now (`MemAvailable`), or None when unknown."""
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, AttributeError):
        return None


def device_memory_available() -> int | None:
    """Returns the bytes free on the first device (its limit less what is in use); None when it does not say.

    A CPU device reports nothing: its memory is the host's.
    """
    try:
        stats = jax.devices()[0].memory_stats()
    except Exception:  # a backend without memory statistics
        return None
    if not stats or "bytes_limit" not in stats:
        return None
    return int(stats["bytes_limit"]) - int(stats.get("bytes_in_use", 0))


def _gib(size: float) -> str:
    return f"{size / _GIB:.3g} GiB"


def _count_down(count: int) -> str:
    """Returns `count` as it is below a million, else rounded down to three significant digits (`1.15e+09`)."""
    if count < 10**6:
        return str(count)
    scale = 10 ** (len(str(count)) - 3)
    return f"{count // scale * scale:.3g}"


def _refuse_if_over(key: str, value: int, what: str, needed: int, available: int | None, where: str) -> None:
    if available is not None and needed > available:
        raise ConfigError.invalid(
            key, value, f"{what} needs at least {_gib(needed)} of {where} memory, more than the {_gib(available)} free"
        )


def check_validation_fits(num_sequences: int, sequence_len: int, vocab_size: int, num_states: int) -> None:
    """Raises a `ConfigError` naming `validation.num_sequences` when the validation set cannot fit in memory.

    The set is `num_sequences` token sequences, their exact next-token distributions (float64 on the host, from a
    belief state of `num_states` at every position) and those cast to float32 on the device.
    """
    cells = num_sequences * sequence_len
    host = cells * (_HOST_VOCAB_ARRAYS * vocab_size + num_states) * 8 + num_sequences * (sequence_len + 1) * 4
    device = cells * _DEVICE_VOCAB_ARRAYS * vocab_size * 4 + num_sequences * (sequence_len + 1) * 4
    what = (
        f"the validation set ({num_sequences} sequences of training.sequence_len={sequence_len} tokens with their "
        "exact next-token distributions)"
    )
    _refuse_if_over("validation.num_sequences", num_sequences, what, host, host_memory_available(), "host")
    device_free = device_memory_available()
    _refuse_if_over("validation.num_sequences", num_sequences, what, device, device_free, "device")
    if device_free is None:  # a CPU device: the device arrays are in host memory too
        _refuse_if_over("validation.num_sequences", num_sequences, what, host + device, host_memory_available(), "host")


def model_size_settings(instance: Any, key: str = "predictive_model.instance") -> str:
    """Returns `key` with the integer settings under it that set the model's size, for an error message.

    Every integer setting counts but a seed and the vocabulary size (which the process sets), nested ones by their
    dotted path: `predictive_model.instance (embedding_size=16, num_layers=2, hidden_size=64)`.
    """

    def sizes(node: Any, prefix: str) -> list[str]:
        if not isinstance(node, Mapping):
            return []
        found = []
        for name, value in node.items():
            if isinstance(value, Mapping):
                found += sizes(value, f"{prefix}{name}.")
            elif isinstance(value, int) and not isinstance(value, bool) and name not in ("seed", "vocab_size"):
                found.append(f"{prefix}{name}={value}")
        return found

    settings = sizes(instance, "")
    return f"{key} ({', '.join(settings)})" if settings else key


def _free_memory() -> tuple[int | None, str]:
    """Returns the bytes free where a training step runs, and where: the device's, or the host's on a CPU."""
    available = device_memory_available()
    return (available, "device") if available is not None else (host_memory_available(), "host")


def _refuse_parameters_over(num_parameters: int, model: str, available: int | None, where: str) -> None:
    copies = num_parameters * _PARAMETER_COPIES * 4
    if available is not None and copies > available:
        room = _count_down(available // (_PARAMETER_COPIES * 4))
        raise ConfigError(
            f"{model}: the model's {num_parameters} parameters need at least {_gib(copies)} of {where} memory "
            f"in a training step (with their gradient, the optimizer's state and the update), more than the "
            f"{_gib(available)} free, which holds at most {room} parameters; make the model smaller"
        )


def check_parameters_fit(num_parameters: int, model: str = "predictive_model.instance") -> None:
    """Raises a `ConfigError` naming `model` when a training step's float32 copies of the parameters cannot fit.

    Arguments:
        num_parameters: the model's trainable scalars.
        model: the model's config key and the settings that set its size (`model_size_settings`).
    """
    _refuse_parameters_over(num_parameters, model, *_free_memory())


def check_step_fits(
    batch_size: int,
    sequence_len: int,
    vocab_size: int,
    num_parameters: int,
    model: str = "predictive_model.instance",
) -> None:
    """Raises a `ConfigError` when a training step cannot fit in memory.

    A step holds at least the batch's tokens, its float32 logits with their log-softmax and gradient, and a few
    float32 copies of the parameters; activations inside the model come on top and are XLA's to report. When the
    copies of the parameters alone do not fit, the error names `model`; otherwise it names `training.batch_size`.

    Arguments:
        batch_size: sequences per step.
        sequence_len: tokens per sequence.
        vocab_size: the logits per position.
        num_parameters: the model's trainable scalars.
        model: the model's config key and the settings that set its size (`model_size_settings`).
    """
    parameters = num_parameters * _PARAMETER_COPIES * 4
    needed = (
        batch_size * (sequence_len + 1) * 4
        + batch_size * sequence_len * vocab_size * _STEP_VOCAB_ARRAYS * 4
        + parameters
    )
    available, where = _free_memory()
    _refuse_parameters_over(num_parameters, model, available, where)
    what = (
        f"a training step (training.batch_size={batch_size} sequences of training.sequence_len={sequence_len} "
        f"tokens, {num_parameters} parameters)"
    )
    _refuse_if_over("training.batch_size", batch_size, what, needed, available, where)


def is_out_of_memory(error: BaseException) -> bool:
    """Whether `error` is XLA's failure to allocate (`RESOURCE_EXHAUSTED`), or the host's (`MemoryError`)."""
    return isinstance(error, MemoryError) or (
        isinstance(error, jax.errors.JaxRuntimeError) and "RESOURCE_EXHAUSTED" in str(error)
    )


def out_of_memory(error: BaseException, batch_size: int, sequence_len: int, num_parameters: int) -> ConfigError:
    """Returns the one-line error for an allocation that failed, naming the keys that set the sizes."""
    lines = str(error).strip().splitlines()
    reason = lines[0].strip()[:200] if lines else type(error).__name__
    return ConfigError(
        f"training.batch_size={batch_size}, training.sequence_len={sequence_len}, predictive_model.instance "
        f"({num_parameters} parameters): out of memory ({reason}); make the batch, the sequences or the model smaller"
    )
