"""AfterShip connector: tracking webhooks for the shop's shipments.

Supports AfterShip Tracking webhook bodies (``event``, ``event_id``, ``msg`` =
tracking object, ``ts``), current API versions and the older tracking shape
alike (``customer_name``/``emails``/``smses`` beside ``customers[]``). Follows
aftership.com/docs/tracking (webhook specification, delivery statuses and
sub-statuses) and AfterShip/tracking-sdk-python (see PROVIDERS.md).
Native id: ``event_id``. Tag/subtag → hub status comes from
``mappings/couriers.yaml`` (section ``aftership``).

Live source (capabilities ``poll`` and ``webhook``), header ``as-api-key``:

- ``check``: ``GET /trackings?limit=1``.
- ``read``: ``GET /trackings?updated_at_min=<cursor>&limit=N`` following
  ``data.pagination.next_cursor`` while ``has_next_page``. Each tracking
  becomes a webhook-shaped body (``event: tracking_update``, ``msg`` = the
  tracking, ``ts``) so ``parse`` is shared; its ``event_id`` is derived from the
  tracking id and ``updated_at`` (a UUID 5), so re-reading the same update
  gives the same native id. The cursor is a :class:`~hub.sdk.HighWaterMark`:
  the newest ``updated_at`` read and the trackings read at that instant, so the
  inclusive ``updated_at_min`` loses nothing and repeats nothing.
- ``webhook``: ``aftership-hmac-sha256`` = base64(HMAC-SHA256(webhook_secret, raw body)).
  A polled update and the webhook of the same update have different native ids
  (the webhook's ``event_id`` is AfterShip's own UUID 4).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar

from pydantic import Field, SecretStr

from hub.connector import (
    Batch,
    Capability,
    ConnectorConfig,
    Cursor,
    ReadContext,
    SourceConnector,
    WebhookRequest,
    secret_values,
)
from hub.errors import AuthError, CheckFailed, ConfigError, ConnectorError, ParseError, SignatureInvalid
from hub.http import HttpClient, PageGuard
from hub.models import (
    Channel,
    ComplaintMessage,
    CourierInfo,
    CourierStatus,
    Identity,
    IdentityKind,
    RawItem,
)
from hub.sdk import (
    HighWaterMark,
    as_text,
    courier_status,
    decode_json,
    json_bytes,
    load_mapping_section,
    optional_timestamp,
    parse_epoch,
    parse_errors,
    require_mapping,
    webhook_instance,
)

__all__ = [
    "AfterShipConfig",
    "AfterShipConnector",
    "aftership_signature",
    "canonical_number",
    "poll_event_id",
]

#: namespace of the event ids given to polled updates (uuid5 of ``<tracking id>@<updated_at>``)
POLL_EVENT_NAMESPACE = uuid.UUID("6f1d3c2a-5b8e-4f0a-9c7d-2e4b6a8c0d1f")


class AfterShipConfig(ConnectorConfig):
    """One AfterShip account: polled trackings and signed webhooks."""

    api_key: SecretStr
    base_url: str = "https://api.aftership.com/tracking/2025-01"
    #: the webhook secret from AfterShip's notification settings; None = webhooks refused
    webhook_secret: SecretStr | None = None
    #: trackings per page (AfterShip allows up to 200)
    limit: int = Field(default=100, ge=1, le=200)


def aftership_signature(secret: str, body: bytes) -> str:
    """``aftership-hmac-sha256`` of a delivery: base64 HMAC-SHA256 of the raw body."""
    return base64.b64encode(hmac.new(secret.encode("utf-8"), body, hashlib.sha256).digest()).decode("ascii")


def poll_event_id(tracking_id: str, updated_at: str) -> str:
    """The event id of a polled tracking update: the same update always gets the same id."""
    return str(uuid.uuid5(POLL_EVENT_NAMESPACE, f"{tracking_id}@{updated_at}"))


def canonical_number(value: Any) -> str | None:
    """An order or tracking number in canonical form: stripped, no spaces, upper case."""
    text = as_text(value)
    return re.sub(r"\s+", "", text).upper() if text else None


def _webhook(payload: bytes) -> tuple[dict[str, Any], dict[str, Any]]:
    """The webhook body and its tracking object, or ``ParseError``."""
    body = require_mapping(decode_json(payload), "AfterShip webhook")
    if as_text(body.get("event_id")) is None:
        raise ParseError("not an AfterShip webhook: no event_id")
    msg = body.get("msg")
    if not isinstance(msg, dict) or canonical_number(msg.get("tracking_number")) is None:
        raise ParseError("not an AfterShip tracking event: no msg.tracking_number")
    return body, msg


def _latest_checkpoint(msg: dict[str, Any]) -> tuple[dict[str, Any] | None, datetime | None]:
    """The newest checkpoint and its time (AfterShip lists them oldest first)."""
    checkpoints = [c for c in _list(msg.get("checkpoints")) if isinstance(c, dict)]
    timed = []
    for index, checkpoint in enumerate(checkpoints):
        when = optional_timestamp(
            checkpoint.get("checkpoint_time"), field=f"checkpoints[{index}].checkpoint_time"
        )
        if when is not None:
            timed.append((when, index, checkpoint))
    if timed:
        when, _, checkpoint = max(timed, key=lambda entry: (entry[0], entry[1]))
        return checkpoint, when
    return (checkpoints[-1], None) if checkpoints else (None, None)


def _event_time(body: dict[str, Any], msg: dict[str, Any]) -> datetime | None:
    updated = optional_timestamp(msg.get("updated_at"), field="msg.updated_at")
    if updated is not None:
        return updated
    if body.get("ts") not in (None, ""):
        return parse_epoch(body["ts"], field="ts")
    return _latest_checkpoint(msg)[1]


class AfterShipConnector(SourceConnector):
    """Courier events from AfterShip, one message per webhook delivery."""

    name: ClassVar[str] = "aftership"
    channel: ClassVar[Channel] = Channel.courier
    capabilities: ClassVar[frozenset[str]] = frozenset(
        {Capability.IMPORT, Capability.POLL, Capability.WEBHOOK}
    )
    Config: ClassVar[type[ConnectorConfig]] = AfterShipConfig

    def __init__(
        self,
        table: Mapping[str, Any] | None = None,
        *,
        sleep: Callable[[float], None] = time.sleep,
        now: Callable[[], datetime] | None = None,
    ) -> None:
        """Load the tag tables (``table`` overrides ``couriers.yaml`` section ``aftership``).

        ``sleep`` waits between HTTP retries (tests pass a fake); ``now`` stamps received items.
        """
        self._sleep = sleep
        self._now = now or (lambda: datetime.now(UTC))
        section = table if table is not None else load_mapping_section("couriers.yaml", "aftership")
        self._tags = self._statuses(section, "tags")
        self._subtags = self._statuses(section, "subtags")

    @staticmethod
    def _statuses(section: Mapping[str, Any], key: str) -> dict[str, CourierStatus]:
        entries = section.get(key) or {}
        if not isinstance(entries, Mapping):
            raise ConfigError(f"couriers.yaml aftership.{key} must be a mapping")
        return {
            str(code): courier_status(value, where=f"couriers.yaml aftership.{key}.{code}")
            for code, value in entries.items()
        }

    def status_for(self, tag: str | None, subtag: str | None) -> CourierStatus:
        """Hub status of an AfterShip tag/subtag pair (subtag first, then tag, else unknown)."""
        if subtag and subtag in self._subtags:
            return self._subtags[subtag]
        if tag and tag in self._tags:
            return self._tags[tag]
        return CourierStatus.unknown

    # -- live source -----------------------------------------------------------------------
    def _client(self, config: AfterShipConfig) -> HttpClient:
        return HttpClient(
            config.base_url,
            headers={"as-api-key": config.api_key.get_secret_value(), "Accept": "application/json"},
            timeout=config.timeout,
            secrets=secret_values(config),
            sleep=self._sleep,
        )

    def check(self, config: AfterShipConfig) -> None:
        """``GET /trackings?limit=1`` with the API key (``CheckFailed`` with a hint)."""
        try:
            self._client(config).get_json("trackings", params={"limit": 1})
        except AuthError as exc:
            raise CheckFailed(
                f"AfterShip refused the API key: {exc}",
                "check api_key (AfterShip admin > Settings > API keys) and that base_url is the tracking API",
            ) from None
        except ConnectorError as exc:
            raise CheckFailed(f"AfterShip not reachable: {exc}", "") from None

    def read(self, config: AfterShipConfig, cursor: Cursor, ctx: ReadContext) -> Iterator[Batch]:
        """Trackings updated since the cursor, oldest update first, as webhook-shaped items."""
        client = self._client(config)
        mark = HighWaterMark.load(cursor.get(""), what=f"{ctx.instance}: AfterShip cursor")
        params: dict[str, Any] = {"limit": config.limit}
        if mark.at is not None:
            params["updated_at_min"] = mark.at.isoformat()
        guard = PageGuard("AfterShip trackings")
        updates: list[tuple[datetime, str, dict[str, Any]]] = []
        while True:
            page = client.get_json("trackings", params=params)
            trackings, pagination = _trackings_page(page)
            for tracking in trackings:
                tracking_id = as_text(tracking.get("id"))
                if tracking_id is None:
                    continue
                when = _updated_at(tracking, tracking_id)
                if mark.is_new(when, tracking_id):
                    updates.append((when, tracking_id, tracking))
            next_cursor = as_text(pagination.get("next_cursor"))
            if not pagination.get("has_next_page") or not next_cursor:
                break
            guard.check(next_cursor)
            params = {**params, "cursor": next_cursor}
        updates.sort(key=lambda entry: (entry[0], entry[1]))

        received = self._now()
        items: list[RawItem] = []
        for count, (when, tracking_id, tracking) in enumerate(updates, start=1):
            body = {
                "event": "tracking_update",
                "event_id": poll_event_id(tracking_id, when.isoformat()),
                "is_tracking_first_tag": False,
                "msg": tracking,
                "ts": int(when.timestamp()),
            }
            items += self.split_capture(
                json_bytes(body),
                instance=ctx.instance,
                received_at=received,
                source=client.url(f"trackings/{tracking_id}"),
            )
            mark = mark.advance(when, tracking_id)
            if len(items) >= config.limit:
                yield Batch(items, cursor=mark.dump())
                items = []
            if ctx.max_items is not None and count >= ctx.max_items:
                break
        if items:
            yield Batch(items, cursor=mark.dump())

    def webhook(self, config: AfterShipConfig, request: WebhookRequest) -> list[RawItem]:
        """A tracking webhook, verified by ``aftership-hmac-sha256``."""
        if config.webhook_secret is None:
            raise SignatureInvalid("AfterShip delivery refused: no webhook_secret configured")
        signature = request.header("aftership-hmac-sha256")
        if not signature:
            raise SignatureInvalid("AfterShip delivery without aftership-hmac-sha256")
        expected = aftership_signature(config.webhook_secret.get_secret_value(), request.body)
        if not hmac.compare_digest(expected, signature.strip()):
            raise SignatureInvalid("aftership-hmac-sha256 does not match the body")
        try:
            return self.split_capture(
                request.body,
                instance=webhook_instance(request),
                received_at=request.received_at,
                source=request.url,
            )
        except ParseError as exc:
            raise ConnectorError(f"AfterShip delivery verified but unusable: {exc}") from None

    # -- captures --------------------------------------------------------------------------
    def split_capture(
        self, data: bytes, *, instance: str, received_at: datetime, source: str | None = None
    ) -> list[RawItem]:
        """One raw item per webhook body."""
        body, msg = _webhook(data)
        return [
            RawItem(
                connector=self.name,
                instance=instance,
                native_id=str(body["event_id"]).strip(),
                received_at=received_at,
                occurred_at=_event_time(body, msg),
                payload=data,
                source=source,
            )
        ]

    def parse(self, raw: RawItem) -> ComplaintMessage:
        """Courier status, tracking and order numbers, the customer's contact details."""
        body, msg = _webhook(raw.payload)
        with parse_errors(f"aftership event {body.get('event_id')}"):
            return self._parse(raw, body, msg)

    def _parse(self, raw: RawItem, body: dict[str, Any], msg: dict[str, Any]) -> ComplaintMessage:
        tracking_no = canonical_number(msg.get("tracking_number"))
        if tracking_no is None:  # _webhook already checked; keeps the type checker sure
            raise ParseError("no msg.tracking_number")
        tag, subtag = as_text(msg.get("tag")), as_text(msg.get("subtag"))
        subtag_message = as_text(msg.get("subtag_message"))
        checkpoint, checkpoint_at = _latest_checkpoint(msg)
        last_event = as_text(checkpoint.get("message")) if checkpoint else None

        courier = CourierInfo(
            carrier=as_text(msg.get("slug")),
            tracking_no=tracking_no,
            status=self.status_for(tag, subtag),
            detail=subtag_message or tag,
            last_event=last_event,
            last_event_at=checkpoint_at,
        )
        order_nos: list[str] = []
        for field in ("order_id", "order_number"):
            order = canonical_number(msg.get(field))
            if order and order not in order_nos:
                order_nos.append(order)

        customer_name, identities = _customer(msg)
        extra: dict[str, Any] = {"event": as_text(body.get("event")), "tag": tag, "subtag": subtag}
        for key, value in (
            ("tracking_id", as_text(msg.get("id"))),
            ("title", as_text(msg.get("title"))),
            ("expected_delivery", as_text(msg.get("expected_delivery"))),
            ("checkpoint_location", as_text(checkpoint.get("location")) if checkpoint else None),
        ):
            if value:
                extra[key] = value
        if isinstance(body.get("is_tracking_first_tag"), bool):
            extra["is_tracking_first_tag"] = body["is_tracking_first_tag"]

        occurred = _event_time(body, msg)
        return ComplaintMessage(
            connector=self.name,
            instance=raw.instance,
            native_id=raw.native_id,
            channel=self.channel,
            occurred_at=occurred or raw.sort_time,
            text=_summary(last_event, subtag_message or tag),
            customer_name=customer_name,
            identities=identities,
            order_nos=order_nos,
            tracking_nos=[tracking_no],
            courier=courier,
            extra=extra,
        )


