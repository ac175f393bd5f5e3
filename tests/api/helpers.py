"""Small builders for queue tests: synthetic cases through the real CaseService, users with tokens."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session

from hub.cases import CaseService
from hub.config import HubConfig
from hub.db import session_scope
from hub.matching import keys_of
from hub.models import Channel, ComplaintMessage, content_hash
from hub.tables import CaseRow, CustomerRow, MessageKeyRow, MessageRow, RawItemRow
from hub.users import add_user, create_token

T0 = datetime(2026, 11, 2, 2, 0, tzinfo=UTC)
PASSWORD = "correct-horse-battery"
_seq = itertools.count(1)


def message(
    session: Session,
    *,
    at: datetime,
    channel: str = "email",
    text: str = "订单 HM20261101-20001 的水壶漏水",
    category: str | None = "product_quality",
    severity: str | None = "general",
    customer_id: int | None = None,
    courier_status: str | None = None,
    tracking_nos: list[str] | None = None,
    actionable: bool = True,
    non_actionable_reason: str | None = None,
) -> MessageRow:
    """A stored raw item and its message (not yet in a case), with lookup keys."""
    n = next(_seq)
    payload = f"synthetic {n}".encode()
    raw = RawItemRow(
        connector="email" if channel == "email" else channel,
        instance=f"test-{channel}",
        native_id=f"n{n}",
        received_at=at,
        occurred_at=at,
        content_hash=content_hash(payload),
        size=len(payload),
        payload=payload,
        status="processed",
    )
    session.add(raw)
    session.flush()
    assert raw.id is not None
    model = ComplaintMessage(
        connector=raw.connector,
        instance=raw.instance,
        native_id=raw.native_id,
        channel=Channel(channel),
        occurred_at=at,
        text=text,
        tracking_nos=tracking_nos or [],
    )
    row = MessageRow(
        raw_item_id=raw.id,
        connector=raw.connector,
        instance=raw.instance,
        native_id=raw.native_id,
        channel=channel,
        occurred_at=at,
        text=text,
        category=category,
        severity=severity,
        customer_id=customer_id,
        courier_status=courier_status,
        tracking_nos=tracking_nos or [],
        order_nos=[],
        actionable=actionable,
        non_actionable_reason=non_actionable_reason,
        data={"severity_reasons": ["legal:12315"] if severity == "severe" else []},
    )
    session.add(row)
    session.flush()
    assert row.id is not None
    for kind, value in keys_of(model):
        session.add(MessageKeyRow(message_id=row.id, kind=kind, value=value))
    return row


def customer(session: Session, name: str = "陈美", at: datetime = T0) -> int:
    row = CustomerRow(name=name, created_at=at)
    session.add(row)
    session.flush()
    assert row.id is not None
    return row.id


def make_case(
    session: Session,
    config: HubConfig,
    *,
    at: datetime = T0,
    follow_ups: int = 0,
    **kw: Any,
) -> CaseRow:
    """A case opened by one message (plus ``follow_ups`` more from the same customer a day apart)."""
    service = CaseService(session, config)
    first = message(session, at=at, **kw)
    case = service.open(first, customer_id=kw.get("customer_id"), detail={})
    for i in range(follow_ups):
        follow = message(session, at=at + timedelta(days=i + 1), **kw)
        service.append(case, follow, {"by": "customer", "score": 80})
    session.flush()
    return case


@dataclass
class Team:
    """Users of each role, with an API token each."""

    tokens: dict[str, str]

    def auth(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}


def make_team(engine: Engine) -> Team:
    tokens: dict[str, str] = {}
    with session_scope(engine) as session:
        for name, role in (("alice", "agent"), ("bert", "agent"), ("olga", "ops"), ("ada", "admin")):
            add_user(session, name, role, PASSWORD, actor="test")
            _, tokens[name] = create_token(session, name, actor="test")
    return Team(tokens)


XSS_TEXT = (
    "<script>window.__xss='text'</script> <img src=x onerror=\"window.__xss='img'\"> "
    "<a href=\"javascript:window.__xss='link'\">点我</a> 订单 HM20261105-66666 的水壶漏水了，请处理。"
)
XSS_HTML = (
    "<p>您好，订单 <b>HM20261105-66666</b> 的水壶漏水了。</p>"
    "<script>window.__xss='html-script'</script>"
    "<img src=x onerror=\"window.__xss='html-img'\">"
    '<a id="evil-link" href="javascript:window.__xss=\'html-link\'">点击查看订单</a> '
    '<a id="good-link" href="https://shop.example.com/o/66666">订单页面</a>'
    '<div onclick="window.__xss=\'div\'" style="position:fixed;inset:0">div</div>'
    "<svg onload=\"window.__xss='svg'\"></svg><iframe src=\"javascript:window.__xss='iframe'\"></iframe>"
    "<form action=\"javascript:window.__xss='form'\"><button>go</button></form>"
)


def xss_email(msg_id: str = "xss1@mail.example.cn") -> bytes:
    """A multipart e-mail whose subject, sender name, text and HTML carry script payloads."""
    from email.message import EmailMessage

    msg = EmailMessage()
    msg["From"] = '"<img src=x onerror=window.__xss=1>" <evil.sender@example.cn>'
    msg["To"] = "service@shop.example.com"
    msg["Subject"] = "<script>window.__xss='subject'</script>投诉"
    msg["Date"] = "Thu, 05 Nov 2026 10:00:00 +0800"
    msg["Message-ID"] = f"<{msg_id}>"
    msg.set_content(XSS_TEXT)
    msg.add_alternative(XSS_HTML, subtype="html")
    return msg.as_bytes()
