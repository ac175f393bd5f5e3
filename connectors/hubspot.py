"""HubSpot sink: batch-upsert a ticket per hub case, keyed by a unique ticket property.

Features:

- **Upsert by a unique property.** ``id_property`` names a ticket property with "unique values"
  (e.g. ``hub_case_id``) that holds the hub's case id; a redelivery after a crash or a lost
  response updates the ticket it created instead of creating a second one.
- **Batches** of up to :attr:`HubSpotSink.max_batch` = 100 inputs (the API's limit):
  ``POST /crm/v3/objects/tickets/batch/upsert`` with ``{"inputs": [{"idProperty", "id",
  "objectWriteTraceId", "properties"}]}`` → 200 with ``results[]``, or 207 with ``results[]`` for
  the inputs that were written and ``errors[]`` for the others. Results and errors are matched
  back to deliveries by ``objectWriteTraceId`` (the event id), the id property's value, or the
  ids in the error's ``context``; an input with neither is retried (the upsert makes that safe).
  A validation error dead-letters that input only. A whole-batch 400 is retried input by input,
  so one bad input cannot sink the other 99. ``results[].id`` is the ticket id, remembered by the
  core as the external id.
- Property values are sent as strings (the API's schema); ``pipeline`` in the config, when set,
  overrides ``hs_pipeline`` from the mapping.
- **Errors** ``{"status": "error", "message", "correlationId", "category", ...}``. 401/403
  (``INVALID_AUTHENTICATION``, ``MISSING_SCOPES``) fail the whole call (the core opens the
  breaker). 429 carries ``X-HubSpot-RateLimit-*`` headers and often no ``Retry-After``: the wait
  is the window (``-Interval-Milliseconds``, or a second when ``-Secondly-Remaining`` is 0, or
  the rest of the day when ``-Daily-Remaining`` is 0). 5xx, timeouts and dropped connections are
  retried.

Config: ``base_url`` (``https://api.hubapi.com``), ``access_token`` (SecretStr, a private app
token with the ``tickets`` scope), ``id_property`` (``hub_case_id``), ``pipeline`` (optional
pipeline id), ``timeout``.

Docs: ``PROVIDERS.md`` "Downstream / HubSpot"; the official OpenAPI spec of CRM tickets v3
(``specs/hubspot-crm-tickets-v3.json``); "API usage guidelines and limits" (rate-limit headers).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import requests
from pydantic import SecretStr

from hub.connector import ConnectorConfig
from hub.errors import AuthError, CheckFailed, ConnectorError, RateLimited, TransientError
from hub.http import HttpClient, scrub
from hub.sink import Delivery, DeliveryResult, SinkConnector

__all__ = ["HubSpotConfig", "HubSpotError", "HubSpotSink", "rate_limit_wait"]

log = logging.getLogger(__name__)

UPSERT = "/crm/v3/objects/tickets/batch/upsert"
#: error categories of one input worth another try; the rest (VALIDATION_ERROR ...) are the input's fault
_RETRYABLE_CATEGORIES = frozenset({"RATE_LIMITS", "INTERNAL_ERROR", "SERVICE_UNAVAILABLE", "TIMEOUT"})


class HubSpotConfig(ConnectorConfig):
    base_url: str = "https://api.hubapi.com"
    access_token: SecretStr
    id_property: str = "hub_case_id"
    pipeline: str | None = None


class HubSpotError(ConnectorError):
    """A 4xx answer with HubSpot's error body (``status`` and ``category`` kept)."""

    def __init__(self, message: str, status: int, category: str) -> None:
        super().__init__(message)
        self.status = status
        self.category = category


def rate_limit_wait(headers: Mapping[str, str], *, now: datetime | None = None) -> float:
    """Seconds to wait after a 429 from HubSpot's ``X-HubSpot-RateLimit-*`` headers (lower-case keys)."""
    h = {k.lower(): v for k, v in headers.items()}

    def number(name: str) -> float | None:
        try:
            return float(h[f"x-hubspot-ratelimit-{name}"])
        except (KeyError, ValueError):
            return None

    if number("daily-remaining") == 0:
        now = now or datetime.now(UTC)
        midnight = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
        return (midnight - now).total_seconds()
    if number("secondly-remaining") == 0 and number("remaining") != 0:
        return 1.0
    interval = number("interval-milliseconds")
    return interval / 1000 if interval else 1.0


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return ";".join(str(v) for v in value)  # HubSpot's multi-value separator
    return str(value)


def _describe(error: Mapping[str, Any]) -> str:
    text = f"{error.get('category', 'ERROR')}: {error.get('message', '')}"
    details = [d.get("message", "") for d in error.get("errors") or [] if isinstance(d, dict)]
    if details and not any(d in text for d in details):
        text += " (" + "; ".join(details) + ")"
    return text[:1000]


def _on_response(response: requests.Response, *args: Any, secrets: Sequence[str] = (), **kwargs: Any) -> None:
    """Classify a 4xx by HubSpot's error body: 401/403 → AuthError, others → HubSpotError (status, category).

    HttpClient would keep only the body's first 300 characters, and not the category.
    """
    status = response.status_code
    if not 400 <= status < 500 or status == 429:
        return
    try:
        body = response.json()
    except ValueError:
        return
    if isinstance(body, dict) and body.get("category"):
        where = f"{response.request.method} {response.url} -> {status}"
        if status in (401, 403):  # INVALID_AUTHENTICATION, MISSING_SCOPES ...
            raise AuthError(scrub(f"{where}: credentials refused: {_describe(body)}", secrets))
        raise HubSpotError(scrub(f"{where}: {_describe(body)}", secrets), status, str(body["category"]))


