"""`hub demo` headless: complaints arrive on every channel, merge into cases and reach the demo CRM."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import create_engine, text

from hub.demo.stream import STREAM, capture
from hub.registry import get_connector
from hub.understand import UnderstandSettings, enrich
from tests.runtime.helpers import free_port

DOVECOT = shutil.which("dovecot", path=f"{os.environ.get('PATH', '')}:/usr/local/sbin:/usr/sbin:/sbin")


def test_every_demo_item_parses_in_its_channel() -> None:
    now = datetime.now(UTC)
    languages = set()
    for seq, item in enumerate(STREAM):
        connector = get_connector(item.channel)
        raws = connector.split_capture(capture(item, now, seq=seq, run="t"), instance="t", received_at=now)
        assert len(raws) == 1, item.key
        message = enrich(connector.parse(raws[0]), UnderstandSettings())
        languages.add((message.language or "")[:2])
        if item.channel not in ("aftership", "kuaidi100") and item.key != "thanks":
            assert message.actionable, item.key
    assert {"zh", "en"} <= languages
    assert {i.channel for i in STREAM} == {"email", "mastodon", "x", "twilio", "aftership", "kuaidi100"}


def test_hub_demo_runs_headless_and_cases_reach_the_crm(tmp_path: Path) -> None:
    folder = tmp_path / "demo"
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    done = subprocess.run(
        [sys.executable, "-m", "hub", "demo", "--duration", "20", "--port", str(port), "--dir", str(folder)],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=180,
    )
    output = done.stdout + done.stderr
    log = (folder / "hub.log").read_text(errors="replace")[-3000:] if (folder / "hub.log").exists() else ""
    assert done.returncode == 0, output + log
    assert f"http://127.0.0.1:{port}/" in output
    assert "log in as demo / demo-password" in output

    engine = create_engine(f"sqlite:///{folder / 'hub.db'}")
    with engine.connect() as c:
        cases = c.execute(text('SELECT count(*) FROM "case"')).scalar()
        channels = {row[0] for row in c.execute(text("SELECT DISTINCT channel FROM message"))}
        joined = c.execute(text("SELECT count(*) FROM message WHERE matched_by LIKE '%order_no%'")).scalar()
    engine.dispose()
    assert cases and cases >= 4, output
    assert joined and joined >= 1, output
    assert {"mastodon", "x", "courier", "voicemail"} <= channels, channels
    if DOVECOT:
        assert "email" in channels, output + log
    else:
        assert "no e-mail channel" in output

    events = [json.loads(line) for line in (folder / "crm-events.jsonl").read_text().splitlines()]
    assert events, output
    assert {e["type"] for e in events} >= {"case.created"}
    assert all(e["case"]["case_id"].startswith("C-") for e in events)
    assert "events reached the CRM" in output
