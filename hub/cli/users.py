"""``hub users add|list|disable|password`` and ``hub tokens create``: who may use the queue."""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer
from rich.table import Table

from hub.cli.app import app, console, fail, open_config, session
from hub.errors import HubError
from hub.export import iso
from hub.users import (
    Role,
    UserError,
    add_user,
    create_token,
    disable_user,
    list_users,
    set_password,
    set_teams,
)

users_app = typer.Typer(
    help="People and systems using the queue (roles: agent, ops, admin).", no_args_is_help=True
)
tokens_app = typer.Typer(help="API tokens for systems (Authorization: Bearer ...).", no_args_is_help=True)
app.add_typer(users_app, name="users")
app.add_typer(tokens_app, name="tokens")


def _actor() -> str:
    return f"cli:{os.environ.get('USER') or 'unknown'}"


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        line = sys.stdin.readline()
        if not line:
            raise fail("--password-stdin: nothing on standard input")
        return line.rstrip("\r\n")
    if not sys.stdin.isatty():
        raise fail("no terminal to ask for the password: use --password-stdin (or --no-password)")
    return str(typer.prompt("password", hide_input=True, confirmation_prompt=True))


def _known_teams() -> list[str] | None:
    """The configured team names; None (any name) when no team is configured."""
    try:
        config = open_config()
    except HubError as exc:
        raise fail(str(exc)) from None
    return [t.name for t in config.teams] if config.teams else None


TeamOption = Annotated[
    list[str] | None,
    typer.Option("--team", help="a team from the configuration's teams: (repeat for several)"),
]


@users_app.command("add")
def users_add(
    name: Annotated[str, typer.Argument(help="user name (letters, digits, _ . @ -)")],
    role: Annotated[
        Role, typer.Option(help="agent works cases; ops also connectors; admin also users")
    ] = Role.agent,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="read the password from stdin")
    ] = False,
    no_password: Annotated[
        bool, typer.Option("--no-password", help="a system user that only uses API tokens")
    ] = False,
    team: TeamOption = None,
) -> None:
    """Add a user; the password is asked for (twice) unless --password-stdin or --no-password."""
    known = _known_teams() if team else None
    password = None if no_password else _read_password(password_stdin)
    try:
        with session() as s:
            user = add_user(s, name, role, password, teams=team or (), known_teams=known, actor=_actor())
            teams = f", teams {', '.join(user.teams)}" if user.teams else ""
            console.print(f"added {user.name} ({user.role}{teams})", highlight=False)
    except UserError as exc:
        raise fail(str(exc)) from None


@users_app.command("list")
def users_list() -> None:
    """Every user with role, state and last sign-in."""
    with session() as s:
        table = Table("name", "role", "teams", "state", "created", "last sign-in")
        users = list_users(s)
        for u in users:
            table.add_row(
                u.name,
                u.role,
                ", ".join(u.teams or []) or "-",
                "disabled" if u.disabled else "active",
                (iso(u.created_at) or "-")[:19],
                (iso(u.last_login_at) or "-")[:19],
            )
        console.print(table)
        console.print(f"{len(users)} user(s)", highlight=False)


@users_app.command("disable")
def users_disable(name: Annotated[str, typer.Argument(help="user name")]) -> None:
    """Disable a user: their web sessions end and their API tokens stop working."""
    try:
        with session() as s:
            disable_user(s, name, actor=_actor())
    except UserError as exc:
        raise fail(str(exc)) from None
    console.print(f"disabled {name}", highlight=False)


@users_app.command("teams")
def users_teams(
    name: Annotated[str, typer.Argument(help="user name")],
    team: TeamOption = None,
) -> None:
    """Set a user's teams (replacing them); without --team the user is in no team."""
    known = _known_teams() if team else None
    try:
        with session() as s:
            set_teams(s, name, team or (), known_teams=known, actor=_actor())
    except UserError as exc:
        raise fail(str(exc)) from None
    console.print(f"teams of {name}: {', '.join(team or []) or 'none'}", highlight=False)


@users_app.command("password")
def users_password(
    name: Annotated[str, typer.Argument(help="user name")],
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="read the password from stdin")
    ] = False,
) -> None:
    """Set a new password (signs the user out everywhere)."""
    password = _read_password(password_stdin)
    try:
        with session() as s:
            set_password(s, name, password, actor=_actor())
    except UserError as exc:
        raise fail(str(exc)) from None
    console.print(f"password of {name} changed", highlight=False)


@tokens_app.command("create")
def tokens_create(
    user: Annotated[str, typer.Argument(help="the user the token acts as")],
    label: Annotated[str | None, typer.Option(help="what the token is for, e.g. crm-sync")] = None,
) -> None:
    """Create an API token and print it once (only its hash is stored)."""
    try:
        with session() as s:
            _, token = create_token(s, user, label=label, actor=_actor())
    except UserError as exc:
        raise fail(str(exc)) from None
    print(token)
    typer.echo("store it now: it is not shown again; use it as `Authorization: Bearer <token>`", err=True)
