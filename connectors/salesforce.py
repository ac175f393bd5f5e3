"""Salesforce sink: upsert a ``Case`` per hub case, keyed by an external id field holding the case id.

Features:

- **Upsert by external id.** The hub's case id (``C-000123``) goes into a custom field marked
  External ID (and Unique), ``external_id_field`` in the config. A redelivery after a crash or a
  lost response updates the Case it created instead of creating a second one.
- **One delivery**: ``PATCH /services/data/{v}/sobjects/Case/{field}/{case id}`` with the mapped
  fields (the external id field is in the URL, never in the body) → 201 created, 200 updated with
  ``"created": false`` (API ≥ 46.0) or 204 without a body (older versions).
  300: several Cases carry that external id; the delivery goes to dead letter naming them.
- **Several** (up to :attr:`SalesforceSink.max_batch` = 200, the sObject Collections limit):
  ``PATCH /services/data/{v}/composite/sobjects/Case/{field}`` with ``{"allOrNone": false,
  "records": [{"attributes": {"type": "Case"}, field: case id, ...}]}`` → one result per record,
  in order. A record's own errors (``INVALID_FIELD``, a restricted picklist, a validation rule,
  ``DUPLICATE_EXTERNAL_ID``) dead-letter that record only; ``UNABLE_TO_LOCK_ROW`` is retried.
  A whole-request 400 is retried record by record, so one bad record cannot sink the others.
- **Errors** are JSON arrays ``[{"message", "errorCode", "fields"}]``. The org's API limit is
  403 ``REQUEST_LIMIT_EXCEEDED`` (not 429): retried with backoff, unlike every other 401/403
  (``INVALID_SESSION_ID`` …), which is an :class:`~hub.errors.AuthError` for the whole call.
  429, 5xx, timeouts and dropped connections are retried.
- **Limits**: the ``Sforce-Limit-Info: api-usage=n/m`` header of every answer is kept in
  :attr:`SalesforceSink.api_usage`; above 90 % a warning is logged.
- One batch carries at most one event per case (the outbox sends each case's head), so the order
  of a case's updates holds.

Config: ``instance_url`` (``https://MyDomain.my.salesforce.com``), ``access_token`` (SecretStr,
an OAuth access token), ``api_version`` (``v60.0``), ``external_id_field``
(``Hub_Case_Id__c``), ``timeout``.

Docs: ``PROVIDERS.md`` "Downstream / Salesforce"; Salesforce REST API Developer Guide, "Upsert
Records Using sObject Rows by External ID" and "Upsert Up to 200 Records Using sObject
Collections"; "API Request Limits and Allocations".
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Sequence
from functools import partial
from typing import Any
from urllib.parse import quote

import requests
from pydantic import SecretStr, field_validator

from hub.connector import ConnectorConfig
from hub.errors import AuthError, CheckFailed, ConnectorError, RateLimited, TransientError
from hub.http import HttpClient, scrub
from hub.sink import Delivery, DeliveryResult, SinkConnector

__all__ = ["MultipleMatches", "SalesforceConfig", "SalesforceError", "SalesforceSink"]

log = logging.getLogger(__name__)

_VERSION = re.compile(r"^v\d{2,3}\.\d$")
_USAGE = re.compile(r"api-usage=(\d+)/(\d+)")
#: per-record error codes worth another try (everything else is the record's own fault)
_RETRYABLE_CODES = frozenset({"UNABLE_TO_LOCK_ROW", "REQUEST_LIMIT_EXCEEDED", "SERVER_UNAVAILABLE"})


class SalesforceConfig(ConnectorConfig):
    instance_url: str
    access_token: SecretStr
    api_version: str = "v60.0"
    external_id_field: str = "Hub_Case_Id__c"

    @field_validator("api_version")
    @classmethod
    def _version(cls, value: str) -> str:
        value = value if value.startswith("v") else f"v{value}"
        if not _VERSION.match(value):
            msg = f"api_version {value!r} is not like 'v60.0'"
            raise ValueError(msg)
        return value

    @field_validator("external_id_field")
    @classmethod
    def _field(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", value):
            msg = f"external_id_field {value!r} is not a field API name (e.g. Hub_Case_Id__c)"
            raise ValueError(msg)
        return value


class SalesforceError(ConnectorError):
    """A 4xx answer with Salesforce's error list (``status`` and the ``errorCode`` s kept)."""

    def __init__(self, message: str, status: int, codes: set[str]) -> None:
        super().__init__(message)
        self.status = status
        self.codes = codes


