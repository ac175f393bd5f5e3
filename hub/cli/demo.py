"""``hub demo``: the whole hub on this machine, fed a live stream of complaints, delivering to a demo CRM.

What runs (everything on 127.0.0.1, state in one folder):

- the pieces of ``hub run``: a worker and the scheduler (``hub worker``/``hub beat``
  started the same way, logs in ``<folder>/hub.log``) and the API and web UI;
- a private Dovecot as the support mailbox, polled by the hub every 2 s (skipped, with a
  note, when Dovecot is not installed);
- the demo feeder (:mod:`hub.demo.feeder`): a written-for-the-demo stream of complaints in
  Chinese and English by e-mail, Mastodon, X, voicemail and courier events;
- a "CRM" (:mod:`hub.demo.receiver`) receiving the generic webhook sink's signed events.

The terminal shows each item arriving, the case it opens or joins (and how it matched) and
each event reaching the CRM. ``--duration`` stops after so many seconds (exit 1 if no case
reached the CRM by then).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml

from hub.cli.app import app, console, err_console

DEMO_USER = "demo"
DEMO_PASSWORD = "demo-password"


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def _output_to(path: Path) -> Iterator[None]:
    """Point this process's stdout/stderr file descriptors at ``path`` while child processes start."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with path.open("ab") as log:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
    try:
        yield
    finally:
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        os.close(saved[0])
        os.close(saved[1])


def _write_config(folder: Path, receiver_url: str, mail: Any) -> Path:
    connectors = []
    if mail is not None:
        connectors.append(
            {
                "name": "demo-inbox",
                "type": "email",
                "interval": "2s",
                "config": {
                    "host": mail.host,
                    "port": mail.port,
                    "security": "none",
                    "username": mail.user,
                    "password": "${HUB_DEMO_IMAP_PASSWORD}",
                    "folders": ["INBOX"],
                    "timeout": 10,
                },
            }
        )
    config = {
        "connectors": connectors,
        "sinks": [
            {
                "name": "demo-crm",
                "type": "webhook",
                "config": {"url": receiver_url, "secret": "${HUB_DEMO_WEBHOOK_SECRET}", "timeout": 5},
                "delivery": {"backoff_seconds": 0.5, "backoff_max_seconds": 5, "max_attempts": 50},
            }
        ],
        "runtime": {"deliver_interval": "1s", "sla_sweep_interval": "10s"},
    }
    path = folder / "hub.yaml"
    path.write_text(
        "# written by `hub demo`: the demo mailbox and the demo CRM\n"
        + yaml.safe_dump(config, allow_unicode=True, sort_keys=False),
        encoding="utf-8",
    )
    return path


