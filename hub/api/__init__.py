"""The hub's HTTP surface (FastAPI): health, webhook receivers; the queue API and UI grow here."""

from hub.api.app import create_app

__all__ = ["create_app"]
