"""Running the hub as real processes in tests: config files, process control, waiting."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from tests.services.dovecot import DovecotServer

HUB = [sys.executable, "-m", "hub"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_config(folder: Path, server: DovecotServer, receiver_url: str, *, interval: str = "1s") -> Path:
    """A hub.yaml polling alice's INBOX on ``server`` and delivering to a webhook receiver."""
    config: dict[str, Any] = {
        "connectors": [
            {
                "name": "support-inbox",
                "type": "email",
                "interval": interval,
                "config": {
                    "host": server.host,
                    "port": server.port,
                    "security": "none",
                    "username": "alice",
                    "password": "${TEST_IMAP_PASSWORD}",
                    "folders": ["INBOX"],
                    "batch_size": 20,
                },
            }
        ],
        "sinks": [
            {
                "name": "crm",
                "type": "webhook",
                "config": {"url": receiver_url + "/hook", "secret": "${TEST_HOOK_SECRET}", "timeout": 2},
                "delivery": {"backoff_seconds": 0.2, "backoff_max_seconds": 2, "max_attempts": 100},
            }
        ],
        "runtime": {"deliver_interval": "1s"},
    }
    path = folder / "hub.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def hub_env(
    folder: Path, database_url: str, server: DovecotServer, secret: str, **extra: str
) -> dict[str, str]:
    return {
        **os.environ,
        "HUB_DATABASE_URL": database_url,
        "HUB_CONFIG": str(folder / "hub.yaml"),
        "HUB_BROKER_FILE": str(folder / "broker.db"),
        "TEST_IMAP_PASSWORD": server.users["alice"],
        "TEST_HOOK_SECRET": secret,
        **extra,
    }


def spawn(args: list[str], env: dict[str, str], folder: Path, name: str) -> subprocess.Popen[bytes]:
    log = (folder / f"{name}.log").open("ab")
    return subprocess.Popen(
        [*HUB, *args], env=env, cwd=folder, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )


def stop(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM, timeout: float = 30) -> int:
    if proc.poll() is None:
        os.killpg(proc.pid, sig) if sig == signal.SIGKILL else proc.send_signal(sig)
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        return proc.wait()


def wait_for(check: Callable[[], bool], timeout: float, what: str, interval: float = 0.2) -> float:
    """Seconds until ``check()`` held; fails the test with ``what`` after ``timeout``."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if check():
            return time.monotonic() - start
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
