"""The Mastodon connector through the conformance suite, against the Mastodon simulator."""

from __future__ import annotations

from typing import Any, ClassVar

from hub.connector import Cursor
from tests.conformance.suite import Harness, SourceConformance
from tests.simulators.mastodon import MastodonSimulator


class MastodonHarness(Harness):
    connector: ClassVar[str] = "mastodon"

    def start(self) -> None:
        self.sim = MastodonSimulator()
        self.sim.start()
        self.count = 0

    def stop(self) -> None:
        self.sim.stop()

    def good_config(self) -> dict[str, Any]:
        # a small page size so the suite's reads page several times
        return {"base_url": self.sim.url, "access_token": self.sim.token, "limit": 2, "timeout": 5}

    def bad_credentials_config(self) -> dict[str, Any]:
        return {**self.good_config(), "access_token": "not-the-Token-4242"}

    def seed(self, count: int) -> None:
        for _ in range(count):
            self.count += 1
            lang = "zh" if self.count % 2 else "en"
            self.sim.add_mention(lang=lang, username=f"user{self.count}", display_name=f"User {self.count}")

    def far_future_cursor(self, cursor: Cursor) -> Cursor:
        return {**cursor, "": "9" * 18}


class TestMastodon(SourceConformance):
    harness = MastodonHarness
