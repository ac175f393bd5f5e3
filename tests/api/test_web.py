"""The web UI's pages over HTTP (the browser tests drive the same pages in Chromium)."""

from __future__ import annotations

import re
from pathlib import Path

from hub.config import HubConfig
from tests.api.conftest import Hub
from tests.api.helpers import xss_email
from tests.core import samples
from tests.core.test_pipeline import run_import


def _kettle(hub: Hub) -> str:
    r = hub.client.get("/api/cases?q=HM20261101-20001", headers=hub.team.auth("alice"))
    return str(r.json()["items"][0]["case_id"])


def test_queue_page_filters_and_languages(hub: Hub) -> None:
    client, _ = hub.login("alice")
    zh = client.get("/", headers={"Accept-Language": "zh-CN,zh;q=0.9"})
    assert zh.status_code == 200 and "工单队列" in zh.text and "商品质量" in zh.text
    assert zh.headers["content-security-policy"].startswith("default-src 'none'; script-src 'self'")
    assert zh.text.count('class="case-row') == 4
    assert '<use href="#i-voicemail"/>' in zh.text and "sev-severe" in zh.text
    en = client.get("/?lang=en")
    assert "Complaint queue" in en.text and "Product quality" in en.text
    assert "hub_lang=en" in en.headers["set-cookie"]
    assert "Complaint queue" in client.get("/").text, "the language is remembered"
    voicemail = client.get("/?channel=voicemail&status=all")
    assert voicemail.text.count('class="case-row') == 1 and _kettle(hub) in voicemail.text
    none = client.get("/?q=nothing-like-this")
    assert 'class="case-row' not in none.text and "No cases match." in none.text
    bad = client.get("/?category=weather")
    assert bad.status_code == 422 and "category must be one of" in bad.text


def test_case_page_actions_and_errors(hub: Hub) -> None:
    client, csrf = hub.login("alice")
    kettle = _kettle(hub)
    page = client.get(f"/cases/{kettle}?lang=en")
    assert page.status_code == 200
    assert page.text.count('class="message"') == 3 and 'data-matched-by="customer"' in page.text
    moved = client.post(
        f"/cases/{kettle}/status",
        data={"csrf_token": csrf, "status": "investigating"},
        follow_redirects=False,
    )
    assert moved.status_code == 303 and moved.headers["location"] == f"/cases/{kettle}?done=status"
    after = client.get(moved.headers["location"])
    assert "Saved." in after.text and "Investigating" in after.text
    refused = client.post(f"/cases/{kettle}/status", data={"csrf_token": csrf, "status": "closed"})
    assert refused.status_code == 422 and "resolution record" in refused.text
    bad_merge = client.post(f"/cases/{kettle}/merge", data={"csrf_token": csrf, "other": "C-999999"})
    assert bad_merge.status_code == 422 and "no case C-999999" in bad_merge.text
    note = client.post(
        f"/cases/{kettle}/note", data={"csrf_token": csrf, "text": "<b>bold?</b>"}, follow_redirects=True
    )
    assert "&lt;b&gt;bold?&lt;/b&gt;" in note.text
    ids = re.findall(r'name="message" value="(\d+)"', note.text)
    split = client.post(
        f"/cases/{kettle}/split", data={"csrf_token": csrf, "message": ids[-1]}, follow_redirects=False
    )
    assert split.status_code == 303 and split.headers["location"] != f"/cases/{kettle}?done=split"
    missing = client.get("/cases/C-999999", headers={"Accept": "text/html"})
    assert missing.status_code == 404 and ("No such page" in missing.text or "找不到" in missing.text)
    assert client.post(f"/cases/{kettle}/explode", data={"csrf_token": csrf}).status_code == 404


def test_stats_connectors_and_static(hub: Hub) -> None:
    client, _ = hub.login("alice")
    stats = client.get("/stats?period=day&lang=en")
    assert stats.status_code == 200 and stats.text.count('<svg class="chart"') == 4
    assert "<rect" in stats.text and "/api/stats?period=day" in stats.text
    assert client.get("/stats?tz=Nowhere").status_code == 422
    forbidden = client.get("/connectors", headers={"Accept": "text/html"})
    assert forbidden.status_code == 403 and "<html" in forbidden.text
    ops, _ = hub.login("olga")
    assert ops.get("/connectors").status_code == 200
    js = client.get("/static/app.js")
    assert js.status_code == 200 and "setInterval" in js.text
    assert client.get("/static/missing.js").status_code == 404
    assert hub.client.get("/static/app.js").status_code == 401


def test_email_payloads_are_escaped_and_sanitised(hub: Hub, tmp_path: Path) -> None:
    corpus = tmp_path / "xss"
    samples.write(corpus, "email", "20261105T020000Z_xss.eml", xss_email())
    stats = run_import(hub.engine, corpus, HubConfig())
    assert stats.messages == 1 and stats.quarantined == 0
    client, _ = hub.login("alice")
    case_id = client.get("/api/cases?q=HM20261105-66666").json()["items"][0]["case_id"]
    queue = client.get("/?status=all")
    page = client.get(f"/cases/{case_id}")
    for html in (queue.text, page.text):
        assert "<script>window" not in html and 'onerror="window' not in html
        assert 'href="javascript:' not in html and "onclick=" not in html and "onload=" not in html
    assert "&lt;script&gt;window.__xss=&#39;text&#39;&lt;/script&gt;" in page.text, "shown as text"
    sanitised = page.text.split('<div class="html">', 1)[1].split("</div></details>", 1)[0]
    assert '<a href="https://shop.example.com/o/66666" rel="noopener noreferrer nofollow">' in sanitised
    assert "<iframe" not in sanitised and "<form" not in sanitised and "<svg" not in sanitised
    assert "<img" not in sanitised and "style=" not in sanitised
