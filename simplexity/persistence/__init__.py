"""Saving and restoring training state."""

from simplexity.persistence.checkpointer import Checkpointer
from simplexity.persistence.resume import choose_checkpoint, resolve_resume

__all__ = ["Checkpointer", "choose_checkpoint", "resolve_resume"]
