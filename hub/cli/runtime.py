"""``hub worker``, ``hub beat``, ``hub run`` and ``hub status``: the hub as running processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Annotated

import typer

from hub.cli.app import app, console, err_console, fail, open_config, open_engine
from hub.locks import acquire, owner_id, release
from hub.runtime import broker_url, is_embedded


@app.command("worker")
def worker(
    concurrency: Annotated[int, typer.Option("--concurrency", "-c", help="tasks run at once")] = 4,
    pool: Annotated[str, typer.Option(help="celery pool: threads, prefork or solo")] = "threads",
    name: Annotated[str | None, typer.Option(help="worker name (default: hub@<host>-<pid>)")] = None,
) -> None:
    """Run a Celery worker for the hub's tasks (broker from HUB_BROKER_URL, else embedded)."""
    from hub.celery_app import configure

    celery = configure(open_config())
    args = [
        "worker",
        f"--pool={pool}",
        f"--concurrency={concurrency}",
        "--loglevel=INFO",
        f"--hostname={name or f'hub@%h-{os.getpid()}'}",
        "--without-gossip",
        "--without-mingle",
    ]
    if is_embedded():
        args.append("--without-heartbeat")  # the SQLAlchemy transport has no broadcast
    celery.worker_main(args)


@app.command("beat")
def beat(
    schedule_file: Annotated[Path | None, typer.Option(help="where beat keeps its state")] = None,
) -> None:
    """Run the scheduler (exactly one: a second `hub beat` waits for the first's lock)."""
    from hub.celery_app import configure

    config = open_config()
    celery = configure(config)
    engine = open_engine()
    me, ttl = owner_id(), 30.0
    while not acquire(engine, "beat", me, ttl):
        err_console.print("another `hub beat` holds the scheduler lock; waiting ...", highlight=False)
        time.sleep(ttl / 3)
    stop = threading.Event()

    def renew() -> None:
        while not stop.wait(ttl / 3):
            if not acquire(engine, "beat", me, ttl):
                err_console.print("lost the scheduler lock; stopping", highlight=False)
                os.kill(os.getpid(), signal.SIGTERM)
                return

    threading.Thread(target=renew, daemon=True).start()
    state = schedule_file or Path(tempfile.gettempdir()) / f"hub-beat-{os.getpid()}"
    try:
        celery.Beat(schedule=str(state), max_interval=1, loglevel="INFO").run()
    finally:
        stop.set()
        release(engine, "beat", me)
        engine.dispose()


def _spawn(verb: list[str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "hub", *verb], start_new_session=True)


def _stop(children: list[subprocess.Popen[bytes]], grace: float = 20.0) -> None:
    """Warm shutdown: SIGTERM (finish or return in-flight work), then SIGKILL after ``grace``."""
    for child in children:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + grace
    for child in children:
        try:
            child.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


@app.command("run")
def run(
    port: Annotated[int, typer.Option(help="API/web port (or HUB_API_PORT)")] = int(
        os.environ.get("HUB_API_PORT", 8000)
    ),
    host: Annotated[str, typer.Option(help="address to serve on")] = "127.0.0.1",
    concurrency: Annotated[int, typer.Option(help="worker concurrency")] = 4,
) -> None:
    """The whole hub on one machine: worker, scheduler, API and web UI (embedded broker if none is set)."""
    import uvicorn

    from hub.api import create_app

    config = open_config()
    engine = open_engine()  # creates or upgrades the store before the children start
    console.print(f"hub: store {engine.url.render_as_string(hide_password=True)}", highlight=False)
    console.print(
        f"hub: broker {'embedded (' + broker_url() + ')' if is_embedded() else 'from HUB_BROKER_URL'}",
        highlight=False,
    )
    # worker counters reach this process's /metrics through prometheus' multiprocess files
    os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", tempfile.mkdtemp(prefix="hub-metrics-"))
    children = [_spawn(["worker", "-c", str(concurrency)]), _spawn(["beat"])]
    console.print(f"hub: serving http://{host}:{port}  (Ctrl-C stops)", highlight=False)
    try:
        uvicorn.run(create_app(engine, config), host=host, port=port, log_level="warning")
    finally:
        err_console.print("hub: stopping worker and scheduler ...", highlight=False)
        _stop(children)
        engine.dispose()


@app.command("status")
def status() -> None:
    """Broker, database, each connector's last success/error, outbox depth and dead letters."""
    from kombu import Connection
    from sqlalchemy import func
    from sqlmodel import Session, select

    from hub.export import iso
    from hub.metrics import health_problems
    from hub.tables import ConnectorHealthRow, OutboxRow

    problems = 0
    try:
        with Connection(broker_url(), connect_timeout=5) as conn:
            conn.ensure_connection(max_retries=1)
        console.print(f"broker     ok   {'embedded' if is_embedded() else conn.as_uri()}", highlight=False)
    except Exception as exc:
        problems += 1
        console.print(f"broker     DOWN {type(exc).__name__}: {exc}", highlight=False)
    try:
        engine = open_engine()
        with Session(engine) as s:
            health = s.exec(select(ConnectorHealthRow).order_by(ConnectorHealthRow.instance)).all()
            depth = dict(s.exec(select(OutboxRow.status, func.count()).group_by(OutboxRow.status)).all())
        console.print(f"database   ok   {engine.url.render_as_string(hide_password=True)}", highlight=False)
    except Exception as exc:
        raise fail(f"database DOWN: {type(exc).__name__}: {exc}") from None
    config = open_config()
    seen = {h.instance: h for h in health}
    for inst in config.connectors:
        h = seen.get(inst.name)
        if h is None:
            console.print(f"connector  {inst.name}: never polled", highlight=False)
            continue
        state = (
            "ok"
            if h.healthy and not h.consecutive_failures
            else ("UNHEALTHY" if not h.healthy else "failing")
        )
        problems += state != "ok"
        console.print(
            f"connector  {inst.name}: {state}; last success {iso(h.last_success_at) or 'never'}; "
            f"{h.consecutive_failures} failure(s) in a row{'; ' + (h.last_error or '') if h.consecutive_failures else ''}",
            highlight=False,
        )
    console.print(
        f"outbox     {depth.get('pending', 0)} pending, {depth.get('dead', 0)} dead, {depth.get('delivered', 0)} delivered",
        highlight=False,
    )
    problems += bool(depth.get("dead"))
    for problem in health_problems(engine, config):
        problems += 1
        console.print(f"problem    {problem}", highlight=False)
    if problems:
        raise typer.Exit(1)
