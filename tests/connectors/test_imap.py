"""The IMAP source of the e-mail connector against a real private Dovecot (no mocks).

Each test gets its own Dovecot instance (a fresh mailbox, and no auth penalty left
over from another test's wrong password).
"""

from __future__ import annotations

import base64
import logging
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from connectors.email import EmailConnector
from connectors.email.imap import ImapConfig, parse_cursor
from hub.connector import Batch, ReadContext
from hub.errors import AuthError, CheckFailed, ParseError, TransientError
from hub.registry import get_connector
from tests.services.dovecot import DovecotServer, dovecot_for_tests, free_port
from tests.services.mail import complaint, message, message_8bit


@pytest.fixture
def server() -> Iterator[DovecotServer]:
    with dovecot_for_tests() as s:
        yield s


@pytest.fixture
def email() -> EmailConnector:
    connector = get_connector("email")
    assert isinstance(connector, EmailConnector)
    return connector


def settings(server: DovecotServer, **overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "host": server.host,
        "port": server.port,
        "security": "none",
        "username": "alice",
        "password": server.users["alice"],
        "timeout": 10,
    }
    return {**base, **overrides}


def configure(email: EmailConnector, server: DovecotServer, **overrides: Any) -> ImapConfig:
    config = email.configure(settings(server, **overrides))
    assert isinstance(config, ImapConfig)
    return config


def read(
    email: EmailConnector, config: ImapConfig, cursor: dict[str, str] | None = None, **ctx: Any
) -> list[Batch]:
    return list(email.read(config, dict(cursor or {}), ReadContext(instance="support", **ctx)))


def flags_of(server: DovecotServer, folder: str = "INBOX") -> dict[int, tuple[bytes, ...]]:
    c = server.client()
    try:
        c.select_folder(folder, readonly=True)
        uids = c.search()
        return {uid: d[b"FLAGS"] for uid, d in c.fetch(uids, ["FLAGS"]).items()} if uids else {}
    finally:
        c.logout()


# --- reading -------------------------------------------------------------------------------------


def test_gbk_and_big5_mail_is_read_back_and_parsed(server: DovecotServer, email: EmailConnector) -> None:
    gbk = message(
        "订单破损投诉（GBK）", "您好，订单 SO-1001 的茶壶碎了，请退款。", charset="gbk", name="陈梅"
    )
    big5 = message(
        "退貨申請（繁體 Big5）", "商品破損，訂單 SO-1002，請儘快處理。", charset="big5", name="林小姐"
    )
    raw_gbk = message_8bit("快递丢失", "我的包裹 SF1234567890 丢了。\n请尽快处理。", charset="gbk")
    server.append("alice", "INBOX", [gbk, big5, raw_gbk])

    batches = read(email, configure(email, server))
    items = [i for b in batches for i in b.items]
    assert [i.payload for i in items] == [gbk, big5, raw_gbk], "BODY[] exactly as appended"
    first, second, third = (email.parse(i) for i in items)
    assert first.subject == "订单破损投诉（GBK）"
    assert "茶壶碎了" in first.text and first.customer_name == "陈梅"
    assert second.subject == "退貨申請（繁體 Big5）"
    assert "商品破損" in second.text and second.customer_name == "林小姐"
    assert third.subject == "快递丢失" and "包裹 SF1234567890 丢了" in third.text
    # the same native ids as `hub import` of the same bytes
    now = datetime.now(UTC)
    imported = [email.split_capture(d, instance="support", received_at=now)[0] for d in (gbk, big5, raw_gbk)]
    assert [i.native_id for i in items] == [i.native_id for i in imported]
    assert all(i.received_at.tzinfo is not None for i in items), "INTERNALDATE with its zone"
    assert items[0].source and items[0].source.startswith(
        f"imap://alice@127.0.0.1:{server.port}/INBOX;UIDVALIDITY="
    )


