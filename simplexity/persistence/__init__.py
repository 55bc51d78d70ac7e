"""Saving and restoring training state."""

from simplexity.persistence.checkpointer import Checkpointer

__all__ = ["Checkpointer"]
