"""The ``hub`` command line (typer). Each sub-module adds one group of verbs."""

from __future__ import annotations

from hub.cli import cases, customers, db, ingest, outbox, poll, quarantine, registry, runtime  # noqa: F401  (register verbs)
from hub.cli.app import app, main

__all__ = ["app", "main"]
