"""The X connector through the conformance suite, against the X API v2 simulator."""

from __future__ import annotations

from typing import Any, ClassVar

from hub.connector import Cursor
from tests.conformance.suite import Harness, SourceConformance
from tests.simulators.x import SHOP, XSimulator


class XHarness(Harness):
    connector: ClassVar[str] = "x"

    def start(self) -> None:
        self.sim = XSimulator()
        self.sim.start()
        self.count = 0

    def stop(self) -> None:
        self.sim.stop()

    def good_config(self) -> dict[str, Any]:
        # the smallest page X allows, so the suite's reads follow next_token
        return {
            "base_url": self.sim.url,
            "bearer_token": self.sim.token,
            "user_id": SHOP["id"],
            "max_results": 5,
            "timeout": 5,
        }

    def bad_credentials_config(self) -> dict[str, Any]:
        return {**self.good_config(), "bearer_token": "AAAAnot-the-Bearer-4242"}

    def seed(self, count: int) -> None:
        for _ in range(count):
            self.count += 1
            lang = "zh" if self.count % 2 else "en"
            self.sim.add_mention(lang=lang, username=f"user{self.count}", name=f"User {self.count}")

    def far_future_cursor(self, cursor: Cursor) -> Cursor:
        return {**cursor, "": str(2**63 - 1)}


class TestX(SourceConformance):
    harness = XHarness
