"""IMAP source of the e-mail connector: poll folders by UID, optionally wait with IDLE.

Supports implicit TLS, STARTTLS and plain text (loopback hosts only); password or
XOAUTH2 login (imapclient's ``oauth2_login``); several folders, each a cursor
partition with the value ``"<UIDVALIDITY>:<last UID>"``. Follows RFC 3501 (UID
SEARCH/FETCH, UIDVALIDITY), RFC 2177 (IDLE) and RFC 6851 (MOVE).

Reading one folder: ``SELECT`` (``EXAMINE`` unless mail is marked or moved); a
UIDVALIDITY other than the cursor's resyncs from UID 1, and the core drops the
messages it already has by native id (the Message-ID); ``UID SEARCH UID
<last+1>:*`` (whose answer always includes the newest message, even below
``last+1``, so it is filtered); then ``BODY.PEEK[]`` in batches of
``batch_size`` (never sets ``\\Seen``), each yielded with the cursor of its last
UID. Raw items come from the same ``split_capture`` as ``hub import``, so native
ids match; ``received_at`` is the INTERNALDATE.

Size cap: ``RFC822.SIZE`` is fetched first. A message over ``max_message_bytes``
is not downloaded: its header alone is fetched and prefixed with an
``X-Hub-Truncated`` line, and :func:`truncated_reason` makes ``parse`` refuse it,
so the core stores it quarantined with that reason (raising the cap later does
not re-fetch it: the stored item blocks the same Message-ID).

``mark_seen`` / ``move_to`` act on a batch only after the core has committed it
(when the generator is resumed for the next batch, or at the end); at the start
of a read, mail still in the folder at or below the cursor (a crash between the
commit and the move) is moved too.

With ``ReadContext.wait_seconds`` and nothing new, the first folder is watched
with IDLE for up to that long, and what arrives is read at once.
"""

from __future__ import annotations

import ipaddress
import logging
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import quote

from imapclient import DELETED, SEEN, IMAPClient
from pydantic import Field, SecretStr, model_validator

from connectors.email.capture import native_id, split_capture
from connectors.email.imap_client import HANDLED, classified, close, connect, describe
from hub.connector import Batch, ConnectorConfig, Cursor, ReadContext, secret_values
from hub.errors import CheckFailed, ParseError
from hub.http import scrub
from hub.models import RawItem

__all__ = ["TRUNCATED_HEADER", "ImapConfig", "check", "format_cursor", "parse_cursor", "read"]

TRUNCATED_HEADER = "X-Hub-Truncated"
_IDLE_SLICE = 60.0  # seconds per idle_check call (Dovecot says "Still here" every 2 minutes)


def is_loopback(host: str) -> bool:
    """``localhost`` or a loopback address (127.0.0.0/8, ::1)."""
    if host.rstrip(".").lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class ImapConfig(ConnectorConfig):
    """An IMAP mailbox: where, how to log in, which folders, what to do with read mail."""

    host: str = Field(min_length=1)
    #: default 993 for ``tls``, 143 otherwise
    port: int | None = Field(default=None, ge=1, le=65535)
    #: ``tls`` (implicit), ``starttls``, or ``none`` (plain text, loopback hosts only)
    security: Literal["tls", "starttls", "none"] = "tls"
    username: str = Field(min_length=1)
    password: SecretStr | None = None
    #: OAuth 2 access token for XOAUTH2 (instead of ``password``)
    oauth2_token: SecretStr | None = None
    folders: list[str] = Field(default_factory=lambda: ["INBOX"], min_length=1)
    #: messages fetched per round trip (and per committed batch)
    batch_size: int = Field(default=100, ge=1, le=10_000)
    #: bigger messages are not downloaded: their header is stored quarantined
    max_message_bytes: int = Field(default=25 * 1024 * 1024, ge=1024)
    #: set ``\\Seen`` on mail once it is stored
    mark_seen: bool = False
    #: move mail to this folder once it is stored
    move_to: str | None = None
    #: PEM file of the CA(s) to trust for the server's certificate (default: the system's)
    ca_file: str | None = None

    @model_validator(mode="after")
    def _consistent(self) -> ImapConfig:
        if (self.password is None) == (self.oauth2_token is None):
            msg = "give exactly one of password and oauth2_token"
            raise ValueError(msg)
        if self.security == "none" and not is_loopback(self.host):
            msg = f"security 'none' (plain text) is only allowed for loopback hosts, not {self.host!r}"
            raise ValueError(msg)
        if len(set(self.folders)) != len(self.folders):
            msg = "folders must not repeat"
            raise ValueError(msg)
        if self.move_to is not None and self.move_to in self.folders:
            msg = f"move_to {self.move_to!r} is one of the folders read"
            raise ValueError(msg)
        return self

    @property
    def effective_port(self) -> int:
        return self.port or (993 if self.security == "tls" else 143)


