"""The typer application, shared helpers, and error handling for every verb."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import typer
from rich.console import Console
from sqlalchemy import Engine
from sqlmodel import Session
from typer.core import TyperGroup

from hub.config import HubConfig, load_config
from hub.db import make_engine, session_scope
from hub.errors import HubError
from hub.logs import configure_logging

__all__ = ["app", "console", "err_console", "fail", "main", "open_config", "open_engine", "session"]


class _HubGroup(TyperGroup):
    """Root command group: an expected error (HubError) becomes one line on stderr and exit status 1."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except HubError as exc:
            err_console.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
            raise typer.Exit(1) from None


app = typer.Typer(
    name="hub",
    cls=_HubGroup,
    help="Complaint integration hub: one merged, deduplicated complaint queue from every channel.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console(soft_wrap=True)
err_console = Console(stderr=True, soft_wrap=True)


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print a one-line reason to stderr and return the exit to raise."""
    err_console.print(f"[red]error:[/red] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


def open_config() -> HubConfig:
    return load_config()


def open_engine() -> Engine:
    return make_engine()


@contextmanager
def session() -> Iterator[Session]:
    """A transaction on the configured store."""
    engine = open_engine()
    try:
        with session_scope(engine) as s:
            yield s
    finally:
        engine.dispose()


def main() -> None:
    """Console entry point: masked, structured logs (level from HUB_LOG_LEVEL), then the verb."""
    configure_logging(level=os.environ.get("HUB_LOG_LEVEL", "WARNING").upper())
    app()
