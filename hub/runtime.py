"""Runtime settings: where the broker is, and how the embedded default is laid out.

``HUB_BROKER_URL`` selects the Celery broker (``redis://...``, ``amqp://...``).
Without it the hub runs embedded: kombu's SQLAlchemy transport on a SQLite file
beside the store (``hub-broker.db``), which needs no server. Whatever the
broker, the state lives in the database (cursors, raw items, outbox rows):
tasks are triggers, so a task lost with a crashed worker only delays work until
the scheduler's next tick, and re-running one changes nothing.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["broker_url", "is_embedded", "result_backend"]

EMBEDDED_BROKER_FILE = "hub-broker.db"


def broker_url() -> str:
    url = os.environ.get("HUB_BROKER_URL", "").strip()
    if url:
        return url
    return f"sqla+sqlite:///{Path(os.environ.get('HUB_BROKER_FILE', EMBEDDED_BROKER_FILE)).resolve()}"


def is_embedded() -> bool:
    return not os.environ.get("HUB_BROKER_URL", "").strip()


def result_backend() -> str | None:
    """Results are not needed (tasks report through the database); None disables the backend."""
    return os.environ.get("HUB_RESULT_BACKEND") or None
