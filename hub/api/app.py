"""FastAPI application factory. Engines and config are built at start-up, never at import."""

from __future__ import annotations

from fastapi import FastAPI
from sqlalchemy import Engine

from hub.api import health, webhooks
from hub.config import HubConfig

__all__ = ["create_app"]


def create_app(engine: Engine, config: HubConfig) -> FastAPI:
    """The hub's web application bound to one store and configuration."""
    app = FastAPI(title="Complaint integration hub", version="0.1.0")
    app.state.engine = engine
    app.state.config = config
    app.include_router(health.router)
    app.include_router(webhooks.router)
    return app
