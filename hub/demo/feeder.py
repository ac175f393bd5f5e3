"""Feeds the demo stream to the hub as it would arrive: e-mail into the IMAP mailbox, the rest as captures.

E-mail is appended to the demo's Dovecot, where the hub's worker polls it like any
mailbox. Every other channel's item is written as a capture file under
``<folder>/captures/<channel>/`` and imported at once through the normal path
(connector ``split_capture`` -> :class:`~hub.pipeline.Pipeline`), as ``hub import``
would do with it.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine

from hub.config import HubConfig
from hub.demo.mailserver import DemoMailServer
from hub.demo.stream import STREAM, DemoItem, capture
from hub.pipeline import Intake, Pipeline
from hub.registry import get_connector

__all__ = ["Feeder"]


class Feeder(threading.Thread):
    """Feeds :data:`~hub.demo.stream.STREAM`, one item every ``pace`` seconds (the first ones faster)."""

    def __init__(
        self,
        folder: Path,
        engine: Engine,
        config: HubConfig,
        mail: DemoMailServer | None,
        say: Callable[[str], None],
        *,
        pace: float = 2.0,
        items: list[DemoItem] | None = None,
    ) -> None:
        super().__init__(daemon=True, name="demo-feeder")
        self.folder = folder
        self.engine = engine
        self.config = config
        self.mail = mail
        self.say = say
        self.pace = pace
        self.items = list(STREAM if items is None else items)
        self.run_id = secrets.token_hex(4)
        self.stopping = threading.Event()
        self.fed = 0
        self.skipped = 0
        self.errors = 0

    def stop(self) -> None:
        self.stopping.set()

    def run(self) -> None:
        for seq, item in enumerate(self.items):
            delay = 0.3 if seq == 0 else self.pace / 2 if seq < 6 else self.pace
            if self.stopping.wait(delay):
                return
            try:
                self.feed(item, seq)
            except Exception as exc:  # one bad item must not end the demo
                self.errors += 1
                self.say(f"feeder: {item.key} not fed: {type(exc).__name__}: {exc}")
        self.say("feeder: the whole stream has been sent")

    def feed(self, item: DemoItem, seq: int) -> None:
        now = datetime.now(UTC)
        data = capture(item, now, seq=seq, run=self.run_id)
        who = item.who or item.address or item.carrier
        preview = " ".join(item.text.split())[:60]
        if item.channel == "email":
            if self.mail is None:
                self.skipped += 1
                return
            self.mail.append(data)
            self.fed += 1
            self.say(f"-> e-mail from {who} arrives in the demo mailbox: {preview}")
            return
        folder = self.folder / "captures" / item.channel
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{now:%Y%m%dT%H%M%SZ}_{item.key}.json"
        path.write_bytes(data)
        raws = get_connector(item.channel).split_capture(
            data, instance=f"demo-{item.channel}", received_at=now, source=str(path)
        )
        Pipeline(self.engine, self.config).ingest([Intake(raw) for raw in raws])
        self.fed += 1
        self.say(f"-> {item.channel} from {who}: {preview}")
