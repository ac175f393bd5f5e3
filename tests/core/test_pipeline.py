"""The ingest pipeline end to end on hand-written captures: idempotence, quarantine, export shape."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, func
from sqlmodel import Session, select

from hub.config import HubConfig, IngestSettings
from hub.export import iter_case_documents
from hub.importer import iter_intakes, plan_import
from hub.pipeline import Pipeline
from hub.tables import CaseRow, MessageRow, RawItemRow
from tests.core import samples


def build_corpus(root: Path) -> Path:
    samples.write(
        root,
        "email",
        "20261102T020000Z_a.eml",
        samples.email(
            "a1@mail.example.cn",
            "你好，订单号 HM20261101-20001 的电水壶收到后漏水，请尽快处理。\n陈美 13912345678",
        ),
    )
    samples.write(
        root,
        "email",
        "20261103T020000Z_b.eml",
        samples.email(
            "a2@mail.example.cn",
            "还是没人回复我，水壶漏水的问题到底怎么处理？",
            subject="Re: 订单问题",
            extra="In-Reply-To: <a1@mail.example.cn>\r\nReferences: <a1@mail.example.cn>\r\n",
            date="Tue, 03 Nov 2026 10:00:00 +0800",
        ),
    )
    samples.write(
        root,
        "twilio",
        "20261104T020000Z_c.json",
        samples.twilio(
            "TR" + "1" * 32, "你好 我之前发过邮件 水壶漏水 一直没有人处理", caller="+8613912345678"
        ),
    )
    samples.write(
        root,
        "x",
        "20261102T050000Z_d.json",
        samples.x_page(
            (
                "1900000000000000001",
                "@shop my order W1234567 arrived broken, the screen is cracked",
                "2026-11-02T05:00:00.000Z",
            ),
            (
                "1900000000000000002",
                "@shop thanks for the quick help yesterday, great service!",
                "2026-11-02T05:10:00.000Z",
            ),
        ),
    )
    samples.write(
        root,
        "mastodon",
        "20261102T030000Z_e.json",
        samples.mastodon(
            "117000000000000001",
            '<p><span class="h-card"><a href="https://mastodon.social/@shop" class="u-url mention">'
            "@<span>shop</span></a></span> 优惠券 满300减50 结算时用不了，页面一直报错</p>",
        ),
    )
    samples.write(
        root,
        "aftership",
        "20261103T080000Z_f.json",
        samples.aftership(
            "0f1e2d3c-0000-4000-8000-000000000001",
            "SF1234567890123",
            "Exception",
            order_id="HM20261101-20555",
        ),
    )
    samples.write(root, "kuaidi100", "20261103T011000Z_g.json", samples.kuaidi100("75123456789012", "0"))
    return root


def run_import(engine: Engine, corpus: Path, config: HubConfig | None = None):
    _, intakes = iter_intakes(plan_import(corpus))
    return Pipeline(engine, config or HubConfig()).ingest(intakes)


def counts(engine: Engine) -> tuple[int, int, int]:
    with Session(engine) as s:
        return (
            s.exec(select(func.count()).select_from(RawItemRow)).one(),
            s.exec(select(func.count()).select_from(MessageRow)).one(),
            s.exec(select(func.count()).select_from(CaseRow)).one(),
        )


def test_import_builds_cases_and_is_idempotent(sqlite_engine: Engine, tmp_path: Path) -> None:
    corpus = build_corpus(tmp_path / "corpus")
    first = run_import(sqlite_engine, corpus)
    assert first.quarantined == 0, first.reasons
    assert first.seen == 8 and first.messages == 8
    before = counts(sqlite_engine)
    second = run_import(sqlite_engine, corpus)
    assert second.duplicates == 8 and second.messages == 0 and second.cases_opened == 0
    assert counts(sqlite_engine) == before

    with Session(sqlite_engine) as s:
        docs = list(iter_case_documents(s))
    by_native = {m["native_id"]: d for d in docs for m in d["messages"]}
    # e-mail, its reply (thread) and the voicemail from the signature's phone are one case
    kettle = by_native["a1@mail.example.cn"]
    assert by_native["a2@mail.example.cn"] is kettle
    assert by_native["TR" + "1" * 32] is kettle
    assert [m["matched_by"] for m in kettle["messages"]] == ["new_case", "thread", "customer"]
    assert "+8613912345678" in kettle["customer"]["phones"]
    # praise and a routine scan open no case; a courier exception opens a proactive case
    assert "1900000000000000002" not in by_native
    assert "75123456789012@2026-11-03 09:10:44" not in by_native
    proactive = by_native["0f1e2d3c-0000-4000-8000-000000000001"]
    assert proactive["category"] == "logistics" and proactive["tracking_nos"] == ["SF1234567890123"]


def test_export_has_the_firm_shape(sqlite_engine: Engine, tmp_path: Path) -> None:
    run_import(sqlite_engine, build_corpus(tmp_path / "corpus"))
    with Session(sqlite_engine) as s:
        doc = next(iter_case_documents(s))
    assert set(doc) == {
        "case_id",
        "status",
        "category",
        "severity",
        "created_at",
        "updated_at",
        "sla_due_at",
        "customer",
        "order_nos",
        "tracking_nos",
        "messages",
    }
    assert doc["case_id"].startswith("C-") and len(doc["case_id"]) == 8
    assert set(doc["customer"]) == {"name", "emails", "phones", "handles"}
    assert set(doc["messages"][0]) == {
        "connector",
        "native_id",
        "channel",
        "received_at",
        "text",
        "order_nos",
        "tracking_nos",
        "matched_by",
    }
    assert doc["created_at"].endswith("Z")


BROKEN = {
    "email": [
        ("20261105T000000Z_empty.eml", b""),
        ("20261105T000001Z_broken.eml", b"this is not an e-mail at all, just a line of text\n"),
    ],
    "mastodon": [("20261105T000002Z_trunc.json", b'{"id": "1", "type": "mention", "status": {"id": "12')],
    "x": [("20261105T000003Z_trunc.json", b'{"data": [{"id": "19", "text": "@shop')],
    "twilio": [("20261105T000004Z_empty.json", b"")],
    "aftership": [("20261105T000005Z_shape.json", b'{"event": "tracking_update"}')],
    "kuaidi100": [("20261105T000006Z_trunc.json", b'{"status": "polling", "lastResult": {"nu": ')],
}


def test_malformed_files_are_quarantined_and_import_carries_on(sqlite_engine: Engine, tmp_path: Path) -> None:
    corpus = build_corpus(tmp_path / "corpus")
    for connector, files in BROKEN.items():
        for name, data in files:
            samples.write(corpus, connector, name, data)
    # wrong charset declaration (GBK bytes declared as us-ascii) still parses; a 30 MB e-mail is refused
    samples.write(
        corpus,
        "email",
        "20261105T000007Z_charset.eml",
        samples.email("cs@mail.example.cn", "快递一直没到，订单 HM20261104-30001", charset="gbk").replace(
            b"charset=gbk", b"charset=us-ascii"
        ),
    )
    big = samples.email("big@mail.example.cn", "附件很大") + b"X" * (30 * 1024 * 1024)
    samples.write(corpus, "email", "20261105T000008Z_big.eml", big)

    stats = run_import(sqlite_engine, corpus)
    broken = sum(len(f) for f in BROKEN.values())
    assert stats.quarantined == broken + 1
    assert stats.messages == 8 + 1  # every good item, plus the mis-declared charset one
    with Session(sqlite_engine) as s:
        rows = s.exec(select(RawItemRow).where(RawItemRow.status == "quarantined")).all()
        reasons = {Path(r.source or "").name: r.error or "" for r in rows}
        assert all(r.payload is not None for r in rows)
        cs = s.exec(select(MessageRow).where(MessageRow.native_id == "cs@mail.example.cn")).one()
        assert "快递" in cs.text
    assert "over the 25.0 MB limit" in reasons["20261105T000008Z_big.eml"]
    assert "empty" in reasons["20261105T000000Z_empty.eml"].lower()
    for name, reason in reasons.items():
        assert reason and "Traceback" not in reason, name
    # a second run quarantines nothing new and loses nothing
    again = run_import(sqlite_engine, corpus)
    assert again.duplicates == again.seen and again.quarantined == 0


def test_size_cap_is_configurable(sqlite_engine: Engine, tmp_path: Path) -> None:
    corpus = build_corpus(tmp_path / "corpus")
    samples.write(
        corpus, "email", "20261106T000000Z_long.eml", samples.email("long@x.cn", "包裹丢了。" * 400)
    )
    config = HubConfig(ingest=IngestSettings(max_item_bytes=1024))
    stats = run_import(sqlite_engine, corpus, config)
    with Session(sqlite_engine) as s:
        rows = s.exec(select(RawItemRow)).all()
    assert stats.quarantined == sum(1 for r in rows if r.size > 1024) >= 1
    assert all((r.status == "quarantined") == (r.size > 1024) for r in rows)


@pytest.mark.postgres
def test_same_import_on_postgresql(postgres_engine: Engine, sqlite_engine: Engine, tmp_path: Path) -> None:
    corpus = build_corpus(tmp_path / "corpus")
    run_import(postgres_engine, corpus)
    run_import(sqlite_engine, corpus)
    assert counts(postgres_engine) == counts(sqlite_engine)
    run_import(postgres_engine, corpus)
    assert counts(postgres_engine) == counts(sqlite_engine)
    with Session(postgres_engine) as pg, Session(sqlite_engine) as lite:
        assert list(iter_case_documents(pg)) == list(iter_case_documents(lite))


def test_broken_taxonomy_fails_fast_with_its_location(
    sqlite_engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hub.errors import ConfigError
    from hub.understand import UnderstandSettings

    bad = tmp_path / "taxonomy.yaml"
    bad.write_text("categories:\n  logistics:\n    zh: ['re:(unclosed']\n", encoding="utf-8")
    config = HubConfig(understand=UnderstandSettings(taxonomy_path=bad))
    with pytest.raises(ConfigError) as info:
        Pipeline(sqlite_engine, config)
    assert str(bad) in str(info.value)
