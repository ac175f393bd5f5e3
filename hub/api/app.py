"""FastAPI application factory. Engines and config are built at start-up, never at import."""

from __future__ import annotations

from fastapi import FastAPI
from sqlalchemy import Engine

from hub import web
from hub.api import admin, auth, cases, health, metrics, ops, stats, webhooks
from hub.config import HubConfig
from hub.logs import request_id_middleware

__all__ = ["create_app"]


def create_app(engine: Engine, config: HubConfig) -> FastAPI:
    """The hub's web application bound to one store and configuration."""
    app = FastAPI(title="Complaint integration hub", version="0.1.0")
    app.state.engine = engine
    app.state.config = config
    app.middleware("http")(request_id_middleware)
    app.include_router(health.router)
    app.include_router(metrics.router)
    app.include_router(webhooks.router)
    # the merged queue: every other route needs a signed-in user (hub.api.auth)
    auth.install(app, engine, unauthenticated=web.login_required_page)
    for module in (cases, stats, ops, admin):
        app.include_router(module.router)
    web.install(app)
    return app
