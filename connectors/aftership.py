"""AfterShip connector: tracking webhooks for the shop's shipments.

Supports AfterShip Tracking webhook bodies (``event``, ``event_id``, ``msg`` =
tracking object, ``ts``), current API versions and the older tracking shape
alike (``customer_name``/``emails``/``smses`` beside ``customers[]``). Follows
aftership.com/docs/tracking (webhook specification, delivery statuses and
sub-statuses) and AfterShip/tracking-sdk-python (see PROVIDERS.md).
Native id: ``event_id``. Tag/subtag → hub status comes from
``mappings/couriers.yaml`` (section ``aftership``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any, ClassVar

from hub.connector import SourceConnector
from hub.errors import ConfigError, ParseError
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
    as_text,
    courier_status,
    decode_json,
    load_mapping_section,
    optional_timestamp,
    parse_epoch,
    parse_errors,
    require_mapping,
)

__all__ = ["AfterShipConnector", "canonical_number"]


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

    def __init__(self, table: Mapping[str, Any] | None = None) -> None:
        """Load the tag tables (``table`` overrides ``couriers.yaml`` section ``aftership``)."""
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
