"""The e-mail connector through the conformance suite, against a real private Dovecot."""

from __future__ import annotations

import contextlib
import itertools
from typing import Any, ClassVar

from connectors.email.imap import format_cursor, parse_cursor
from hub.connector import Cursor
from tests.conformance.suite import Harness, SourceConformance
from tests.services.dovecot import DovecotServer, dovecot_for_tests
from tests.services.mail import complaint

_numbers = itertools.count(1)


class DovecotHarness(Harness):
    """A fresh Dovecot per test (so one test's failed login cannot slow the next: auth penalty)."""

    connector: ClassVar[str] = "email"

    def start(self) -> None:
        self._stack = contextlib.ExitStack()
        self.server: DovecotServer = self._stack.enter_context(dovecot_for_tests())

    def stop(self) -> None:
        self._stack.close()

    def good_config(self) -> dict[str, Any]:
        s = self.server
        return {
            "host": s.host,
            "port": s.port,
            "security": "starttls",
            "ca_file": s.ca_file,
            "username": "alice",
            "password": s.users["alice"],
            "timeout": 10,
        }

    def bad_credentials_config(self) -> dict[str, Any]:
        return {**self.good_config(), "password": "not-the-Password-42"}

    def seed(self, count: int) -> None:
        self.server.append("alice", "INBOX", [complaint(next(_numbers), tag="conf") for _ in range(count)])

    def far_future_cursor(self, cursor: Cursor) -> Cursor:
        position = parse_cursor(cursor.get("INBOX"))
        assert position is not None, "a read of INBOX saves a cursor"
        return {**cursor, "INBOX": format_cursor(position[0], 2**31)}


class TestEmail(SourceConformance):
    harness = DovecotHarness
