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

Live source (capabilities ``poll``, ``track`` and ``webhook``):

- ``read``: for every configured ``{com, num}`` (and, with ``default_com``, every
  tracking number that open cases name, handed over by the core) ``POST
  /poll/query.do`` with form ``customer``, ``param`` (JSON ``com``, ``num``,
  ``resultv2``, ``order: desc``) and ``sign`` = uppercase MD5(param + key +
  customer). A response whose newest trace entry (``data[0].ftime``) is later
  than the number's cursor becomes one raw item in the push shape
  (``{"status": "polling", "message": "", "lastResult": <response>}``), so
  polled and pushed updates share native ids. Partition = tracking number,
  cursor = the newest ``ftime`` seen.
- Errors come back as HTTP 200 with ``{"result": false, "returnCode", "message"}``:
  ``503`` (signature) and ``601`` (key expired / no balance) are credential
  problems; ``500`` means no trace yet (nothing to read); ``501``/``502`` are
  the server's trouble (retried next cycle); others (``400`` bad company code
  ...) are logged and that number skipped.
- ``check``: one query (the first configured number, or a sample); a
  credential error fails it.
- ``webhook``: the subscription push, form ``param=<json>&sign=<uppercase
  MD5(param + salt)>``; answered with ``{"result": true, "returnCode": "200"}``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, SecretStr

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
from hub.errors import (
    AuthError,
    CheckFailed,
    ConfigError,
    ConnectorError,
    ParseError,
    SignatureInvalid,
    TransientError,
)
from hub.http import HttpClient
from hub.models import Channel, ComplaintMessage, CourierInfo, CourierStatus, RawItem
from hub.sdk import (
    CHINA_TZ,
    as_text,
    courier_status,
    decode_json_or_form,
    form_fields,
    json_bytes,
    load_mapping_section,
    optional_timestamp,
    parse_errors,
    require_mapping,
    webhook_instance,
)

__all__ = [
    "Kuaidi100Config",
    "Kuaidi100Connector",
    "TrackedNumber",
    "push_sign",
    "query_sign",
]

#: ``returnCode`` values that mean the credentials are wrong: 503 signature, 601 key expired / no balance
AUTH_CODES = {"503", "601"}
#: ``returnCode`` for "no trace for this number (yet)"
NO_RESULT = "500"
#: ``returnCode`` values for the server's own trouble
SERVER_CODES = {"501", "502"}
#: what ``check`` queries when no number is configured (a no-result answer still proves the key)
SAMPLE = ("yuantong", "YT0000000000000")


def query_sign(param: str, key: str, customer: str) -> str:
    """``sign`` of a ``poll/query.do`` request: uppercase MD5(param + key + customer)."""
    return hashlib.md5((param + key + customer).encode("utf-8")).hexdigest().upper()


def push_sign(param: str, salt: str) -> str:
    """``sign`` of a subscription push: uppercase MD5(param + salt)."""
    return hashlib.md5((param + salt).encode("utf-8")).hexdigest().upper()


class TrackedNumber(BaseModel):
    """A shipment to query: Kuaidi100 company code (lower case) and tracking number."""

    model_config = ConfigDict(extra="forbid")

    com: str = Field(min_length=1)
    num: str = Field(min_length=1, max_length=32)
    #: sender's or receiver's phone (or its last 4 digits): required by some carriers (SF)
    phone: str | None = None


