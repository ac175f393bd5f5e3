"""`hub check`: real Dovecot (good and bad credentials, a missing folder), the webhook sink against its
receiver (right and wrong secret) and Mastodon against its simulator (good and refused token)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from hub.cli import app
from tests.services.dovecot import DovecotServer, dovecot_for_tests
from tests.simulators.mastodon import MastodonSimulator
from tests.simulators.webhook_receiver import WebhookReceiver

HOOK_SECRET = "check-hook-Secret-41"
WRONG_HOOK_SECRET = "wrong-hook-Secret-42"
WRONG_IMAP_PASSWORD = "not-Bobs-password-43"
WRONG_TOKEN = "masto-Wrong-token-44"


@pytest.fixture
def dovecot() -> Iterator[DovecotServer]:
    with dovecot_for_tests() as server:
        yield server


@pytest.fixture
def penalised_dovecot() -> Iterator[DovecotServer]:
    """Its own instance for the wrong password (Dovecot's auth penalty would slow the good one)."""
    with dovecot_for_tests() as server:
        yield server


def imap(server: DovecotServer, user: str, password: str, **extra: Any) -> dict[str, Any]:
    return {
        "host": server.host,
        "port": server.port,
        "security": "none",
        "username": user,
        "password": password,
        "timeout": 10,
        **extra,
    }


@pytest.fixture
def setup(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    dovecot: DovecotServer,
    penalised_dovecot: DovecotServer,
) -> Iterator[tuple[Path, WebhookReceiver, MastodonSimulator]]:
    with WebhookReceiver(HOOK_SECRET) as receiver, MastodonSimulator() as masto:
        assert isinstance(receiver, WebhookReceiver) and isinstance(masto, MastodonSimulator)
        monkeypatch.setenv("CHECK_IMAP_PASSWORD", dovecot.users["alice"])
        monkeypatch.setenv("CHECK_WRONG_PASSWORD", WRONG_IMAP_PASSWORD)
        monkeypatch.setenv("CHECK_HOOK_SECRET", HOOK_SECRET)
        config = {
            "connectors": [
                {
                    "name": "good-inbox",
                    "type": "email",
                    "config": imap(dovecot, "alice", "${CHECK_IMAP_PASSWORD}"),
                },
                {
                    "name": "missing-folder",
                    "type": "email",
                    "config": imap(
                        dovecot, "alice", "${CHECK_IMAP_PASSWORD}", folders=["INBOX", "Complaints"]
                    ),
                },
                {
                    "name": "bad-inbox",
                    "type": "email",
                    "config": imap(penalised_dovecot, "bob", "${CHECK_WRONG_PASSWORD}"),
                },
                {
                    "name": "social",
                    "type": "mastodon",
                    "config": {"base_url": masto.url, "access_token": masto.token, "timeout": 5},
                },
                {
                    "name": "social-revoked",
                    "type": "mastodon",
                    "config": {"base_url": masto.url, "access_token": WRONG_TOKEN, "timeout": 5},
                },
            ],
            "sinks": [
                {
                    "name": "crm",
                    "type": "webhook",
                    "config": {"url": receiver.url + "/hook", "secret": "${CHECK_HOOK_SECRET}", "timeout": 5},
                },
                {
                    "name": "crm-old-secret",
                    "type": "webhook",
                    "config": {"url": receiver.url + "/hook", "secret": WRONG_HOOK_SECRET, "timeout": 5},
                },
            ],
        }
        path = tmp_path / "hub.yaml"
        path.write_text(yaml.safe_dump(config))
        monkeypatch.setenv("HUB_CONFIG", str(path))
        monkeypatch.setenv("COLUMNS", "250")
        yield path, receiver, masto


def rows(output: str) -> dict[str, list[str]]:
    """The table's rows by instance name: [type, result, reason, what to do]."""
    found: dict[str, list[str]] = {}
    last: list[str] | None = None
    for line in output.splitlines():
        cells = [c.strip() for c in line.strip().strip("│┃").split("│")]
        if len(cells) != 5 or cells[0] == "name":
            continue
        if cells[0]:
            last = found[cells[0]] = cells[1:]
        elif last is not None:  # a wrapped row goes on
            last[:] = [f"{a} {b}".strip() for a, b in zip(last, cells[1:], strict=True)]
    return found


def test_check_table_passes_and_fails_with_reasons_and_hints(
    setup: tuple[Path, WebhookReceiver, MastodonSimulator],
) -> None:
    _, receiver, masto = setup
    result = CliRunner().invoke(app, ["check"])
    assert result.exit_code == 1, result.output
    table = rows(result.stdout)
    assert set(table) == {
        "good-inbox",
        "missing-folder",
        "bad-inbox",
        "social",
        "social-revoked",
        "crm",
        "crm-old-secret",
    }, result.output

    assert table["good-inbox"][:2] == ["connector: email", "ok"]
    assert table["social"][:2] == ["connector: mastodon", "ok"]
    assert table["crm"][:2] == ["sink: webhook", "ok"]

    folder = table["missing-folder"]
    assert folder[1] == "FAIL" and "folder 'Complaints' not found" in folder[2]
    assert "fix folders in the config" in folder[3]

    bad = table["bad-inbox"]
    assert bad[1] == "FAIL", bad
    assert "bob" in bad[2] or "login" in bad[2].lower() or "authentication" in bad[2].lower(), bad
    assert bad[3], "a bad password has a hint"

    revoked = table["social-revoked"]
    assert revoked[1] == "FAIL" and "access token refused" in revoked[2]
    assert "access token" in revoked[3]

    old = table["crm-old-secret"]
    assert old[1] == "FAIL" and "401" in old[2]
    assert "same secret" in old[3]
    assert receiver.bad_signatures >= 1

    assert "checks: 3 ok, 4 failing, 0 skipped" in result.stdout
    for secret in (WRONG_IMAP_PASSWORD, WRONG_TOKEN, WRONG_HOOK_SECRET, HOOK_SECRET, masto.token):
        assert secret not in result.output


def test_check_one_instance(setup: tuple[Path, WebhookReceiver, MastodonSimulator]) -> None:
    runner = CliRunner()
    good = runner.invoke(app, ["check", "good-inbox"])
    assert good.exit_code == 0, good.output
    assert list(rows(good.stdout)) == ["good-inbox"]
    sink = runner.invoke(app, ["check", "crm"])
    assert sink.exit_code == 0, sink.output
    bad = runner.invoke(app, ["check", "crm-old-secret"])
    assert bad.exit_code == 1
    unknown = runner.invoke(app, ["check", "crmm"])
    assert unknown.exit_code == 1
    assert "no connector or sink named 'crmm'" in unknown.output and "good-inbox" in unknown.output