class MultipleMatches(ConnectorError):
    """Several records carry the external id (HTTP 300): a data problem someone must resolve."""

    def __init__(self, message: str, ids: list[str]) -> None:
        super().__init__(message)
        self.ids = ids


def _errors(body: Any) -> str:
    """Salesforce's error list as ``CODE: message [fields]; ...``."""
    if isinstance(body, dict):
        body = [body]
    if not isinstance(body, list):
        return str(body)[:300]
    parts = []
    for e in body:
        if not isinstance(e, dict):
            parts.append(str(e))
            continue
        code = e.get("errorCode") or e.get("statusCode") or "ERROR"
        fields = e.get("fields") or []
        parts.append(f"{code}: {e.get('message', '')}" + (f" [{', '.join(fields)}]" if fields else ""))
    return "; ".join(parts)[:1000]


def _json(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


class SalesforceSink(SinkConnector):
    name = "salesforce"
    Config = SalesforceConfig
    max_batch = 200

    def __init__(self) -> None:
        #: the last ``Sforce-Limit-Info`` seen: (calls used in the last 24 h, allowed)
        self.api_usage: tuple[int, int] | None = None

    # -- plumbing ----------------------------------------------------------------------------
    def _client(self, config: SalesforceConfig) -> HttpClient:
        token = config.access_token.get_secret_value()
        client = HttpClient(
            config.instance_url,
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
            timeout=config.timeout,
            attempts=1,  # the outbox retries
            secrets=[token],
        )
        client.session.hooks["response"].append(partial(self._on_response, secrets=[token]))
        return client

    def _on_response(
        self, response: requests.Response, *args: Any, secrets: Sequence[str] = (), **kwargs: Any
    ) -> None:
        """Note the API usage; classify what :class:`HttpClient` would get wrong for Salesforce."""
        match = _USAGE.search(response.headers.get("Sforce-Limit-Info", ""))
        if match:
            used, limit = int(match.group(1)), int(match.group(2))
            self.api_usage = (used, limit)
            if limit and used >= 0.9 * limit:
                log.warning("salesforce: %d of %d API calls of the last 24 h used", used, limit)
        status = response.status_code
        if status < 300 or status >= 500 or status == 429:
            return  # HttpClient's classification is right for these
        where = scrub(f"{response.request.method} {response.url} -> {status}", secrets)
        body = _json(response)
        if status == 300:  # the body lists the matching records' URLs
            urls = [str(u) for u in body] if isinstance(body, list) else []
            ids = [u.rstrip("/").rsplit("/", 1)[-1] for u in urls]
            listed = ", ".join(ids) or response.text[:300]
            raise MultipleMatches(
                scrub(f"{where}: several records match the external id: {listed}", secrets), ids
            )
        if not isinstance(body, list) or not body:
            return
        codes = {str(e.get("errorCode")) for e in body if isinstance(e, dict)}
        if status == 403 and "REQUEST_LIMIT_EXCEEDED" in codes:  # the org's API limit, not credentials
            raise RateLimited(scrub(f"{where}: {_errors(body)}", secrets))
        if status in (401, 403):  # INVALID_SESSION_ID, INSUFFICIENT_ACCESS ...
            raise AuthError(scrub(f"{where}: credentials refused: {_errors(body)}", secrets))
        raise SalesforceError(scrub(f"{where}: {_errors(body)}", secrets), status, codes)

    @staticmethod
    def _base(config: SalesforceConfig) -> str:
        return f"/services/data/{config.api_version}"

    # -- contract ----------------------------------------------------------------------------
    def check(self, config: Any) -> None:
        """Read the org's limits and describe ``Case``: the external id field must exist and be one."""
        client = self._client(config)
        base = self._base(config)
        try:
            client.get_json(f"{base}/limits")
            describe = client.get_json(f"{base}/sobjects/Case/describe")
        except AuthError as exc:
            raise CheckFailed(str(exc), "the access token is expired or lacks the API scope") from None
        except ConnectorError as exc:
            raise CheckFailed(str(exc), "check instance_url and api_version") from None
        fields = {f.get("name"): f for f in describe.get("fields", []) if isinstance(f, dict)}
        field = fields.get(config.external_id_field)
        if field is None:
            raise CheckFailed(
                f"Case has no field {config.external_id_field!r}",
                "create a Text(32) field on Case marked External ID and Unique, visible to the API user",
            )
        if not field.get("externalId"):
            raise CheckFailed(
                f"Case.{config.external_id_field} is not marked External ID",
                "tick External ID (and Unique) on the field, or name another field in external_id_field",
            )

    def deliver(self, config: Any, deliveries: list[Delivery]) -> list[DeliveryResult]:
        client = self._client(config)
        if len(deliveries) == 1:
            return [self._upsert_one(client, config, deliveries[0])]
        return self._upsert_many(client, config, deliveries)

    # -- one record --------------------------------------------------------------------------
    def _upsert_one(self, client: HttpClient, config: SalesforceConfig, d: Delivery) -> DeliveryResult:
        path = f"{self._base(config)}/sobjects/Case/{config.external_id_field}/{quote(d.case_id, safe='')}"
        body = {k: v for k, v in d.fields.items() if k not in (config.external_id_field, "Id")}
        try:
            response = client.request("PATCH", path, json=body)
        except MultipleMatches as exc:
            msg = (
                f"{len(exc.ids) or 'several'} Cases have {config.external_id_field} = {d.case_id} "
                f"({', '.join(exc.ids)}); merge them or clear the field on all but one, then retry"
            )
            return DeliveryResult.failure(d, msg, retryable=False)
        except RateLimited as exc:
            return DeliveryResult.failure(d, str(exc), retryable=True, retry_after=exc.retry_after)
        except AuthError:
            raise  # the whole sink is misconfigured: the core opens the breaker
        except TransientError as exc:
            return DeliveryResult.failure(d, str(exc), retryable=True)
        except ConnectorError as exc:
            return DeliveryResult.failure(d, str(exc), retryable=False)
        result = _json(response) if response.status_code != 204 else None
        if isinstance(result, dict) and result.get("success") is False:
            return DeliveryResult.failure(d, _errors(result.get("errors")), retryable=False)
        record_id = result.get("id") if isinstance(result, dict) else None
        return DeliveryResult.success(d, record_id)

    # -- a batch -----------------------------------------------------------------------------
    def _upsert_many(
        self, client: HttpClient, config: SalesforceConfig, deliveries: list[Delivery]
    ) -> list[DeliveryResult]:
        field = config.external_id_field
        records = [
            {
                "attributes": {"type": "Case"},
                **{k: v for k, v in d.fields.items() if k not in (field, "Id")},
                field: d.case_id,
            }
            for d in deliveries
        ]
        path = f"{self._base(config)}/composite/sobjects/Case/{field}"
        try:
            response = client.request("PATCH", path, json={"allOrNone": False, "records": records})
        except RateLimited as exc:
            return [
                DeliveryResult.failure(d, str(exc), retryable=True, retry_after=exc.retry_after)
                for d in deliveries
            ]
        except AuthError:
            raise
        except TransientError as exc:
            return [DeliveryResult.failure(d, str(exc), retryable=True) for d in deliveries]
        except ConnectorError as exc:
            if isinstance(exc, SalesforceError) and exc.status == 400:  # isolate the bad record
                log.info("salesforce: batch of %d refused (%s); sending one by one", len(deliveries), exc)
                return [self._upsert_one(client, config, d) for d in deliveries]
            return [DeliveryResult.failure(d, str(exc), retryable=False) for d in deliveries]
        results = _json(response)
        if not isinstance(results, list) or len(results) != len(deliveries):
            text = scrub(json.dumps(results)[:300], client.secrets)
            msg = f"PATCH {path}: expected {len(deliveries)} results, got {text}"
            raise TransientError(msg)
        out = []
        for d, r in zip(deliveries, results, strict=True):
            if isinstance(r, dict) and r.get("success"):
                out.append(DeliveryResult.success(d, r.get("id")))
                continue
            errors = r.get("errors") if isinstance(r, dict) else r
            codes = {e.get("statusCode") or e.get("errorCode") for e in errors or [] if isinstance(e, dict)}
            retryable = bool(codes) and codes <= _RETRYABLE_CODES
            out.append(DeliveryResult.failure(d, f"Case {d.case_id}: {_errors(errors)}", retryable=retryable))
        return out
