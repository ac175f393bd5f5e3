"""The ``hub`` command line (typer). Each sub-module adds one group of verbs."""

from __future__ import annotations

import hub.cli.check as _check_verbs  # noqa: F401  (hub check)
import hub.cli.config as _config_verbs  # noqa: F401  (hub init, hub config validate)
import hub.cli.demo as _demo_verbs  # noqa: F401  (hub demo)
from hub.cli import api, cases, customers, db, ingest, outbox, poll, quarantine, registry, runtime, users  # noqa: F401  (register verbs)
from hub.cli.app import app, main

__all__ = ["app", "main"]
