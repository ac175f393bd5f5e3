"""Kuaidi100 (快递100) connector: subscription pushes for the shop's shipments.

Supports the body Kuaidi100 posts to a subscription ``callbackurl``
(``status``, ``message``, ``lastResult`` in the query shape with ``nu``,
``com``, ``state``, ``data[]`` newest first), captured as JSON or as the raw
``param=<json>&sign=...`` form; a bare ``poll/query.do`` response is read too.
Follows kuaidi100-api/python-demo (``synquery.py``, ``subscribe.py``) and the
api.kuaidi100.com documentation (see PROVIDERS.md). Native id:
``<lastResult.nu>@<lastResult.data[0].ftime>``; ``ftime`` is China time
(+08:00). State codes and company codes map through ``mappings/couriers.yaml``
(section ``kuaidi100``).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any, ClassVar

from hub.connector import SourceConnector
from hub.errors import ConfigError, ParseError
from hub.models import Channel, ComplaintMessage, CourierInfo, CourierStatus, RawItem
from hub.sdk import (
    CHINA_TZ,
    as_text,
    courier_status,
    decode_json_or_form,
    load_mapping_section,
    optional_timestamp,
    parse_errors,
    require_mapping,
)

__all__ = ["Kuaidi100Connector"]

#: push statuses after which Kuaidi100 stops following the shipment
_STOPPED = {"abort", "shutdown"}


class _Push:
    """A decoded push: the envelope, ``lastResult`` and its newest trace entry."""

    def __init__(self, payload: bytes) -> None:
        body = require_mapping(decode_json_or_form(payload, json_field="param"), "Kuaidi100 push")
        last = body.get("lastResult")
        if last is None and "nu" in body and "data" in body:
            last = body  # a poll/query.do response has the lastResult shape at the top
        if not isinstance(last, dict) or as_text(last.get("nu")) is None:
            raise ParseError("not a Kuaidi100 push: no lastResult.nu")
        data = last.get("data")
        if data is None:
            data = []
        if not isinstance(data, list):
            raise ParseError("Kuaidi100 push: lastResult.data is not an array")
        self.body = body
        self.last = last
        self.nu = str(as_text(last.get("nu")))
        self.newest = data[0] if data and isinstance(data[0], dict) else None

    @property
    def newest_ftime(self) -> str | None:
        if self.newest is None:
            return None
        return as_text(self.newest.get("ftime")) or as_text(self.newest.get("time"))

    def native_id(self) -> str:
        """``nu@ftime``; a push without trace gets ``nu@empty:<digest of its status>``."""
        ftime = self.newest_ftime
        if ftime:
            return f"{self.nu}@{ftime}"
        fingerprint = [
            self.body.get("status"),
            self.body.get("message"),
            self.last.get("state"),
            self.last.get("message"),
        ]
        digest = hashlib.sha256(json.dumps(fingerprint, ensure_ascii=False).encode("utf-8")).hexdigest()
        return f"{self.nu}@empty:{digest[:12]}"

    def event_time(self) -> datetime | None:
        return optional_timestamp(self.newest_ftime, field="lastResult.data[0].ftime", naive_tz=CHINA_TZ)


class Kuaidi100Connector(SourceConnector):
    """Courier events from Kuaidi100, one message per push."""

    name: ClassVar[str] = "kuaidi100"
    channel: ClassVar[Channel] = Channel.courier

    def __init__(self, table: Mapping[str, Any] | None = None) -> None:
        """Load state and company tables (``table`` overrides ``couriers.yaml`` section ``kuaidi100``)."""
        section = table if table is not None else load_mapping_section("couriers.yaml", "kuaidi100")
        states = section.get("states") or {}
        companies = section.get("companies") or {}
        if not isinstance(states, Mapping) or not isinstance(companies, Mapping):
            raise ConfigError("couriers.yaml kuaidi100.states and kuaidi100.companies must be mappings")
        self._states: dict[str, tuple[CourierStatus, str | None]] = {}
        for code, entry in states.items():
            where = f"couriers.yaml kuaidi100.states.{code}"
            if isinstance(entry, Mapping):
                self._states[str(code)] = (
                    courier_status(entry.get("status"), where=where),
                    as_text(entry.get("name")),
                )
            else:
                self._states[str(code)] = (courier_status(entry, where=where), None)
        self._companies = {str(k).lower(): str(v) for k, v in companies.items()}

    def state_for(self, state: str | None) -> tuple[CourierStatus, str | None]:
        """Hub status and Chinese name of a ``state`` (a 3-digit sub-state falls back to its main state)."""
        if state is None:
            return CourierStatus.unknown, None
        if state in self._states:
            return self._states[state]
        if re.fullmatch(r"[1-9]\d\d", state) and state[0] in self._states:
            return self._states[state[0]]
        return CourierStatus.unknown, None

    def carrier_for(self, com: str | None) -> str | None:
        """Readable carrier code for a Kuaidi100 company code (unknown codes pass through)."""
        if com is None:
            return None
        return self._companies.get(com.lower(), com)

    def split_capture(
        self, data: bytes, *, instance: str, received_at: datetime, source: str | None = None
    ) -> list[RawItem]:
        """One raw item per push."""
        push = _Push(data)
        return [
            RawItem(
                connector=self.name,
                instance=instance,
                native_id=push.native_id(),
                received_at=received_at,
                occurred_at=push.event_time(),
                payload=data,
                source=source,
            )
        ]

    def parse(self, raw: RawItem) -> ComplaintMessage:
        """Courier status, tracking number and the newest trace line."""
        push = _Push(raw.payload)
        with parse_errors(f"kuaidi100 push {push.nu}"):
            return self._parse(raw, push)

    def _parse(self, raw: RawItem, push: _Push) -> ComplaintMessage:
        last, body = push.last, push.body
        tracking_no = re.sub(r"\s+", "", push.nu).upper()
        state = as_text(last.get("state"))
        status, state_name = self.state_for(state)
        com = as_text(last.get("com"))
        if str(body.get("autoCheck")) == "1" and as_text(body.get("comNew")):
            com = as_text(body.get("comNew"))  # Kuaidi100 corrected the company
        event_at = push.event_time()
        context = as_text(push.newest.get("context")) if push.newest else None
        push_status = as_text(body.get("status"))
        push_message = as_text(body.get("message"))

        extra: dict[str, Any] = {"com": com, "state": state}
        if push_status:
            extra["push_status"] = push_status
        if push_message:
            extra["push_message"] = push_message
        if (push_status or "").lower() in _STOPPED:
            extra["monitoring_stopped"] = True
        if as_text(last.get("ischeck")) == "1":
            extra["signed"] = True
        if push.newest is None:
            extra["no_trace"] = True

        return ComplaintMessage(
            connector=self.name,
            instance=raw.instance,
            native_id=raw.native_id,
            channel=self.channel,
            occurred_at=event_at or raw.sort_time,
            text=context or push_message or "",
            tracking_nos=[tracking_no],
            courier=CourierInfo(
                carrier=self.carrier_for(com),
                tracking_no=tracking_no,
                status=status,
                detail=state_name or (f"state {state}" if state else None),
                last_event=context,
                last_event_at=event_at,
            ),
            extra=extra,
        )
