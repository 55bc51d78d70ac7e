"""Saving and restoring training state."""

from simplexity.persistence.checkpointer import Checkpointer
from simplexity.persistence.resume import choose_checkpoint, resolve_resume
from simplexity.persistence.settings import PersistenceSettings, ResumeSettings

__all__ = ["Checkpointer", "PersistenceSettings", "ResumeSettings", "choose_checkpoint", "resolve_resume"]