def parse_cursor(value: str | None) -> tuple[int, int] | None:
    """``(uidvalidity, last_uid)`` from ``"<UIDVALIDITY>:<UID>"``; None if absent or unreadable."""
    if not value:
        return None
    head, _, tail = value.partition(":")
    if not (head.isdigit() and tail.isdigit()):
        return None
    return int(head), int(tail)


def format_cursor(uidvalidity: int, uid: int) -> str:
    return f"{uidvalidity}:{uid}"


def truncated_reason(payload: bytes) -> str | None:
    """Why an item holds only a message's header (it was over the size cap), or None."""
    marker = TRUNCATED_HEADER.encode() + b":"
    if not payload.startswith(marker):
        return None
    line = payload.split(b"\n", 1)[0][len(marker) :].strip().decode("ascii", "replace")
    return f"message too large: {line}"


def _truncated(header: bytes, size: int, cap: int) -> bytes:
    note = f"{TRUNCATED_HEADER}: original size {size} bytes, over max_message_bytes {cap}; header only"
    return note.encode("ascii") + b"\r\n" + header


def _folder_order(name: str) -> tuple[bool, str]:
    return name.upper() != "INBOX", name


def check(config: ImapConfig) -> None:
    """Connect, log in and find every folder; :class:`CheckFailed` with a reason and a hint."""
    secrets = secret_values(config)

    def failed(exc: BaseException) -> CheckFailed:
        problem = describe(exc, config)
        return CheckFailed(scrub(problem.reason, secrets), scrub(problem.hint, secrets))

    try:
        client = connect(config)
    except HANDLED as exc:
        raise failed(exc) from None
    try:
        names = sorted((name for _flags, _delimiter, name in client.list_folders()), key=_folder_order)
    except HANDLED as exc:
        raise failed(exc) from None
    finally:
        close(client)
    known = {n.upper() if n.upper() == "INBOX" else n for n in names}
    wanted = [(f, "folders") for f in config.folders] + (
        [(config.move_to, "move_to")] if config.move_to else []
    )
    for folder, option in wanted:
        if (folder.upper() if folder.upper() == "INBOX" else folder) not in known:
            reason = f"folder {folder!r} not found; folders: {', '.join(names)}"
            raise CheckFailed(scrub(reason, secrets), f"fix {option} in the config")


def read(config: ImapConfig, cursor: Cursor, ctx: ReadContext) -> Iterator[Batch]:
    """New mail after ``cursor`` in every folder, in UID order, batch by batch."""
    secrets = secret_values(config)
    with classified(config, secrets):
        client = connect(config)
    try:
        with classified(config, secrets):
            yield from _Reader(config, client, ctx).read(dict(cursor))
    finally:
        close(client)