def test_a_few_hundred_messages_come_in_batches_without_gaps(
    server: DovecotServer, email: EmailConnector
) -> None:
    uids = server.append("alice", "INBOX", [complaint(n, tag="batch") for n in range(350)])
    batches = read(email, configure(email, server, batch_size=100))

    assert [len(b.items) for b in batches] == [100, 100, 100, 50]
    ids = [i.native_id for b in batches for i in b.items]
    assert ids == [f"batch-{n}@mail.example.com" for n in range(350)], "UID order, no gap, no duplicate"
    positions = [parse_cursor(b.cursor) for b in batches]
    assert all(p is not None for p in positions)
    assert [p[1] for p in positions if p] == [uids[99], uids[199], uids[299], uids[349]]
    assert {b.partition for b in batches} == {"INBOX"}

    assert read(email, configure(email, server), {"INBOX": batches[-1].cursor}) == []
    budget = read(email, configure(email, server, batch_size=30), {"INBOX": batches[1].cursor}, max_items=45)
    assert [len(b.items) for b in budget] == [30, 15], "max_items is respected"


def test_the_last_message_is_not_read_again(server: DovecotServer, email: EmailConnector) -> None:
    """``UID SEARCH UID n:*`` answers the newest message even when its UID is below n."""
    server.append("alice", "INBOX", [complaint(1)])
    config = configure(email, server)
    cursor = read(email, config)[-1].cursor
    uidvalidity, last = parse_cursor(cursor) or (0, 0)
    assert read(email, config, {"INBOX": f"{uidvalidity}:{last + 5}"}) == []


def test_several_folders_are_partitions(server: DovecotServer, email: EmailConnector) -> None:
    server.append("alice", "INBOX", [complaint(1)])
    server.append("alice", "Complaints", [complaint(2), complaint(3)])
    batches = read(email, configure(email, server, folders=["INBOX", "Complaints"]))
    assert [(b.partition, len(b.items)) for b in batches] == [("INBOX", 1), ("Complaints", 2)]


def test_reading_leaves_mail_unseen_unless_asked(server: DovecotServer, email: EmailConnector) -> None:
    server.append("alice", "INBOX", [complaint(n) for n in range(3)])
    read(email, configure(email, server))
    assert all(b"\\Seen" not in flags for flags in flags_of(server).values())
    read(email, configure(email, server, mark_seen=True))
    assert all(b"\\Seen" in flags for flags in flags_of(server).values())


def test_move_to_moves_stored_mail_and_mail_left_behind(server: DovecotServer, email: EmailConnector) -> None:
    server.append("alice", "INBOX", [complaint(n) for n in range(5)])
    server.append("alice", "Done", [])
    config = configure(email, server, move_to="Done", batch_size=2)

    reading = email.read(config, {}, ReadContext(instance="support"))
    first = next(reading)  # the core stops before committing: nothing may move
    reading.close()
    assert len(flags_of(server)) == 5 and flags_of(server, "Done") == {}

    reading = email.read(config, {}, ReadContext(instance="support"))
    first = next(reading)  # the core commits this batch, then crashes before asking for more
    reading.close()
    assert len(flags_of(server)) == 5

    rest = read(email, config, {"INBOX": first.cursor})  # moves the committed-but-left two first
    assert sum(len(b.items) for b in rest) == 3
    assert flags_of(server) == {}
    assert len(flags_of(server, "Done")) == 5


def test_a_message_over_the_size_cap_is_fetched_header_only(
    server: DovecotServer, email: EmailConnector
) -> None:
    big = message("Photos of the damage", "x" * 50_000, msg_id="big@mail.example.com")
    server.append("alice", "INBOX", [complaint(1), big])
    items = [i for b in read(email, configure(email, server, max_message_bytes=10_000)) for i in b.items]
    assert [i.native_id for i in items] == ["t-1@mail.example.com", "big@mail.example.com"]
    truncated = items[1]
    assert len(truncated.payload) < 2_000
    assert truncated.payload.startswith(b"X-Hub-Truncated: original size ")
    with pytest.raises(ParseError, match=r"message too large: original size .* over max_message_bytes 10000"):
        email.parse(truncated)


