"""An agent's day in Chromium: sign in, filter the queue, open a cross-channel case, change its status;
the change shows in the REST API and reaches the webhook sink simulator."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Engine

from hub.api import create_app
from hub.config import HubConfig, SinkInstance
from hub.outbox import Outbox
from tests.api.helpers import PASSWORD, make_team
from tests.browser.conftest import LiveServer, login, watch
from tests.core.test_pipeline import build_corpus, run_import
from tests.simulators.webhook_receiver import WebhookReceiver

SECRET = "whsec-browser-test-0123456789"


def test_agent_filters_opens_a_merged_case_and_moves_it_on(
    browser: Any, sqlite_engine: Engine, tmp_path: Path, artifacts: Path
) -> None:
    with WebhookReceiver(SECRET) as receiver:
        config = HubConfig(
            sinks=[
                SinkInstance(
                    name="crm", type="webhook", config={"url": receiver.url + "/hook", "secret": SECRET}
                )
            ]
        )
        run_import(sqlite_engine, build_corpus(tmp_path / "corpus"), config)
        team = make_team(sqlite_engine)
        outbox = Outbox(sqlite_engine, config)
        assert outbox.flush().dead == 0
        already = set(receiver.events)
        with LiveServer(create_app(sqlite_engine, config)) as server:
            page = browser.new_page(viewport={"width": 1400, "height": 900}, locale="zh-CN")
            page.set_default_timeout(15_000)

            # unauthenticated: the login form (with 401), then the queue after signing in
            first = page.goto(f"{server.url}/")
            assert first is not None and first.status == 401
            assert page.locator("#login-form").is_visible()
            seen = watch(page)
            login(page, server.url, "alice", PASSWORD)
            rows = page.locator("tr.case-row")
            assert rows.count() == 4
            assert page.locator("tr.case-row .sev-severe").count() >= 1
            assert page.locator("tr.case-row .sla").first.inner_text()
            page.screenshot(path=str(artifacts / "queue.png"), full_page=True)

            # filter: only cases with a voicemail
            page.select_option("select[name=channel]", "voicemail")
            page.click("#filters button[type=submit]")
            page.wait_for_url("**channel=voicemail**")
            assert rows.count() == 1
            case_id = rows.first.get_attribute("data-case")
            assert case_id and case_id.startswith("C-")

            # the merged case: e-mail, its reply and a voicemail, each saying how it matched
            page.click(f"a.case-link:has-text('{case_id}')")
            page.wait_for_selector("#timeline")
            messages = page.locator("#timeline li.message")
            assert messages.count() == 3
            channels = [messages.nth(i).get_attribute("data-channel") for i in range(3)]
            matched = [messages.nth(i).get_attribute("data-matched-by") for i in range(3)]
            assert channels == ["email", "email", "voicemail"]
            assert matched == ["new_case", "thread", "customer"]
            assert "漏水" in page.locator("#timeline").inner_text()
            page.screenshot(path=str(artifacts / "case.png"), full_page=True)

            # move it on: 受理 → 调查
            assert not page.locator("#status-form fieldset.resolution").is_visible(), (
                "shown only when closing"
            )
            page.select_option("#status-select", "investigating")
            page.fill("#status-form input[name=comment]", "已联系仓库核实")
            page.click("#status-form button[type=submit]")
            page.wait_for_url(f"**/cases/{case_id}?done=status")
            assert "调查" in page.locator("h1").inner_text()
            assert page.locator(".flash.ok").is_visible()
            page.screenshot(path=str(artifacts / "case-after-status.png"), full_page=True)

            # the statistics page draws its charts
            page.goto(f"{server.url}/stats?lang=en")
            assert page.locator("svg.chart").count() == 4
            assert page.locator("svg.chart rect").count() > 0
            page.screenshot(path=str(artifacts / "stats.png"), full_page=True)
            assert seen == {"errors": [], "console": [], "dialogs": []}, seen
            page.close()

            # the REST API shows the change, with who and when
            api = httpx.get(f"{server.url}/api/cases/{case_id}", headers=team.auth("bert"), timeout=10)
            assert api.status_code == 200
            doc = api.json()
            assert doc["status"] == "investigating"
            assert doc["transitions"][-1]["actor"] == "alice"
            assert doc["transitions"][-1]["comment"] == "已联系仓库核实"

        # ... and downstream: the webhook receiver gets case.updated with the new status
        stats = outbox.flush()
        assert stats.dead == 0 and stats.delivered >= 1
        new = [receiver.events[e] for e in receiver.events if e not in already]
        updates = [e for e in new if e["case"]["case_id"] == case_id]
        assert [e["type"] for e in updates] == ["case.updated"]
        assert updates[0]["case"]["status"] == "investigating"
        assert receiver.by_case[case_id] == list(range(1, len(receiver.by_case[case_id]) + 1))
        assert receiver.bad_signatures == 0 and receiver.duplicates == 0