class HubSpotSink(SinkConnector):
    name = "hubspot"
    Config = HubSpotConfig
    max_batch = 100

    def _client(self, config: HubSpotConfig) -> HttpClient:
        token = config.access_token.get_secret_value()
        client = HttpClient(
            config.base_url,
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
            timeout=config.timeout,
            attempts=1,  # the outbox retries
            secrets=[token],
        )
        client.session.hooks["response"].append(partial(_on_response, secrets=[token]))
        return client

    def check(self, config: Any) -> None:
        """List one ticket, then make sure ``id_property`` exists and has unique values (Properties API)."""
        client = self._client(config)
        try:
            client.get_json("/crm/v3/objects/tickets", params={"limit": 1})
        except AuthError as exc:
            raise CheckFailed(str(exc), "use a private app token with the 'tickets' scope") from None
        except ConnectorError as exc:
            raise CheckFailed(str(exc), "check base_url and that HubSpot is reachable") from None
        try:
            prop = client.get_json(f"/crm/v3/properties/tickets/{config.id_property}")
        except ConnectorError as exc:
            if isinstance(exc, HubSpotError) and exc.status == 404:
                raise CheckFailed(
                    f"tickets have no property {config.id_property!r}",
                    "create a single-line text ticket property with 'unique values' on",
                ) from None
            raise CheckFailed(str(exc), "the token needs read access to ticket properties") from None
        if not prop.get("hasUniqueValue"):
            raise CheckFailed(
                f"ticket property {config.id_property!r} does not require unique values",
                "upsert needs a property created with 'unique values' on; name such a one in id_property",
            )

    def deliver(self, config: Any, deliveries: list[Delivery]) -> list[DeliveryResult]:
        client = self._client(config)
        return self._upsert(client, config, deliveries)

    def _input(self, config: HubSpotConfig, d: Delivery) -> dict[str, Any]:
        properties = {k: _text(v) for k, v in d.fields.items() if v is not None and k != config.id_property}
        if config.pipeline:
            properties["hs_pipeline"] = config.pipeline
        return {
            "idProperty": config.id_property,
            "id": d.case_id,
            "objectWriteTraceId": d.event_id,
            "properties": properties,
        }

    def _upsert(
        self, client: HttpClient, config: HubSpotConfig, deliveries: list[Delivery]
    ) -> list[DeliveryResult]:
        body = {"inputs": [self._input(config, d) for d in deliveries]}
        try:
            response = client.request("POST", UPSERT, json=body)
        except RateLimited as exc:
            wait = exc.retry_after if exc.retry_after is not None else rate_limit_wait(client.rate_limit)
            return [DeliveryResult.failure(d, str(exc), retryable=True, retry_after=wait) for d in deliveries]
        except AuthError:
            raise  # the whole sink is misconfigured: the core opens the breaker
        except TransientError as exc:
            return [DeliveryResult.failure(d, str(exc), retryable=True) for d in deliveries]
        except ConnectorError as exc:
            if len(deliveries) > 1 and isinstance(exc, HubSpotError) and exc.status == 400:
                # one bad input can fail the whole batch: isolate it
                log.info("hubspot: batch of %d refused (%s); sending one by one", len(deliveries), exc)
                return [r for d in deliveries for r in self._upsert(client, config, [d])]
            return [DeliveryResult.failure(d, str(exc), retryable=False) for d in deliveries]
        try:
            answer = response.json()
        except ValueError:
            msg = f"POST {UPSERT} -> {response.status_code}: response is not JSON"
            raise TransientError(msg) from None
        return self._match(config, deliveries, answer)

    @staticmethod
    def _match(config: HubSpotConfig, deliveries: list[Delivery], answer: Any) -> list[DeliveryResult]:
        """Pair ``results[]`` and ``errors[]`` with the deliveries they answer."""
        by_trace = {d.event_id: d for d in deliveries}
        by_case = {d.case_id: d for d in deliveries}
        done: dict[int, DeliveryResult] = {}

        def owner(trace: Any, key: Any) -> Delivery | None:
            return by_trace.get(str(trace)) if trace in by_trace else by_case.get(str(key))

        for r in answer.get("results") or []:
            d = owner(r.get("objectWriteTraceId"), (r.get("properties") or {}).get(config.id_property))
            if d is not None and r.get("id"):
                done[d.outbox_id] = DeliveryResult.success(d, str(r["id"]))
        unmatched: list[str] = []
        for e in answer.get("errors") or []:
            context = e.get("context") or {}
            traces = list(context.get("objectWriteTraceId") or [])
            ids = list(context.get("ids") or context.get("id") or [])
            owners = {id(x): x for x in (owner(t, None) for t in traces) if x is not None}
            owners |= {id(x): x for x in (by_case.get(str(i)) for i in ids) if x is not None}
            if not owners:
                unmatched.append(_describe(e))
                continue
            status = str(e.get("status", ""))
            retryable = e.get("category") in _RETRYABLE_CATEGORIES or status in ("429",) or status[:1] == "5"
            for d in owners.values():
                if d.outbox_id not in done or done[d.outbox_id].ok:
                    done[d.outbox_id] = DeliveryResult.failure(
                        d, f"ticket {d.case_id}: {_describe(e)}", retryable=retryable
                    )
        out = []
        for d in deliveries:
            if d.outbox_id in done:
                out.append(done[d.outbox_id])
            else:
                why = "; ".join(unmatched) or "no result for this input"
                out.append(DeliveryResult.failure(d, f"ticket {d.case_id}: {why}", retryable=True))
        return out
