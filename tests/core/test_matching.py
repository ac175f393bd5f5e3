"""Case matching on hand-written hard cases: one case per real-world problem, across channels."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, func
from sqlmodel import Session, select

from hub.cases import CaseService
from hub.config import HubConfig, SinkInstance
from hub.export import iter_case_documents
from hub.tables import CaseEventRow, CaseRow, CaseTransitionRow, MessageRow, OutboxRow
from tests.core import samples
from tests.core.test_pipeline import run_import


def cases_by_native(engine: Engine) -> dict[str, dict]:
    with Session(engine) as s:
        return {m["native_id"]: d for d in iter_case_documents(s) for m in d["messages"]}


def test_same_customer_two_orders_are_two_cases(sqlite_engine: Engine, tmp_path: Path) -> None:
    root = tmp_path / "c"
    samples.write(
        root,
        "email",
        "20261102T010000Z_a.eml",
        samples.email("o1@mail.example.cn", "订单 HM20261101-40001 的吹风机用了两次就不转了，要求换货。"),
    )
    samples.write(
        root,
        "email",
        "20261102T020000Z_b.eml",
        samples.email(
            "o2@mail.example.cn",
            "另外订单 HM20261025-40777 申请的退款到现在还没到账，请查一下。",
            date="Mon, 02 Nov 2026 11:00:00 +0800",
        ),
    )
    run_import(sqlite_engine, root)
    got = cases_by_native(sqlite_engine)
    assert got["o1@mail.example.cn"]["case_id"] != got["o2@mail.example.cn"]["case_id"]
    assert got["o1@mail.example.cn"]["customer"] == got["o2@mail.example.cn"]["customer"]


def test_near_identical_complaints_from_two_people_stay_apart(sqlite_engine: Engine, tmp_path: Path) -> None:
    root = tmp_path / "c"
    text = "<p>@<span>shop</span> 下单五天了还没发货，什么情况？</p>"
    samples.write(
        root,
        "mastodon",
        "20261102T010000Z_a.json",
        samples.mastodon("117100000000000001", text, acct="ann@m.example.org"),
    )
    samples.write(
        root,
        "mastodon",
        "20261102T011000Z_b.json",
        samples.mastodon("117100000000000002", text, acct="bo@other.example.net"),
    )
    run_import(sqlite_engine, root)
    got = cases_by_native(sqlite_engine)
    assert got["117100000000000001"]["case_id"] != got["117100000000000002"]["case_id"]


def test_phone_in_signature_links_voicemail_across_formats(sqlite_engine: Engine, tmp_path: Path) -> None:
    root = tmp_path / "c"
    samples.write(
        root,
        "email",
        "20261102T010000Z_a.eml",
        samples.email(
            "p1@mail.example.cn",
            "买的空气炸锅内胆涂层掉了一大块，没法用。\n\n张伟\n手机 138 1726 4590",
            sender="zw@example.cn",
        ),
    )
    samples.write(
        root,
        "twilio",
        "20261103T010000Z_b.json",
        samples.twilio(
            "TR" + "2" * 32, "喂 你好 我前天发了邮件 空气炸锅涂层掉了 还没人联系我", caller="+8613817264590"
        ),
    )
    run_import(sqlite_engine, root)
    got = cases_by_native(sqlite_engine)
    case = got["p1@mail.example.cn"]
    assert got["TR" + "2" * 32] is case
    assert case["messages"][1]["matched_by"] == "customer"
    assert case["customer"]["phones"] == ["+8613817264590"]


def test_follow_up_without_numbers_joins_through_its_thread(sqlite_engine: Engine, tmp_path: Path) -> None:
    root = tmp_path / "c"
    samples.write(
        root,
        "x",
        "20261102T010000Z_a.json",
        samples.x_page(
            (
                "1910000000000000001",
                "@shop order W7654321 never arrived and support ignores me",
                "2026-11-02T01:00:00.000Z",
            )
        ),
    )
    samples.write(
        root,
        "x",
        "20261103T010000Z_b.json",
        samples.x_tweet(
            "1910000000000000002",
            "@shop day three. nothing.",
            "2026-11-03T01:00:00.000Z",
            conversation="1910000000000000001",
            replied_to="1910000000000000001",
        ),
    )
    run_import(sqlite_engine, root)
    got = cases_by_native(sqlite_engine)
    assert got["1910000000000000002"] is got["1910000000000000001"]
    assert got["1910000000000000002"]["messages"][1]["matched_by"] == "thread"


def test_courier_events_join_open_or_stay_out(sqlite_engine: Engine, tmp_path: Path) -> None:
    root = tmp_path / "c"
    # a routine scan before anyone complains, then the complaint quoting its waybill
    samples.write(
        root,
        "kuaidi100",
        "20261101T010000Z_a.json",
        samples.kuaidi100("75300000000001", "0", "2026-11-01 09:00:00"),
    )
    samples.write(
        root,
        "email",
        "20261102T010000Z_b.eml",
        samples.email("k1@mail.example.cn", "中通快递单号 75300000000001 显示签收了，但我根本没收到包裹！"),
    )
    # an uncomplained shipment: a routine scan stays out, then a failure opens a proactive case
    samples.write(
        root,
        "aftership",
        "20261101T020000Z_c.json",
        samples.aftership(
            "0f1e2d3c-0000-4000-8000-0000000000c1",
            "SF1000000000001",
            "InTransit",
            at="2026-11-01T02:00:00+00:00",
        ),
    )
    samples.write(
        root,
        "aftership",
        "20261103T020000Z_d.json",
        samples.aftership(
            "0f1e2d3c-0000-4000-8000-0000000000d1",
            "SF1000000000001",
            "AttemptFail",
            at="2026-11-03T02:00:00+00:00",
        ),
    )
    run_import(sqlite_engine, root)
    got = cases_by_native(sqlite_engine)
    complaint = got["k1@mail.example.cn"]
    assert got["75300000000001@2026-11-01 09:00:00"] is complaint
    assert complaint["category"] == "logistics"
    proactive = got["0f1e2d3c-0000-4000-8000-0000000000d1"]
    assert proactive["category"] == "logistics" and len(proactive["messages"]) == 1
    assert "0f1e2d3c-0000-4000-8000-0000000000c1" not in got


def test_same_name_on_another_identity_joins_only_with_similar_text(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    root = tmp_path / "c"
    mail = samples.email(
        "n1@mail.example.com",
        "The glass lid of the Nordic kettle shattered while boiling water. Shards everywhere.",
        sender="amy.wong@example.com",
        subject="Kettle lid shattered",
    )
    samples.write(root, "email", "20261102T010000Z_a.eml", mail.replace(b"Chen Mei", b"Amy Wong"))
    samples.write(
        root,
        "x",
        "20261102T030000Z_b.json",
        samples.x_tweet(
            "1920000000000000001",
            "@shop the glass lid of your Nordic kettle shattered while boiling water, shards",
            "2026-11-02T03:00:00.000Z",
            author=("77", "Amy Wong", "amyw"),
        ),
    )
    samples.write(
        root,
        "x",
        "20261102T040000Z_c.json",
        samples.x_tweet(
            "1920000000000000002",
            "@shop my coupon code was rejected at checkout",
            "2026-11-02T04:00:00.000Z",
            author=("78", "Amy Wong", "amy_w_2"),
        ),
    )
    run_import(sqlite_engine, root)
    got = cases_by_native(sqlite_engine)
    assert got["1920000000000000001"] is got["n1@mail.example.com"]
    assert got["1920000000000000001"]["messages"][1]["matched_by"] == "name"
    assert got["1920000000000000002"]["case_id"] != got["1920000000000000001"]["case_id"]


def _close(engine: Engine, native_id: str, at: datetime) -> None:
    with Session(engine) as s:
        msg = s.exec(select(MessageRow).where(MessageRow.native_id == native_id)).one()
        case = s.get(CaseRow, msg.case_id)
        assert case is not None
        case.status, case.closed_at = "closed", at
        s.add(case)
        s.commit()


def test_closed_case_reopens_within_window_and_links_after(sqlite_engine: Engine, tmp_path: Path) -> None:
    root = tmp_path / "c"
    samples.write(
        root,
        "email",
        "20261102T010000Z_a.eml",
        samples.email("r1@mail.example.cn", "订单 HM20261101-50001 的台灯不亮。"),
    )
    run_import(sqlite_engine, root)
    _close(sqlite_engine, "r1@mail.example.cn", datetime(2026, 11, 3, tzinfo=UTC))
    samples.write(
        root,
        "email",
        "20261105T010000Z_b.eml",
        samples.email(
            "r2@mail.example.cn",
            "订单 HM20261101-50001 换的台灯还是不亮。",
            date="Thu, 05 Nov 2026 09:00:00 +0800",
        ),
    )
    run_import(sqlite_engine, root)
    got = cases_by_native(sqlite_engine)
    assert (
        got["r2@mail.example.cn"] is got["r1@mail.example.cn"]
        and got["r2@mail.example.cn"]["status"] == "new"
    )
    with Session(sqlite_engine) as s:
        reopened = s.exec(select(CaseTransitionRow)).all()
    assert [(t.from_status, t.to_status, t.actor) for t in reopened] == [("closed", "new", "hub")]

    _close(sqlite_engine, "r2@mail.example.cn", datetime(2026, 11, 6, tzinfo=UTC))
    later = datetime(2026, 11, 6, tzinfo=UTC) + timedelta(days=40)
    samples.write(
        root,
        "email",
        "20261216T010000Z_c.eml",
        samples.email(
            "r3@mail.example.cn",
            "订单 HM20261101-50001 的台灯又坏了。",
            date=later.strftime("%a, %d %b %Y %H:%M:%S +0000"),
        ),
    )
    run_import(sqlite_engine, root)
    got = cases_by_native(sqlite_engine)
    assert got["r3@mail.example.cn"]["case_id"] != got["r1@mail.example.cn"]["case_id"]
    with Session(sqlite_engine) as s:
        msg = s.exec(select(MessageRow).where(MessageRow.native_id == "r3@mail.example.cn")).one()
        assert msg.matched_by and msg.matched_by.get("linked_to")


def test_merge_and_split_are_audited_and_go_downstream(sqlite_engine: Engine, tmp_path: Path) -> None:
    root = tmp_path / "c"
    samples.write(
        root,
        "email",
        "20261102T010000Z_a.eml",
        samples.email("m1@mail.example.cn", "订单 HM20261101-60001 少发了一件。"),
    )
    samples.write(
        root,
        "email",
        "20261102T020000Z_b.eml",
        samples.email("m2@mail.example.cn", "订单 HM20261101-60002 少发了一件。", sender="other@example.cn"),
    )
    config = HubConfig(
        sinks=[SinkInstance(name="crm", type="webhook"), SinkInstance(name="erp", type="webhook")]
    )
    run_import(sqlite_engine, root, config)
    at = datetime(2026, 11, 4, tzinfo=UTC)
    with Session(sqlite_engine) as s:
        a, b = s.exec(select(CaseRow).order_by(CaseRow.id)).all()
        assert a.id is not None and b.id is not None
        service = CaseService(s, config)
        assert service.merge(a, b, actor="agent-li", at=at) == 1
        s.commit()
        assert b.status == "closed" and b.merged_into_id == a.id
        assert len(service.messages(a.id)) == 2
        moved = service.messages(a.id)[1]
        assert moved.matched_by and moved.matched_by["by"] == "merge"
        new = service.split(a, [moved.id or 0], actor="agent-li", at=at)
        s.commit()
        assert new.split_from_id == a.id and [m.id for m in service.messages(new.id or 0)] == [moved.id]
        events = s.exec(
            select(CaseEventRow).where(CaseEventRow.case_id == a.id).order_by(CaseEventRow.sequence)
        ).all()
        assert [e.type for e in events] == ["case.created", "case.merged", "case.split"]
        assert [e.sequence for e in events] == [1, 2, 3] and events[1].actor == "agent-li"
        outbox = s.exec(select(func.count()).select_from(OutboxRow).where(OutboxRow.case_id == a.id)).one()
        assert outbox == 3 * 2  # every event, once per sink


def test_bounce_is_threaded_to_the_case_without_joining_it(sqlite_engine: Engine, tmp_path: Path) -> None:
    root = tmp_path / "c"
    samples.write(
        root,
        "email",
        "20261102T010000Z_a.eml",
        samples.email("b1@mail.example.cn", "订单 HM20261101-80001 漏发。"),
    )
    dsn = (
        b"From: MAILER-DAEMON@mx.shop.example.com\r\nTo: service@shop.example.com\r\n"
        b"Subject: Undelivered Mail Returned to Sender\r\nDate: Tue, 03 Nov 2026 10:00:00 +0800\r\n"
        b"Message-ID: <dsn-1@mx.shop.example.com>\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n\r\n'
        b"--B\r\nContent-Type: text/plain\r\n\r\nDelivery to mei.chen@example.cn failed.\r\n"
        b"--B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.shop.example.com\r\n\r\n"
        b"Final-Recipient: rfc822; mei.chen@example.cn\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        b"--B\r\nContent-Type: text/rfc822-headers\r\n\r\nMessage-ID: <reply-9@shop.example.com>\r\n"
        b"In-Reply-To: <b1@mail.example.cn>\r\nReferences: <b1@mail.example.cn>\r\n"
        b"Subject: Re: HM20261101-80001\r\n--B--\r\n"
    )
    samples.write(root, "email", "20261103T020000Z_b.eml", dsn)
    run_import(sqlite_engine, root)
    with Session(sqlite_engine) as s:
        bounce = s.exec(select(MessageRow).where(MessageRow.native_id == "dsn-1@mx.shop.example.com")).one()
        complaint = s.exec(select(MessageRow).where(MessageRow.native_id == "b1@mail.example.cn")).one()
    assert bounce.case_id is None and bounce.non_actionable_reason == "bounce"
    assert bounce.matched_by == {"by": "none", "reason": "bounce", "related_case": complaint.case_id}
