"""``hub api``: the REST API and web UI alone (uvicorn on 127.0.0.1), without worker or scheduler."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from hub.cli.app import app, console, open_config, open_engine


@app.command("api")
def api(
    port: Annotated[int, typer.Option(help="port (or HUB_API_PORT)")] = int(
        os.environ.get("HUB_API_PORT", 8000)
    ),
    host: Annotated[str, typer.Option(help="address to serve on")] = "127.0.0.1",
) -> None:
    """Serve the REST API (OpenAPI at /docs) and the web UI."""
    import uvicorn

    from hub.api import create_app

    config = open_config()
    engine = open_engine()
    console.print(f"hub: serving http://{host}:{port}  (Ctrl-C stops)", highlight=False)
    try:
        uvicorn.run(create_app(engine, config), host=host, port=port, log_level="warning")
    finally:
        engine.dispose()
