"""`hub users add|list|disable` and `hub tokens create` through the real CLI."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from hub.api import create_app
from hub.cli import app
from hub.config import HubConfig
from hub.db import make_engine


@pytest.fixture
def hub_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HUB_DATABASE_URL", f"sqlite:///{tmp_path}/hub.db")
    monkeypatch.delenv("HUB_CONFIG", raising=False)
    monkeypatch.setenv("COLUMNS", "200")
    return tmp_path


def test_users_and_tokens(hub_env: Path) -> None:
    runner = CliRunner()
    added = runner.invoke(
        app, ["users", "add", "mei", "--role", "ops", "--password-stdin"], input="s3cret-pass\n"
    )
    assert added.exit_code == 0, added.output
    assert "added mei (ops)" in added.output
    again = runner.invoke(app, ["users", "add", "mei", "--password-stdin"], input="s3cret-pass\n")
    assert again.exit_code == 1 and "already exists" in again.output
    short = runner.invoke(app, ["users", "add", "lin", "--password-stdin"], input="short\n")
    assert short.exit_code == 1 and "at least 8" in short.output
    role = runner.invoke(
        app, ["users", "add", "lin", "--role", "boss", "--password-stdin"], input="s3cret-pass\n"
    )
    assert role.exit_code != 0
    system = runner.invoke(app, ["users", "add", "crm-sync", "--no-password"])
    assert system.exit_code == 0, system.output

    made = runner.invoke(app, ["tokens", "create", "crm-sync", "--label", "crm"])
    assert made.exit_code == 0, made.output
    token = made.stdout.strip().splitlines()[0]
    assert token.startswith("hub_") and len(token) > 40
    assert "not shown again" in made.output

    engine = make_engine(f"sqlite:///{hub_env}/hub.db")
    try:
        client = TestClient(create_app(engine, HubConfig()))
        me = client.get("/api/me", headers={"Authorization": f"Bearer {token}"})
        assert me.json() == {"name": "crm-sync", "role": "agent", "via": "token"}
        listing = runner.invoke(app, ["users", "list"])
        assert listing.exit_code == 0 and "mei" in listing.output and "ops" in listing.output
        assert "2 user(s)" in listing.output and token not in listing.output
        assert runner.invoke(app, ["users", "disable", "crm-sync"]).exit_code == 0
        assert client.get("/api/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401
        assert "disabled" in runner.invoke(app, ["users", "list"]).output
        missing = runner.invoke(app, ["users", "disable", "ghost"])
        assert missing.exit_code == 1 and "no user 'ghost'" in missing.output
        refused = runner.invoke(app, ["tokens", "create", "crm-sync"])
        assert refused.exit_code == 1 and "disabled" in refused.output
    finally:
        engine.dispose()


def test_hub_api_serves_on_loopback(hub_env: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "HUB_API_PORT": str(port)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "hub", "api"],
        cwd=hub_env,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                reply = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    out = proc.stdout.read().decode() if proc.stdout and proc.poll() is not None else ""
                    pytest.fail(f"`hub api` did not start: {out}")
                time.sleep(0.2)
        assert reply.status_code == 200
        assert httpx.get(f"http://127.0.0.1:{port}/api/cases", timeout=5).status_code == 401
        assert httpx.get(f"http://127.0.0.1:{port}/login", timeout=5).status_code == 200
    finally:
        proc.terminate()
        proc.wait(timeout=20)