def _summary(last_event: str | None, status_words: str | None) -> str:
    """One line for the timeline: the courier's latest scan, then AfterShip's status words."""
    if last_event and status_words and status_words.lower() not in last_event.lower():
        return f"{last_event} ({status_words})"
    return last_event or status_words or ""


def _customer(msg: dict[str, Any]) -> tuple[str | None, list[Identity]]:
    """Customer name and identities from ``customer_name``/``emails``/``smses`` and ``customers[]``."""
    names: list[str] = []
    emails: list[str] = []
    phones: list[str] = []
    if as_text(msg.get("customer_name")):
        names.append(str(as_text(msg.get("customer_name"))))
    emails += [e for e in (as_text(v) for v in _list(msg.get("emails"))) if e]
    phones += [p for p in (as_text(v) for v in _list(msg.get("smses"))) if p]
    for customer in _list(msg.get("customers")):
        if not isinstance(customer, dict):
            continue
        for bucket, field in ((names, "name"), (emails, "email"), (phones, "phone_number")):
            value = as_text(customer.get(field))
            if value:
                bucket.append(value)

    identities: list[Identity] = []
    candidates = (
        [Identity(kind=IdentityKind.email, value=e.lower()) for e in emails if "@" in e]
        + [Identity(kind=IdentityKind.phone, value=p) for p in phones if sum(c.isdigit() for c in p) >= 5]
        + [Identity(kind=IdentityKind.name, value=n) for n in names]
    )
    for identity in candidates:
        if identity not in identities:
            identities.append(identity)
    return (names[0] if names else None), identities


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _trackings_page(page: Any) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """``data.trackings`` and ``data.pagination`` of a page, or ``ConnectorError`` if malformed."""
    data = page.get("data") if isinstance(page, dict) else None
    trackings = data.get("trackings") if isinstance(data, dict) else None
    if not isinstance(data, dict) or not isinstance(trackings, list):
        raise ConnectorError("AfterShip trackings page without data.trackings[]")
    pagination = data.get("pagination")
    return [t for t in trackings if isinstance(t, dict)], pagination if isinstance(pagination, dict) else {}


def _updated_at(tracking: dict[str, Any], tracking_id: str) -> datetime:
    try:
        when = optional_timestamp(tracking.get("updated_at"), field="updated_at")
    except ParseError as exc:
        raise ConnectorError(f"AfterShip tracking {tracking_id}: {exc}") from None
    if when is None:
        raise ConnectorError(f"AfterShip tracking {tracking_id} without updated_at")
    return when
