"""A third-party connector: one JSON object per line, ``{"id", "at", "from", "text"}``."""

from __future__ import annotations

import json
from datetime import datetime

from hub.connector import SourceConnector
from hub.errors import ParseError
from hub.models import Channel, ComplaintMessage, Identity, IdentityKind, RawItem


class DemoFeedConnector(SourceConnector):
    name = "demo_feed"
    channel = Channel.email
    capture_suffixes = (".jsonl",)

    def split_capture(
        self, data: bytes, *, instance: str, received_at: datetime, source: str | None = None
    ) -> list[RawItem]:
        items = []
        for n, line in enumerate(data.splitlines(), 1):
            if not line.strip():
                continue
            try:
                native = str(json.loads(line)["id"])
            except (ValueError, KeyError, TypeError) as exc:
                raise ParseError(f"line {n}: not a demo feed record ({exc})") from None
            items.append(
                RawItem(
                    connector=self.name,
                    instance=instance,
                    native_id=native,
                    received_at=received_at,
                    payload=line,
                    source=source,
                )
            )
        return items

    def parse(self, raw: RawItem) -> ComplaintMessage:
        record = json.loads(raw.payload)
        return ComplaintMessage(
            connector=self.name,
            instance=raw.instance,
            native_id=raw.native_id,
            channel=self.channel,
            occurred_at=datetime.fromisoformat(record["at"]),
            text=record["text"],
            identities=[Identity(kind=IdentityKind.email, value=record["from"])],
        )