class _Printer:
    """Thread-safe lines on the console."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.start = time.monotonic()

    def __call__(self, text: str) -> None:
        with self.lock:
            console.print(f"[{time.monotonic() - self.start:5.1f}s] {text}", highlight=False, markup=False)


def _watch(engine: Any, last_id: int, say: _Printer) -> int:
    """Print messages placed since ``last_id`` (opened or joined which case, how); the new last id."""
    from sqlmodel import Session, col, select

    from hub.cases import public_id
    from hub.tables import MessageRow

    with Session(engine) as session:
        rows = session.exec(
            select(MessageRow).where(col(MessageRow.id) > last_id).order_by(col(MessageRow.id))
        ).all()
    for row in rows:
        assert row.id is not None
        last_id = max(last_id, row.id)
        how = (row.matched_by or {}).get("by", "none")
        if row.case_id is None:
            reason = (row.matched_by or {}).get("reason") or row.non_actionable_reason or "not actionable"
            say(f"   {row.channel}: no case ({reason})")
        elif how in ("new_case", "none", None) or not row.matched_by:
            say(f"   {row.channel}: opened case {public_id(row.case_id)} [{row.category}/{row.severity}]")
        else:
            say(f"   {row.channel}: joined case {public_id(row.case_id)} (matched by {how})")
    return last_id


def _counts(engine: Any) -> tuple[int, int]:
    from sqlalchemy import func
    from sqlmodel import Session, select

    from hub.tables import CaseRow, MessageRow

    with Session(engine) as session:
        return session.exec(select(func.count()).select_from(MessageRow)).one(), session.exec(
            select(func.count()).select_from(CaseRow)
        ).one()


def _demo_user(engine: Any) -> bool:
    """A demo login (admin); False if the hub has no user accounts."""
    try:
        from hub.users import UserError, add_user
    except ImportError:
        return False
    from hub.db import session_scope

    with contextlib.suppress(UserError), session_scope(engine) as session:
        add_user(session, DEMO_USER, "admin", DEMO_PASSWORD, actor="demo")
    return True


@app.command("demo")
def demo(
    port: Annotated[int, typer.Option(help="web UI / API port")] = 8000,
    duration: Annotated[
        float | None, typer.Option(help="stop after this many seconds (default: run until Ctrl-C)")
    ] = None,
    folder: Annotated[
        Path | None,
        typer.Option(
            "--dir",
            help="keep the store, config and logs here (default: a temporary folder, removed after)",
        ),
    ] = None,
    email: Annotated[bool, typer.Option(help="the e-mail channel (needs Dovecot)")] = True,
    pace: Annotated[float, typer.Option(help="seconds between complaints")] = 2.0,
) -> None:
    """Run the hub with simulated channels and a demo CRM: watch complaints merge into cases."""
    from hub.cli.runtime import _spawn, _stop
    from hub.demo.feeder import Feeder
    from hub.demo.mailserver import DemoMailServer, MailServerUnavailable
    from hub.demo.receiver import CrmReceiver

    temporary = folder is None
    root = Path(tempfile.mkdtemp(prefix="hub-demo-")) if folder is None else folder.resolve()
    root.mkdir(parents=True, exist_ok=True)
    say = _Printer()
    secret = secrets.token_urlsafe(24)

    def crm_event(event: dict[str, Any]) -> None:
        case = event.get("case") or {}
        what = f"[{case.get('category')}/{case.get('severity')}] {case.get('message_count', '')}".rstrip()
        say(f"<- CRM received {event.get('type')} for {case.get('case_id')} {what}")

    receiver = CrmReceiver(secret, root / "crm-events.jsonl", crm_event)
    receiver_url = receiver.start()
    mail: DemoMailServer | None = None
    if email:
        mail = DemoMailServer()
        try:
            mail.start()
        except MailServerUnavailable as exc:
            err_console.print(f"note: no e-mail channel in this demo: {exc}", highlight=False)
            mail = None
    else:
        err_console.print("note: no e-mail channel in this demo (--no-email)", highlight=False)

    config_file = _write_config(root, receiver_url, mail)
    for name in ("HUB_BROKER_URL", "HUB_RESULT_BACKEND"):
        os.environ.pop(name, None)  # the demo always runs embedded
    metrics_dir = root / "metrics"
    shutil.rmtree(metrics_dir, ignore_errors=True)
    metrics_dir.mkdir()
    os.environ.update(
        HUB_CONFIG=str(config_file),
        HUB_DATABASE_URL=f"sqlite:///{root / 'hub.db'}",
        HUB_BROKER_FILE=str(root / "broker.db"),
        HUB_DEMO_WEBHOOK_SECRET=secret,
        HUB_DEMO_IMAP_PASSWORD=mail.password if mail else "",
        PROMETHEUS_MULTIPROC_DIR=str(metrics_dir),
    )

    import uvicorn

    from hub.api import create_app
    from hub.config import load_config
    from hub.db import make_engine

    config = load_config(config_file)
    engine = make_engine()
    login = _demo_user(engine)
    with _output_to(root / "hub.log"):
        children = [_spawn(["worker", "-c", "4"]), _spawn(["beat"])]
    server = uvicorn.Server(
        uvicorn.Config(create_app(engine, config), host="127.0.0.1", port=port, log_level="warning")
    )
    api = threading.Thread(target=server.run, daemon=True, name="demo-api")
    api.start()
    feeder = Feeder(root, engine, config, mail, say, pace=pace)
    code = 0
    try:
        deadline = time.monotonic() + 15
        while not server.started and api.is_alive() and time.monotonic() < deadline:
            time.sleep(0.05)
        url = f"http://127.0.0.1:{port}/"
        console.print(f"hub demo: the merged queue at {url}", highlight=False)
        if login:
            console.print(f"          log in as {DEMO_USER} / {DEMO_PASSWORD}", highlight=False)
        console.print(
            f"          metrics {url}metrics, the demo CRM at {receiver_url}\n"
            f"          store, config and logs in {root}" + ("" if duration else "\n          Ctrl-C stops"),
            highlight=False,
        )
        if not api.is_alive():
            err_console.print(
                f"note: the web UI could not start on port {port} (try --port)", highlight=False
            )
        feeder.start()
        last_id = 0
        end = None if duration is None else time.monotonic() + duration
        while end is None or time.monotonic() < end:
            time.sleep(0.5)
            last_id = _watch(engine, last_id, say)
    except KeyboardInterrupt:
        pass
    finally:
        feeder.stop()
        server.should_exit = True
        err_console.print("hub demo: stopping ...", highlight=False)
        _stop(children, grace=10)
        api.join(timeout=10)
        messages, cases = _counts(engine)
        console.print(
            f"hub demo: {feeder.fed} items sent, {messages} messages stored, {cases} cases, "
            f"{len(receiver.events)} events reached the CRM"
            + (f", {feeder.skipped} e-mails skipped (no e-mail channel)" if feeder.skipped else ""),
            highlight=False,
        )
        receiver.stop()
        if mail is not None:
            mail.stop()
        engine.dispose()
        if duration is not None and not receiver.events:
            err_console.print(f"hub demo: no case reached the CRM; see {root / 'hub.log'}", highlight=False)
            code = 1
        if temporary and not code:
            shutil.rmtree(root, ignore_errors=True)
    if code:
        raise typer.Exit(code)
