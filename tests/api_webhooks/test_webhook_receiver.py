"""POST /webhooks/{instance}: a signed Twilio transcription callback goes through the pipeline; a forged one is refused."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlencode

from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, select

from hub.api import create_app
from hub.config import ConnectorInstance, HubConfig
from hub.tables import MessageRow, RawItemRow
from tests.simulators.twilio import signature

TOKEN = "twilio-auth-token-0123456789abcdef"
URL = "http://testserver/webhooks/hotline"


def callback(sid: str) -> list[tuple[str, str]]:
    return [
        ("AccountSid", "AC" + "a" * 32),
        ("CallSid", "CA" + "b" * 32),
        ("RecordingSid", "RE" + "c" * 32),
        ("TranscriptionSid", sid),
        ("TranscriptionStatus", "completed"),
        ("TranscriptionText", "你好 我的订单 HM20261101-77001 的吹风机坏了 请回电话 一三九一二三四五六七八"),
        ("From", "+8613912345678"),
        ("To", "+85230000000"),
        ("CallStatus", "completed"),
    ]


def test_signed_callback_is_ingested_and_forged_one_refused(sqlite_engine: Engine, tmp_path: Path) -> None:
    config = HubConfig(
        connectors=[
            ConnectorInstance(
                name="hotline",
                type="twilio",
                config={"account_sid": "AC" + "a" * 32, "auth_token": TOKEN, "webhook_url": URL},
            )
        ]
    )
    client = TestClient(create_app(sqlite_engine, config))
    good = callback("TR" + "1" * 32)
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Twilio-Signature": signature(TOKEN, URL, good),
    }
    answer = client.post("/webhooks/hotline", content=urlencode(good), headers=headers)
    assert answer.status_code == 200, answer.text
    again = client.post("/webhooks/hotline", content=urlencode(good), headers=headers)
    assert again.status_code == 200  # a provider's redelivery changes nothing

    forged = callback("TR" + "2" * 32)
    bad = client.post(
        "/webhooks/hotline",
        content=urlencode(forged),
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": signature("wrong", URL, forged),
        },
    )
    assert bad.status_code == 401
    assert client.post("/webhooks/nobody", content=b"x").status_code == 404

    with Session(sqlite_engine) as s:
        raws = s.exec(select(RawItemRow)).all()
        msgs = s.exec(select(MessageRow)).all()
    assert [r.instance for r in raws] == ["hotline"] and len(msgs) == 1
    assert msgs[0].case_id is not None and msgs[0].order_nos == ["HM20261101-77001"]
