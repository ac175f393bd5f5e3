"""Progress of long commands: plain lines with rate and ETA when stderr is not a terminal, a bar when it is."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func
from sqlmodel import Session, select
from typer.testing import CliRunner

from hub.cli.app import app, err_console
from hub.cli.progress import counter, track
from hub.config import load_config
from hub.db import make_engine, session_scope
from hub.tables import CaseRow, OutboxRow
from tests.core.test_pipeline import build_corpus, run_import
from tests.services.dovecot import DovecotServer, dovecot_for_tests
from tests.services.mail import complaint


def test_track_prints_plain_lines(capsys: pytest.CaptureFixture[str]) -> None:
    assert list(track(range(5), total=5, label="importing", every=2)) == [0, 1, 2, 3, 4]
    lines = capsys.readouterr().err.splitlines()
    assert [line.split(",")[0] for line in lines] == [
        "importing: 2/5 items",
        "importing: 4/5 items",
        "importing: 5/5 items",
    ]
    assert all("/s, eta " in line for line in lines)


def test_counter_prints_a_line_per_update(capsys: pytest.CaptureFixture[str]) -> None:
    with counter("polling inbox") as progress:
        progress.update(100, "batch 1")
        progress.update(250, "batch 2")
    lines = capsys.readouterr().err.splitlines()
    assert lines[0].startswith("polling inbox: 100 items, ") and lines[0].endswith("elapsed (batch 1)")
    assert lines[1].startswith("polling inbox: 250 items, ") and "/s" in lines[1]
    with counter("polling inbox", total=500) as progress:
        progress.update(250)
    assert capsys.readouterr().err.startswith("polling inbox: 250/500 items, ")


def test_a_bar_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(err_console, "_force_terminal", True)
    assert err_console.is_terminal
    with counter("polling inbox") as progress:
        progress.update(3)
        assert progress.count == 3
    assert sum(track(range(4), total=4, label="retrying")) == 6


@pytest.fixture
def hub_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    hub_yaml = tmp_path / "hub.yaml"
    hub_yaml.write_text(
        textwrap.dedent(
            """\
            sinks:
              - name: crm
                type: webhook
                config: {url: "http://127.0.0.1:9/h", secret: "s-Secret-9"}
            """
        )
    )
    monkeypatch.setenv("HUB_CONFIG", str(hub_yaml))
    monkeypatch.setenv("HUB_DATABASE_URL", f"sqlite:///{tmp_path}/hub.db")
    engine = make_engine(f"sqlite:///{tmp_path}/hub.db")
    run_import(engine, build_corpus(tmp_path / "c"), load_config(hub_yaml))
    engine.dispose()
    yield tmp_path


def test_outbox_retry_all_shows_progress(hub_env: Path) -> None:
    engine = make_engine(f"sqlite:///{hub_env}/hub.db")
    with session_scope(engine) as s:
        rows = s.exec(select(OutboxRow)).all()
        assert len(rows) >= 2
        for row in rows:
            row.status = "dead"
            s.add(row)
    total = len(rows)
    done = CliRunner().invoke(app, ["outbox", "retry", "--all"])
    assert done.exit_code == 0, done.output
    assert f"retrying: {total}/{total} items" in done.output
    assert f"{total} row(s) back in the queue" in done.output
    with Session(engine) as s:
        assert s.exec(select(func.count()).where(OutboxRow.status == "dead")).one() == 0
    engine.dispose()


def test_outbox_replay_several_cases(hub_env: Path) -> None:
    engine = make_engine(f"sqlite:///{hub_env}/hub.db")
    with Session(engine) as s:
        ids = sorted(s.exec(select(CaseRow.id)).all())[:2]
        before = s.exec(select(func.count()).select_from(OutboxRow)).one()
    assert len(ids) == 2
    cases = [f"C-{i:06d}" for i in ids]
    done = CliRunner().invoke(app, ["outbox", "replay", *cases])
    assert done.exit_code == 0, done.output
    assert "replaying: 2/2 items" in done.output and "2 case(s) queued for 1 sink(s)" in done.output
    missing = CliRunner().invoke(app, ["outbox", "replay", cases[0], "C-999999"])
    assert missing.exit_code == 1 and "no case C-999999" in missing.output
    with Session(engine) as s:
        assert s.exec(select(func.count()).select_from(OutboxRow)).one() == before + 3
    engine.dispose()


@pytest.fixture
def server() -> Iterator[DovecotServer]:
    with dovecot_for_tests() as s:
        yield s


def test_poll_shows_a_line_per_batch(
    server: DovecotServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server.append("alice", "INBOX", [complaint(n, tag="prog") for n in range(7)])
    hub_yaml = tmp_path / "hub.yaml"
    hub_yaml.write_text(
        textwrap.dedent(
            f"""\
            connectors:
              - name: backfill
                type: email
                config:
                  host: 127.0.0.1
                  port: {server.port}
                  security: none
                  username: alice
                  password: "${{IMAP_PW}}"
                  batch_size: 3
            """
        )
    )
    monkeypatch.setenv("HUB_CONFIG", str(hub_yaml))
    monkeypatch.setenv("HUB_DATABASE_URL", f"sqlite:///{tmp_path}/hub.db")
    monkeypatch.setenv("IMAP_PW", server.users["alice"])
    done = CliRunner().invoke(app, ["poll", "backfill", "--once"])
    assert done.exit_code == 0, done.output
    lines = [line for line in done.output.splitlines() if line.startswith("polling backfill: ")]
    assert [line.split(",")[0] for line in lines] == [
        "polling backfill: 3 items",
        "polling backfill: 6 items",
        "polling backfill: 7 items",
    ]
    assert lines[-1].endswith("(batch 3)")
    server.append("alice", "INBOX", [complaint(n, tag="prog-more") for n in range(5)])
    capped = CliRunner().invoke(app, ["poll", "backfill", "--once", "--max-items", "2"])
    assert capped.exit_code == 0, capped.output
    assert "polling backfill: 2/2 items, " in capped.output and ", eta " in capped.output