class _Reader:
    """One read over one logged-in connection."""

    def __init__(self, config: ImapConfig, client: IMAPClient, ctx: ReadContext) -> None:
        self.config = config
        self.client = client
        self.ctx = ctx
        self.log: logging.Logger = ctx.log
        self.left = ctx.max_items  # budget of items still to yield (None: no limit)
        self.seen_upto: dict[str, int] = {}  # folder -> every UID up to this was looked at

    def read(self, cursor: Cursor) -> Iterator[Batch]:
        found = 0
        for folder in self.config.folders:
            if self.left is not None and self.left <= 0:
                return
            for batch, uids in self._folder(folder, cursor.get(folder)):
                cursor[folder] = batch.cursor
                found += len(batch.items)
                yield batch
                self._after_commit(uids)  # resumed: the core has committed the batch
        if found == 0 and self.ctx.wait_seconds > 0:
            first = self.config.folders[0]
            self._wait(first, self.ctx.wait_seconds)
            for batch, uids in self._folder(first, cursor.get(first)):
                yield batch
                self._after_commit(uids)

    def _select(self, folder: str) -> dict[bytes, Any]:
        readonly = not (self.config.mark_seen or self.config.move_to)
        return self.client.select_folder(folder, readonly=readonly)

    def _folder(self, folder: str, value: str | None) -> Iterator[tuple[Batch, list[int]]]:
        """Batches of new mail in ``folder`` after the cursor ``value``, each with its UIDs."""
        selected = self._select(folder)
        uidvalidity = int(selected[b"UIDVALIDITY"])
        if not self.config.move_to and b"EXISTS" in selected:
            # what the server holds, for the core to compare with what it stored (not when read
            # mail is moved away: then the folder holds only what is still to be read)
            self.ctx.observed[folder] = int(selected[b"EXISTS"])
        position = parse_cursor(value)
        last = 0
        if position is not None and position[0] == uidvalidity:
            last = position[1]
        elif position is not None:
            self.log.warning(
                "%s: UIDVALIDITY of %r changed (%d -> %d): reading it again from UID 1; "
                "messages already stored are skipped by Message-ID",
                self.ctx.instance, folder, position[0], uidvalidity,
            )  # fmt: skip
        elif value:
            self.log.warning(
                "%s: unreadable cursor %r for %r: reading from UID 1", self.ctx.instance, value, folder
            )
        if self.config.move_to and last:
            self._move_leftovers(last, self.config.move_to)
        uidnext = int(selected.get(b"UIDNEXT", 0))
        if uidnext and uidnext <= last + 1:
            self.seen_upto[folder] = last
            return
        uids = sorted(u for u in self.client.search(["UID", f"{last + 1}:*"]) if u > last)
        if not uids:
            self.seen_upto[folder] = max(last, uidnext - 1)
            return
        if self.left is not None:
            uids = uids[: max(self.left, 0)]
            if not uids:
                return
        self.log.info("%s: %d new message(s) in %r", self.ctx.instance, len(uids), folder)
        size = self.config.batch_size
        for start in range(0, len(uids), size):
            chunk = uids[start : start + size]
            items = self._fetch(folder, uidvalidity, chunk)
            if self.left is not None:
                self.left -= len(chunk)
            yield Batch(items, partition=folder, cursor=format_cursor(uidvalidity, chunk[-1])), chunk
        self.seen_upto[folder] = uids[-1]

    def _fetch(self, folder: str, uidvalidity: int, uids: list[int]) -> list[RawItem]:
        """Raw items for ``uids`` (those expunged meanwhile are skipped), in UID order."""
        cap = self.config.max_message_bytes
        meta = self.client.fetch(uids, ["RFC822.SIZE", "INTERNALDATE"])
        small = [u for u in uids if u in meta and meta[u].get(b"RFC822.SIZE", 0) <= cap]
        large = [u for u in uids if u in meta and meta[u].get(b"RFC822.SIZE", 0) > cap]
        bodies = self.client.fetch(small, ["BODY.PEEK[]"]) if small else {}
        headers = self.client.fetch(large, ["BODY.PEEK[HEADER]"]) if large else {}
        items: list[RawItem] = []
        for uid in uids:
            if uid in bodies and b"BODY[]" in bodies[uid]:
                data = bytes(bodies[uid][b"BODY[]"])
            elif uid in headers and b"BODY[HEADER]" in headers[uid]:
                size = int(meta[uid][b"RFC822.SIZE"])
                data = _truncated(bytes(headers[uid][b"BODY[HEADER]"]), size, cap)
                self.log.warning(
                    "%s: UID %d in %r is %d bytes, over the cap: header only",
                    self.ctx.instance,
                    uid,
                    folder,
                    size,
                )
            else:
                continue
            received = meta[uid].get(b"INTERNALDATE") or datetime.now(UTC)
            items.extend(self._items(data, received, self._url(folder, uidvalidity, uid)))
        return items

    def _items(self, data: bytes, received: datetime, source: str) -> list[RawItem]:
        try:
            return split_capture(data, instance=self.ctx.instance, received_at=received, source=source)
        except ParseError:  # not an RFC 5322 message: keep it, parse will quarantine it
            ident, occurred = native_id(data)
            return [
                RawItem(
                    connector="email",
                    instance=self.ctx.instance,
                    native_id=ident,
                    received_at=received,
                    occurred_at=occurred,
                    payload=data,
                    source=source,
                )
            ]

    def _url(self, folder: str, uidvalidity: int, uid: int) -> str:
        """RFC 5092 IMAP URL of one message, for operators."""
        c = self.config
        user, box = quote(c.username, safe=""), quote(folder, safe="/")
        return f"imap://{user}@{c.host}:{c.effective_port}/{box};UIDVALIDITY={uidvalidity}/;UID={uid}"

    def _after_commit(self, uids: list[int]) -> None:
        """The core stored the batch of ``uids``: mark and move that mail if configured."""
        if self.config.mark_seen:
            self.client.add_flags(uids, [SEEN], silent=True)
        if self.config.move_to:
            self._move(uids, self.config.move_to)

    def _move(self, uids: list[int], target: str) -> None:
        """MOVE, or without it COPY + ``\\Deleted`` (+ UID EXPUNGE of just those with UIDPLUS)."""
        if self.client.has_capability("MOVE"):
            self.client.move(uids, target)
            return
        self.client.copy(uids, target)
        self.client.add_flags(uids, [DELETED], silent=True)
        if self.client.has_capability("UIDPLUS"):
            self.client.uid_expunge(uids)

    def _move_leftovers(self, last: int, target: str) -> None:
        """Move mail at or below the cursor: stored already, but the move did not happen."""
        left = [u for u in self.client.search(["UID", f"1:{last}", "UNDELETED"]) if u <= last]
        if left:
            self.log.info("%s: moving %d stored message(s) left behind", self.ctx.instance, len(left))
            self._move(left, target)

    def _wait(self, folder: str, seconds: float) -> None:
        """Return when new mail arrives in ``folder`` (IDLE) or after ``seconds``."""
        selected = self.client.select_folder(folder, readonly=True)
        if int(selected.get(b"UIDNEXT", 0)) - 1 > self.seen_upto.get(folder, 0):
            return  # it arrived between the search and now
        deadline = time.monotonic() + seconds
        if not self.client.has_capability("IDLE"):
            while time.monotonic() < deadline:
                time.sleep(min(1.0, max(deadline - time.monotonic(), 0)))
                if any(r[1:2] == (b"EXISTS",) for r in self.client.noop()[1]):
                    return
            return
        self.client.idle()
        while (left := deadline - time.monotonic()) > 0:
            responses = self.client.idle_check(timeout=min(left, _IDLE_SLICE))
            if any(len(r) > 1 and r[1] == b"EXISTS" for r in responses):
                break
        self.client.idle_done()
