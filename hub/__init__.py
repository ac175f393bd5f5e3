"""Complaint integration hub: the core (models, store, pipeline, CLI)."""

__version__ = "0.1.0"
