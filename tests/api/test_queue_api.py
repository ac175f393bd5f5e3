"""The queue API on the hand-written corpus: filters, search, pagination, the timeline with how each
message matched, customers, actions and their error codes, ops routes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, select

from hub.api import create_app
from hub.config import HubConfig
from hub.tables import OutboxRow
from tests.api.conftest import Hub
from tests.api.helpers import make_team
from tests.core.test_pipeline import build_corpus, run_import


def _get(hub: Hub, url: str, who: str = "alice") -> Any:
    r = hub.client.get(url, headers=hub.team.auth(who))
    assert r.status_code == 200, (url, r.status_code, r.text)
    return r.json()


def _kettle(hub: Hub) -> str:
    found = _get(hub, "/api/cases?q=HM20261101-20001")["items"]
    assert len(found) == 1
    return str(found[0]["case_id"])


def test_list_filters_and_search(hub: Hub) -> None:
    everything = _get(hub, "/api/cases")
    assert everything["total"] == 4 and everything["page"] == 1
    row = everything["items"][0]
    assert {
        "case_id",
        "status",
        "category",
        "severity",
        "sla_due_at",
        "sla_seconds_left",
        "channels",
        "summary",
    } <= set(row)
    kettle = _kettle(hub)
    assert [c["case_id"] for c in _get(hub, "/api/cases?channel=voicemail")["items"]] == [kettle]
    assert [c["case_id"] for c in _get(hub, "/api/cases?q=%2B8613912345678")["items"]] == [kettle]
    assert [c["case_id"] for c in _get(hub, "/api/cases?q=漏水")["items"]] == [kettle]
    assert [c["case_id"] for c in _get(hub, f"/api/cases?q={kettle}")["items"]] == [kettle]
    assert [c["case_id"] for c in _get(hub, "/api/cases?q=hm2026110120001")["items"]] == [kettle]
    assert _get(hub, "/api/cases?q=100%25_")["total"] == 0, "LIKE wildcards are escaped"
    promo = _get(hub, "/api/cases?category=promotion")["items"]
    assert len(promo) == 1 and promo[0]["channels"] == ["mastodon"]
    logistics = _get(hub, "/api/cases?category=logistics&channel=courier")["items"]
    assert len(logistics) == 1 and logistics[0]["tracking_nos"] if "tracking_nos" in logistics[0] else True
    severe = _get(hub, "/api/cases?severity=severe")
    general = _get(hub, "/api/cases?severity=general")
    assert severe["total"] + general["total"] == 4
    assert _get(hub, "/api/cases?status=new")["total"] == 4
    assert _get(hub, "/api/cases?status=closed")["total"] == 0
    assert _get(hub, "/api/cases?overdue=true")["total"] == 4, (
        "the corpus is from 2026-11-02: all overdue now"
    )
    assert _get(hub, "/api/cases?created_from=2026-11-03")["total"] < 4
    assert _get(hub, "/api/cases?created_to=2026-11-01")["total"] == 0
    for bad in ("status=done", "category=weather", "channel=fax", "created_from=yesterday"):
        assert hub.client.get(f"/api/cases?{bad}", headers=hub.team.auth("alice")).status_code == 422, bad
    page1 = _get(hub, "/api/cases?per_page=3")
    page2 = _get(hub, "/api/cases?per_page=3&page=2")
    assert page1["pages"] == 2 and len(page1["items"]) == 3 and len(page2["items"]) == 1
    assert {c["case_id"] for c in page1["items"] + page2["items"]} == {
        c["case_id"] for c in everything["items"]
    }


def test_assignee_filter(hub: Hub) -> None:
    kettle = _kettle(hub)
    r = hub.client.post(
        f"/api/cases/{kettle}/assign", json={"assignee": "alice"}, headers=hub.team.auth("olga")
    )
    assert r.status_code == 200 and r.json()["assignee"] == "alice"
    assert [c["case_id"] for c in _get(hub, "/api/cases?assignee=me")["items"]] == [kettle]
    assert [c["case_id"] for c in _get(hub, "/api/cases?assignee=alice", "bert")["items"]] == [kettle]
    assert _get(hub, "/api/cases?assignee=me", "bert")["total"] == 0
    assert _get(hub, "/api/cases?assignee=none")["total"] == 3
    assert _get(hub, "/api/cases?assignee=nobody-at-all")["total"] == 0


def test_case_detail_shows_the_cross_channel_timeline(hub: Hub) -> None:
    kettle = _kettle(hub)
    doc = _get(hub, f"/api/cases/{kettle}")
    assert [m["channel"] for m in doc["messages"]] == ["email", "email", "voicemail"]
    assert [m["matched_by"] for m in doc["messages"]] == ["new_case", "thread", "customer"]
    assert doc["messages"][2]["match"]["by"] == "customer"
    kinds = [t["kind"] for t in doc["timeline"]]
    assert kinds.count("message") == 3 and kinds.count("event") >= 3
    assert "+8613912345678" in doc["customer"]["phones"]
    assert doc["next_statuses"][0] == "investigating"
    assert _get(hub, f"/api/cases/{kettle.lower().replace('c-0000', '')}")["case_id"] == kettle
    assert hub.client.get("/api/cases/C-999999", headers=hub.team.auth("alice")).status_code == 404
    assert hub.client.get("/api/cases/nonsense", headers=hub.team.auth("alice")).status_code == 404
    customer = _get(hub, f"/api/customers/{doc['customer_id']}")
    assert customer["case_count"] == 1 and {"kind": "phone", "value": "+8613912345678"} in [
        {"kind": i["kind"], "value": i["value"]} for i in customer["identities"]
    ]
    assert hub.client.get("/api/customers/999", headers=hub.team.auth("alice")).status_code == 404


def test_actions_over_the_api_and_their_errors(hub: Hub) -> None:
    auth = hub.team.auth("alice")
    kettle = _kettle(hub)
    post = hub.client.post
    moved = post(
        f"/api/cases/{kettle}/status", json={"status": "investigating", "comment": "on it"}, headers=auth
    )
    assert moved.status_code == 200 and moved.json()["status"] == "investigating"
    assert moved.json()["transitions"][0]["actor"] == "alice"
    assert post(f"/api/cases/{kettle}/status", json={"status": "new"}, headers=auth).status_code == 409
    assert post(f"/api/cases/{kettle}/status", json={"status": "closed"}, headers=auth).status_code == 422
    assert post(f"/api/cases/{kettle}/status", json={}, headers=auth).status_code == 422
    closed = post(
        f"/api/cases/{kettle}/status",
        json={
            "status": "closed",
            "measures": "换新",
            "result": "客户已收到新水壶",
            "customer_feedback": "满意",
        },
        headers=auth,
    )
    assert closed.status_code == 200 and closed.json()["resolutions"][0]["customer_feedback"] == "满意"
    reopened = post(f"/api/cases/{kettle}/reopen", json={"reason": "又漏了"}, headers=auth)
    assert reopened.json()["status"] == "investigating"
    before = _get(hub, f"/api/cases/{kettle}")
    assert (before["category"], before["severity"]) == ("product_quality", "severe")  # third contact
    corrected = post(
        f"/api/cases/{kettle}/correct",
        json={"category": "customer_service", "reason": "没人回复"},
        headers=auth,
    )
    assert corrected.json()["category"] == "customer_service"
    assert corrected.json()["corrections"][0] == {
        **corrected.json()["corrections"][0],
        "old": "product_quality",
    }
    same = post(f"/api/cases/{kettle}/correct", json={"severity": "severe"}, headers=auth)
    assert same.status_code == 422
    assert post(f"/api/cases/{kettle}/assign", json={"assignee": "ghost"}, headers=auth).status_code == 422
    # merge another case in, then split one message back out
    others = [c["case_id"] for c in _get(hub, "/api/cases")["items"] if c["case_id"] != kettle]
    merged = post(f"/api/cases/{kettle}/merge", json={"other": others[0]}, headers=auth)
    assert merged.status_code == 200 and merged.json()["merged_from"] == [others[0]]
    gone = _get(hub, f"/api/cases/{others[0]}")
    assert gone["merged_into"] == kettle and gone["status"] == "closed" and gone["next_statuses"] == []
    assert post(f"/api/cases/{others[0]}/notes", json={"text": "x"}, headers=auth).status_code == 409
    assert post(f"/api/cases/{kettle}/merge", json={"other": others[0]}, headers=auth).status_code == 409
    assert post(f"/api/cases/{kettle}/merge", json={"other": "C-999999"}, headers=auth).status_code == 404
    last = merged.json()["messages"][-1]["id"]
    split = post(f"/api/cases/{kettle}/split", json={"message_ids": [last]}, headers=auth)
    assert split.status_code == 200 and split.json()["split_from"] == kettle
    assert post(f"/api/cases/{kettle}/split", json={"message_ids": [123456]}, headers=auth).status_code == 422
    assert "merged" not in [c["case_id"] for c in _get(hub, "/api/cases")["items"]]
    assert others[0] not in [c["case_id"] for c in _get(hub, "/api/cases?status=all")["items"]]


def test_ops_routes(hub: Hub) -> None:
    ops = hub.team.auth("olga")
    assert hub.client.get("/api/connectors", headers=ops).json() == []
    assert hub.client.get("/api/outbox/dead", headers=ops).json() == []
    assert hub.client.post("/api/outbox/1/retry", headers=ops).status_code == 404
    swept = hub.client.post("/api/sla/sweep", headers=ops).json()
    assert len(swept["flagged"]) == 4
    # the Kuaidi100 parcel has had no scan since 2026-11-03: a proactive logistics case
    assert len(swept["proactive"]) == 1
    assert hub.client.post("/api/sla/sweep", headers=ops).json() == {"flagged": [], "proactive": []}
    stalled = _get(hub, f"/api/cases/{swept['proactive'][0]}")
    assert stalled["category"] == "logistics" and stalled["messages"][0]["channel"] == "courier"
    with Session(hub.engine) as s:
        assert s.exec(select(OutboxRow)).all() == [], "no sinks configured, no outbox rows"
    rows = _get(hub, "/api/cases")["items"]
    assert {r["case_id"] for r in rows if r["sla_breach_flagged_at"]} == set(swept["flagged"])


@pytest.mark.postgres
def test_the_queue_on_postgresql(postgres_engine: Engine, tmp_path: Path) -> None:
    config = HubConfig()
    run_import(postgres_engine, build_corpus(tmp_path / "corpus"), config)
    team = make_team(postgres_engine)
    with TestClient(create_app(postgres_engine, config)) as client:
        hub = Hub(postgres_engine, config, client, team)
        test_list_filters_and_search(hub)
        test_assignee_filter(hub)
        test_case_detail_shows_the_cross_channel_timeline(hub)
        test_actions_over_the_api_and_their_errors(hub)
        stats = client.get("/api/stats?period=quarter", headers=team.auth("alice")).json()
        assert stats["totals"]["cases"] == 4