def test_idle_returns_new_mail_within_a_second(server: DovecotServer, email: EmailConnector) -> None:
    config = configure(email, server)
    server.append("alice", "INBOX", [complaint(1)])
    cursor = {"INBOX": read(email, config)[-1].cursor}

    def later() -> None:
        time.sleep(0.5)
        server.append("alice", "INBOX", [complaint(2)])

    thread = threading.Thread(target=later)
    start = time.monotonic()
    thread.start()
    batches = read(email, config, cursor, wait_seconds=20)
    elapsed = time.monotonic() - start
    thread.join()
    assert [i.native_id for b in batches for i in b.items] == ["t-2@mail.example.com"]
    assert elapsed < 3, f"IDLE took {elapsed:.1f} s"

    start = time.monotonic()
    assert read(email, config, {"INBOX": batches[-1].cursor}, wait_seconds=1) == []
    assert 0.9 <= time.monotonic() - start < 5, "nothing new: waits about wait_seconds"


# --- TLS and login -------------------------------------------------------------------------------


@pytest.mark.parametrize("security", ["tls", "starttls"])
def test_tls_with_the_self_signed_ca_file(
    server: DovecotServer, email: EmailConnector, security: str
) -> None:
    server.append("alice", "INBOX", [complaint(1)])
    port = server.tls_port if security == "tls" else server.port
    config = configure(email, server, security=security, port=port, ca_file=server.ca_file)
    email.check(config)
    assert [len(b.items) for b in read(email, config)] == [1]

    untrusted = configure(email, server, security=security, port=port)
    with pytest.raises(CheckFailed, match=r"certificate of 127.0.0.1:.* is not trusted") as info:
        email.check(untrusted)
    assert "ca_file" in info.value.hint
    with pytest.raises(AuthError, match="not trusted"):
        read(email, untrusted)


def test_xoauth2_login(server: DovecotServer, email: EmailConnector) -> None:
    """Dovecot checks an XOAUTH2 bearer token against its passdb, here carol's."""
    server.append("carol", "INBOX", [complaint(1)])
    config = configure(email, server, username="carol", password=None, oauth2_token=server.users["carol"])
    email.check(config)
    assert [len(b.items) for b in read(email, config)] == [1]


def test_config_rules() -> None:
    base = {"host": "127.0.0.1", "username": "u", "password": "p"}
    assert ImapConfig.model_validate(base).effective_port == 993
    assert ImapConfig.model_validate({**base, "security": "starttls"}).effective_port == 143
    ImapConfig.model_validate({**base, "security": "none", "host": "localhost"})
    for bad, words in [
        ({"security": "none", "host": "imap.example.com"}, "only allowed for loopback"),
        ({"oauth2_token": "t"}, "exactly one of password and oauth2_token"),
        ({"password": None}, "exactly one of password and oauth2_token"),
        ({"folders": []}, "at least 1"),
        ({"move_to": "INBOX"}, "is one of the folders read"),
        ({"security": "ssl"}, "'tls', 'starttls' or 'none'"),
    ]:
        with pytest.raises(ValidationError, match=words):
            ImapConfig.model_validate({**base, **bad})


# --- check() and failures ------------------------------------------------------------------------


def test_check_explains_a_refused_login(server: DovecotServer, email: EmailConnector) -> None:
    config = configure(email, server, password="Wrong-Password-77")
    with pytest.raises(CheckFailed) as info:
        email.check(config)
    assert info.value.reason.startswith("login refused for user 'alice'")
    assert info.value.hint == "check username/password"
    assert "Wrong-Password-77" not in str(info.value)


def test_read_with_a_refused_login_is_a_configuration_error(
    server: DovecotServer, email: EmailConnector
) -> None:
    with pytest.raises(AuthError, match=r"login refused for user 'alice'.*check username/password"):
        read(email, configure(email, server, password="Wrong-Password-77"))