class Kuaidi100Config(ConnectorConfig):
    """One Kuaidi100 enterprise account: query credentials, push salt, numbers to follow."""

    customer: str = Field(min_length=1)
    key: SecretStr
    #: the ``salt`` given when subscribing: signs pushes; None = pushes refused
    salt: SecretStr | None = None
    #: shipments to query on every poll
    numbers: list[TrackedNumber] = Field(default_factory=list)
    #: company code for tracking numbers that open cases name; None = only ``numbers`` are queried
    default_com: str | None = None
    base_url: str = "https://poll.kuaidi100.com"


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
    capabilities: ClassVar[frozenset[str]] = frozenset(
        {Capability.IMPORT, Capability.POLL, Capability.TRACK, Capability.WEBHOOK}
    )
    Config: ClassVar[type[ConnectorConfig]] = Kuaidi100Config

    def __init__(
        self,
        table: Mapping[str, Any] | None = None,
        *,
        sleep: Callable[[float], None] = time.sleep,
        now: Callable[[], datetime] | None = None,
    ) -> None:
        """Load state and company tables (``table`` overrides ``couriers.yaml`` section ``kuaidi100``).

        ``sleep`` waits between HTTP retries (tests pass a fake); ``now`` stamps received items.
        """
        self._sleep = sleep
        self._now = now or (lambda: datetime.now(UTC))
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

    # -- live source -----------------------------------------------------------------------
    def _client(self, config: Kuaidi100Config) -> HttpClient:
        return HttpClient(
            config.base_url, timeout=config.timeout, secrets=secret_values(config), sleep=self._sleep
        )

    def _query(self, client: HttpClient, config: Kuaidi100Config, number: TrackedNumber) -> dict[str, Any]:
        """One ``poll/query.do`` answer (a success or a ``result: false`` error body)."""
        param: dict[str, str] = {"com": number.com, "num": number.num}
        if number.phone:
            param["phone"] = number.phone
        param.update({"resultv2": "1", "order": "desc"})
        text = json.dumps(param, ensure_ascii=False, separators=(",", ":"))
        form = {
            "customer": config.customer,
            "param": text,
            "sign": query_sign(text, config.key.get_secret_value(), config.customer),
        }
        response = client.request("POST", "poll/query.do", data=form)
        try:
            body = response.json()
        except ValueError:
            raise TransientError(f"Kuaidi100 query of {number.num}: answer is not JSON") from None
        if not isinstance(body, dict):
            raise TransientError(f"Kuaidi100 query of {number.num}: answer is not a JSON object")
        return body

    def check(self, config: Kuaidi100Config) -> None:
        """One query with the configured credentials (``CheckFailed`` with a hint)."""
        number = config.numbers[0] if config.numbers else TrackedNumber(com=SAMPLE[0], num=SAMPLE[1])
        try:
            body = self._query(self._client(config), config, number)
        except ConnectorError as exc:
            raise CheckFailed(f"Kuaidi100 not reachable: {exc}", "") from None
        code = _error_code(body)
        if code in AUTH_CODES:
            raise CheckFailed(
                f"Kuaidi100 refused the credentials: returnCode {code}: {as_text(body.get('message'))}",
                "check customer and key (Kuaidi100 enterprise console > my info), and the account balance",
            )
        if code in SERVER_CODES:
            raise CheckFailed(f"Kuaidi100 server trouble: returnCode {code}: {as_text(body.get('message'))}")

    def read(self, config: Kuaidi100Config, cursor: Cursor, ctx: ReadContext) -> Iterator[Batch]:
        """Each number's newest trace when it changed since its cursor (partition = number)."""
        client = self._client(config)
        received = self._now()
        emitted = 0
        for number in self._numbers(config, ctx):
            body = self._query(client, config, number)
            code = _error_code(body)
            if code is not None:
                message = as_text(body.get("message"))
                if code in AUTH_CODES:
                    raise AuthError(f"Kuaidi100 refused the credentials: returnCode {code}: {message}")
                if code in SERVER_CODES:
                    raise TransientError(f"Kuaidi100 query of {number.num}: returnCode {code}: {message}")
                if code != NO_RESULT:
                    ctx.log.warning(
                        "Kuaidi100 query of %s skipped: returnCode %s: %s", number.num, code, message
                    )
                continue
            data = body.get("data")
            newest = data[0] if isinstance(data, list) and data and isinstance(data[0], dict) else None
            ftime = (as_text(newest.get("ftime")) or as_text(newest.get("time"))) if newest else None
            seen = cursor.get(number.num)
            if ftime is None or (seen is not None and ftime <= seen):
                continue
            push = {"status": "polling", "message": "", "lastResult": body}
            items = self.split_capture(
                json_bytes(push),
                instance=ctx.instance,
                received_at=received,
                source=f"{client.url('poll/query.do')}#{number.com}/{number.num}",
            )
            yield Batch(items, partition=number.num, cursor=ftime)
            emitted += len(items)
            if ctx.max_items is not None and emitted >= ctx.max_items:
                return

    @staticmethod
    def _numbers(config: Kuaidi100Config, ctx: ReadContext) -> list[TrackedNumber]:
        """The configured numbers, then those open cases name (with ``default_com``), each once."""
        numbers = list(config.numbers)
        known = {_canonical(n.num) for n in numbers}
        if config.default_com:
            for num in ctx.tracking_numbers:
                key = _canonical(num)
                if key and key not in known and len(key) <= 32:
                    known.add(key)
                    numbers.append(TrackedNumber(com=config.default_com, num=key))
        return numbers

    def webhook(self, config: Kuaidi100Config, request: WebhookRequest) -> list[RawItem]:
        """A subscription push, verified by ``sign`` = uppercase MD5(param + salt)."""
        if config.salt is None:
            raise SignatureInvalid("Kuaidi100 push refused: no salt configured")
        fields = dict(form_fields(request.body))
        param, sign = fields.get("param"), fields.get("sign")
        if not param or not sign:
            raise SignatureInvalid("Kuaidi100 push without param and sign fields")
        expected = push_sign(param, config.salt.get_secret_value())
        if not hmac.compare_digest(expected, sign.strip().upper()):
            raise SignatureInvalid("Kuaidi100 push sign does not match")
        try:
            return self.split_capture(
                request.body,
                instance=webhook_instance(request),
                received_at=request.received_at,
                source=request.url,
            )
        except ParseError as exc:
            raise ConnectorError(f"Kuaidi100 push verified but unusable: {exc}") from None

    def webhook_reply(self, accepted: int) -> tuple[int, bytes, str]:
        """Kuaidi100 wants ``result: true`` back, else it pushes again."""
        body = json.dumps({"result": True, "returnCode": "200", "message": "成功"}, ensure_ascii=False)
        return 200, body.encode("utf-8"), "application/json"

    # -- captures --------------------------------------------------------------------------
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


def _canonical(number: str) -> str:
    return re.sub(r"\s+", "", number).upper()


def _error_code(body: dict[str, Any]) -> str | None:
    """The ``returnCode`` of an error answer, None for a trace (``message: ok``)."""
    code = as_text(body.get("returnCode"))
    if body.get("result") is False or (code is not None and code != "200" and "data" not in body):
        return code or "?"
    return None
