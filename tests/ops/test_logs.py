"""Structured logs: JSON lines with a request/task id; personal data and secrets masked in every line."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator
from pathlib import Path

import phonenumbers
import pytest
import structlog
from sqlalchemy import create_engine, text
from typer.testing import CliRunner

from hub import logs
from hub.cli import app
from hub.logs import (
    PersonalDataFilter,
    configure_logging,
    get_logger,
    log_context,
    mask_text,
    register_secrets,
)
from hub.understand.asr import normalise_transcript

SECRET = "hook-Secret-for-the-log-test-77"


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    """configure_logging into a buffer (JSON, DEBUG); the logging set-up is restored afterwards."""
    root = logging.getLogger()
    saved_handlers, saved_level = list(root.handlers), root.level
    saved_factory = logging.getLogRecordFactory()
    buffer = io.StringIO()
    configure_logging(json=True, level="DEBUG", stream=buffer)
    yield buffer
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in saved_handlers:
        root.addHandler(handler)
    root.setLevel(saved_level)
    logging.setLogRecordFactory(saved_factory)
    structlog.reset_defaults()


def lines(buffer: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in buffer.getvalue().splitlines() if line.strip()]


@pytest.mark.parametrize(
    ("raw", "masked"),
    [
        ("from lina.wang88@163.com today", "from l***@163.com today"),
        ("<John.Carter88@Gmail.com>", "<J***@Gmail.com>"),
        ("联系lina@163.com", "联系l***@163.com"),
        ("+86 138 1234 4590", "+86138****4590"),
        ("+8613812344590", "+86138****4590"),
        ("电话13812344590谢谢", "电话138****4590谢谢"),
        ("call 138-1234-4590 now", "call 138****4590 now"),
        ("(212) 555-0199", "21****0199"),
        ("+1 929-555-0173", "+192****0173"),
        ("07700 900123", "077****0123"),
        ("Tel:0571-8671 2209.", "Tel:0571****2209."),
        ("+852 9123 4567", "+852****4567"),
        (
            "call me back at nine two nine five five five oh one seven three thanks",
            "call me back at *** thanks",
        ),
        ("我电话是一三五零一二三八八七七 听到了", "我电话是*** 听到了"),
        ("Authorization: Bearer abcdefghij0123", "Authorization: Bearer ***"),
        ("imap://bob:hunter22@mail.example", "imap://bob:***@mail.example"),
    ],
)
def test_mask_text(raw: str, masked: str) -> None:
    assert mask_text(raw) == masked


@pytest.mark.parametrize(
    "kept",
    [
        "order HM20260803-10427 on 2026-09-01 from 198.51.100.80",
        "tracking SF1234567890 and Tmall order 4128830917265540213",
        "took 12.5 s at 10:30:00, version 3.11.4, 1234567 items",
        "2026-09-08T23:22:10Z",
    ],
)
def test_numbers_that_are_not_phones_are_kept(kept: str) -> None:
    assert mask_text(kept) == kept


def test_json_lines_carry_the_request_id_and_are_masked(captured: io.StringIO) -> None:
    register_secrets(["Zz-registered-Secret-9"])
    log = get_logger("hub.test")
    with log_context(request_id="req-123", task_id="task-9"):
        log.info(
            "customer wrote",
            email="lina.wang88@163.com",
            customer_name="Wang Lina",
            password="hunter2!",
            note="token Zz-registered-Secret-9 and phone +86 138 1234 4590",
            nested={"phones": ["13812344590"], "from": "a.b@qq.com"},
        )
    logging.getLogger("thirdparty.client").warning(
        "retrying %s for %s", "https://api.example/u/lina.wang88@163.com", "13812344590"
    )
    try:
        raise ValueError("bad address jzhou_1988@163.com")
    except ValueError:
        logging.getLogger("thirdparty.client").exception("failed for %s", "+8613812344590")
    log.info("outside")
    out = lines(captured)
    first = out[0]
    assert first["event"] == "customer wrote" and first["level"] == "info" and first["logger"] == "hub.test"
    assert first["request_id"] == "req-123" and first["task_id"] == "task-9"
    assert first["email"] == "l***@163.com"
    assert first["customer_name"] == "W*** L***"
    assert first["password"] == "***"
    assert first["note"] == "token *** and phone +86138****4590"
    assert first["nested"] == {"phones": ["138****4590"], "from": "a***@qq.com"}
    assert out[1]["event"] == "retrying https://api.example/u/l***@163.com for 138****4590"
    assert out[1]["logger"] == "thirdparty.client" and out[1]["level"] == "warning"
    assert "j***@163.com" in str(out[2]["exception"]) and "jzhou_1988" not in str(out[2]["exception"])
    assert "request_id" not in out[3]
    raw = captured.getvalue()
    for leak in (
        "lina.wang88",
        "13812344590",
        "1234 4590",
        "hunter2",
        "Zz-registered-Secret-9",
        "jzhou_1988",
    ):
        assert leak not in raw


def test_other_handlers_get_masked_records_too(
    captured: io.StringIO, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        get_logger("hub.test").info("from structlog", email="lina.wang88@163.com")
        logging.getLogger("urllib3.fake").debug("to %s", "+86 138 1234 4590")
    assert caplog.records, "pytest's own handler received them"
    assert "lina.wang88" not in caplog.text and "1234 4590" not in caplog.text, caplog.text
    assert "l***@163.com" in caplog.text and "+86138****4590" in caplog.text


def test_the_filter_masks_records_for_any_handler() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(PersonalDataFilter())
    handler.setFormatter(logging.Formatter("%(message)s|%(who)s"))
    logger = logging.getLogger("thirdparty.own-handler")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.error("mail from %s", "x.y@example.com", extra={"who": "+44 7700 900123"})
    finally:
        logger.removeHandler(handler)
    assert stream.getvalue().strip() == "mail from x***@example.com|+4477****0123"


def test_console_output_on_a_terminal_is_not_json() -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    root = logging.getLogger()
    saved = list(root.handlers), root.level
    saved_factory = logging.getLogRecordFactory()
    stream = Tty()
    try:
        configure_logging(stream=stream, level="INFO")
        logging.getLogger("hub.x").info("hello %s", "a@b.example")
    finally:
        for h in list(root.handlers):
            root.removeHandler(h)
        for h in saved[0]:
            root.addHandler(h)
        root.setLevel(saved[1])
        logging.setLogRecordFactory(saved_factory)
        structlog.reset_defaults()
    out = stream.getvalue()
    assert "hello a***@b.example" in out and not out.lstrip().startswith("{")


def _digit_runs(line: str) -> set[str]:
    spelled = normalise_transcript(line)
    return {re.sub(r"\D", "", m) for text in (line, spelled) for m in re.findall(r"\d[\d \-().]*\d", text)}


def test_full_import_at_debug_leaks_no_address_phone_or_secret(
    captured: io.StringIO, dev_corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    db = tmp_path / "hub.db"
    monkeypatch.setenv("HUB_DATABASE_URL", f"sqlite:///{db}")
    monkeypatch.setenv("LOG_TEST_SECRET", SECRET)
    config = tmp_path / "hub.yaml"
    config.write_text(
        "sinks:\n  - {name: crm, type: webhook, config: {url: 'http://127.0.0.1:9/hook', secret: '${LOG_TEST_SECRET}'}}\n"
    )
    monkeypatch.setenv("HUB_CONFIG", str(config))
    result = CliRunner().invoke(app, ["import", str(dev_corpus)])
    assert result.exit_code == 0, result.output
    assert "101 items" in result.output

    # What a careless debug line would write: every message, its sender and the sink's settings,
    # through a third-party stdlib logger and through structlog.
    engine = create_engine(f"sqlite:///{db}")
    with engine.connect() as c:
        messages = c.execute(text("SELECT native_id, subject, text, data FROM message")).all()
        identities = c.execute(text("SELECT kind, value FROM customer_identity")).all()
    engine.dispose()
    from hub.config import load_config

    sink_config = load_config().sinks[0].config
    careless = logging.getLogger("thirdparty.debugdump")
    log = get_logger("hub.debugdump")
    for native_id, subject, body, data in messages:
        careless.debug("message %s: %s / %s", native_id, subject, body)
        with log_context(task_id=f"import-{native_id[:8]}"):
            log.debug("parsed", native_id=native_id, data=json.loads(data))
    careless.debug("sink config %s", sink_config)
    log.debug("sink", config=sink_config)

    output = captured.getvalue()
    assert len(output.splitlines()) > 2 * len(messages)  # the lines were really written
    emails = {v.lower() for k, v in identities if k == "email"}
    phones = {v for k, v in identities if k == "phone"}
    assert emails and phones
    lowered = output.lower()
    assert [e for e in emails if e in lowered] == []
    assert "l***@163.com" in output  # written, and masked
    assert SECRET not in output
    runs = set().union(*(_digit_runs(line) for line in output.splitlines()))
    national = {str(phonenumbers.parse(p).national_number) for p in phones}
    leaked = sorted(p for p in national if any(p in run for run in runs))
    assert leaked == [], f"phone numbers in the logs: {leaked}"
    assert [p for p in phones if p in output] == []
    assert all(isinstance(entry, dict) for entry in lines(captured))  # every line is JSON
    assert logs.NAME_FIELDS  # names passed as fields are masked (see the JSON test)