def test_check_lists_the_folders_when_one_is_missing(server: DovecotServer, email: EmailConnector) -> None:
    server.append("alice", "Sent", [])
    with pytest.raises(CheckFailed) as info:
        email.check(configure(email, server, folders=["INBOX", "Inbx"]))
    assert info.value.reason == "folder 'Inbx' not found; folders: INBOX, Sent"
    with pytest.raises(CheckFailed, match="folder 'Archive' not found"):
        email.check(configure(email, server, move_to="Archive"))


def test_check_and_read_on_an_unreachable_port(server: DovecotServer, email: EmailConnector) -> None:
    port = free_port(exclude={server.port, server.tls_port})
    config = configure(email, server, port=port)
    with pytest.raises(CheckFailed, match=f"cannot connect to 127.0.0.1:{port}: Connection refused"):
        email.check(config)
    with pytest.raises(TransientError, match="cannot connect"):
        read(email, config)


def test_check_names_a_wrong_security_setting(server: DovecotServer, email: EmailConnector) -> None:
    with pytest.raises(CheckFailed, match=r"TLS handshake with .* failed") as info:
        email.check(configure(email, server, security="tls", ca_file=server.ca_file))
    assert "starttls" in info.value.hint
    with pytest.raises(CheckFailed, match=r"no answer from .* within 1 s"):
        email.check(configure(email, server, security="none", port=server.tls_port, timeout=1))


def test_secrets_never_reach_logs_or_errors(
    server: DovecotServer, email: EmailConnector, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    server.append("alice", "INBOX", [complaint(1)])
    server.append("carol", "INBOX", [complaint(2)])
    good = configure(email, server)
    email.check(good)
    read(email, good)
    oauth = configure(email, server, username="carol", password=None, oauth2_token=server.users["carol"])
    email.check(oauth)
    read(email, oauth)
    errors = []
    with pytest.raises(CheckFailed) as refused:
        email.check(configure(email, server, password="Wrong-Password-77"))
    errors.append(str(refused.value))
    with dovecot_for_tests() as other, pytest.raises(AuthError) as denied:  # no auth penalty there
        read(email, configure(email, other, password="Wrong-Password-77"))
    errors.append(str(denied.value))
    xoauth2 = f"user=carol\1auth=Bearer {server.users['carol']}\1\1".encode()
    secrets = [
        server.users["alice"],
        server.users["carol"],
        "Wrong-Password-77",
        base64.b64encode(xoauth2).decode(),
    ]
    assert "imapclient" in caplog.text, "the IMAP conversation was logged at DEBUG"
    for secret in secrets:
        assert secret not in caplog.text
        assert all(secret not in e for e in errors)


# --- servers without MOVE or IDLE --------------------------------------------------------------

#: what Dovecot advertises after login, minus MOVE and IDLE
_OLD_SERVER = "imap_capability = IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE UIDPLUS LITERAL+ UNSELECT"


def test_without_move_and_idle(email: EmailConnector) -> None:
    """COPY + \\Deleted + UID EXPUNGE instead of MOVE; NOOP once a second instead of IDLE."""
    with dovecot_for_tests(extra_config=_OLD_SERVER) as old:
        old.append("alice", "INBOX", [complaint(n) for n in range(3)])
        old.append("alice", "Done", [])
        config = configure(email, old, move_to="Done")
        batches = read(email, config)
        assert sum(len(b.items) for b in batches) == 3
        assert flags_of(old) == {} and len(flags_of(old, "Done")) == 3

        def later() -> None:
            time.sleep(0.3)
            old.append("alice", "INBOX", [complaint(7)])

        thread = threading.Thread(target=later)
        thread.start()
        start = time.monotonic()
        waited = read(email, config, {"INBOX": batches[-1].cursor}, wait_seconds=10)
        thread.join()
        assert [i.native_id for b in waited for i in b.items] == ["t-7@mail.example.com"]
        assert time.monotonic() - start < 3
