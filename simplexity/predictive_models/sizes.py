"""The check every model builder makes of its sizes."""


def check_positive_sizes(**sizes: int) -> None:
    """Raises a ValueError naming the first size that is not a positive integer (`num_layers=0 must be ...`)."""
    for name, value in sizes.items():
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{name}={value!r} must be a positive integer")
