"""Zendesk Support sink: one ticket per case, every later change as a ticket comment.

Per delivery (``max_batch`` 1):

- **No ticket linked yet** ("match once then link"): ``GET /api/v2/tickets?external_id=<case id>``.
  Zendesk does not keep ``external_id`` unique, so the oldest match wins. With no match,
  ``POST /api/v2/tickets`` with ``Idempotency-Key: <event id>`` and ``external_id: <case id>``;
  the ticket id becomes the case's external id. A replay of the same key and body answers
  with the original ticket (``x-idempotency-lookup: hit``); the same key with another body
  is a 400 ``IdempotentRequestError`` (the ticket is then looked up once more, and if it is
  still missing the row goes to dead letter with the body).
- **Linked**: ``PUT /api/v2/tickets/{id}`` with a comment (public or private,
  ``comment_public``) describing the change, plus ``priority``/``status``/``tags`` from the
  mapping (``update_fields``; tags are added with ``additional_tags`` so agents' tags stay).

Every comment ends with a marker line ``[hub C-000123 #3 evt_…]``. Before a PUT the sink
reads the ticket's latest comments and skips the PUT if the marker is there already: a
redelivery after a lost response adds no second comment (``dedupe_comments``).

Errors: 429 waits ``Retry-After``; 5xx, timeouts and dropped connections are retried by the
outbox; 401/403 raise :class:`~hub.errors.AuthError` (the whole call failed: the outbox
opens the sink's circuit); 422 ``RecordInvalid`` and other 4xx go to dead letter at once
with the response body.

Mapping fields (``mappings/zendesk.yaml``) are Zendesk ticket attributes, except
``description`` (the first comment's body), ``requester_name`` and ``requester_email``
(the ``requester`` object). ``tags`` may be a list or a space/comma separated string.

Config: ``subdomain`` (or ``base_url``), ``email`` + ``api_token`` (Basic
``{email}/token:{api_token}``) or ``oauth_token`` (Bearer), ``comment_public``,
``update_fields``, ``dedupe_comments``, ``timeout``.

The helpers :func:`describe_change` and :func:`event_marker` are shared by the other
ticketing sinks (ERPNext, Odoo).
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any

from pydantic import Field, SecretStr, field_validator, model_validator
from requests.auth import HTTPBasicAuth

from hub.case_comments import describe_change, event_marker, status_of
from hub.connector import ConnectorConfig
from hub.errors import AuthError, CheckFailed, ConnectorError, TransientError
from hub.http import HttpClient
from hub.sink import Delivery, DeliveryResult, SinkConnector, deliver_each

__all__ = [
    "ZendeskConfig",
    "ZendeskSink",
    "create_payload",
    "update_payload",
]

log = logging.getLogger(__name__)

#: mapping fields that are not ticket attributes but build the first comment and the requester
_SPECIAL = frozenset({"description", "requester_name", "requester_email"})


# -- configuration ---------------------------------------------------------------------------
class ZendeskConfig(ConnectorConfig):
    #: ``acme`` for https://acme.zendesk.com (or give ``base_url``)
    subdomain: str | None = None
    base_url: str | None = None
    email: str | None = None
    api_token: SecretStr | None = None
    oauth_token: SecretStr | None = None
    #: comments the hub adds are visible to the requester (default: internal notes)
    comment_public: bool = False
    #: mapped fields sent again with every update (tags are added, never replaced)
    update_fields: list[str] = Field(default_factory=lambda: ["priority", "status", "tags"])
    #: read the latest comments before an update so a redelivery adds no second comment
    dedupe_comments: bool = True
    timeout: float = 30.0

    @field_validator("subdomain")
    @classmethod
    def _subdomain(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[a-z0-9][a-z0-9-]*", value):
            msg = "must be the bare subdomain, e.g. 'acme' for https://acme.zendesk.com"
            raise ValueError(msg)
        return value

    @model_validator(mode="after")
    def _complete(self) -> ZendeskConfig:
        if not self.subdomain and not self.base_url:
            msg = "give subdomain (e.g. 'acme') or base_url"
            raise ValueError(msg)
        if self.oauth_token is None and not (self.email and self.api_token):
            msg = "give email and api_token (API token auth), or oauth_token"
            raise ValueError(msg)
        return self

    @property
    def url(self) -> str:
        return (self.base_url or f"https://{self.subdomain}.zendesk.com").rstrip("/")


# -- request bodies ----------------------------------------------------------------------------
def _tags(value: Any) -> list[str]:
    items = value if isinstance(value, list) else re.split(r"[\s,]+", str(value))
    seen: dict[str, None] = {}
    for item in items:
        tag = re.sub(r"\s+", "_", str(item).strip().lower())
        if tag:
            seen[tag] = None
    return list(seen)


def create_payload(fields: dict[str, Any], *, case_id: str, public: bool) -> dict[str, Any]:
    """``POST /api/v2/tickets`` body for a case's mapped fields."""
    ticket = {k: v for k, v in fields.items() if k not in _SPECIAL}
    ticket.setdefault("subject", f"Complaint {case_id}")
    if "tags" in ticket:
        ticket["tags"] = _tags(ticket["tags"])
    body = str(fields.get("description") or ticket["subject"])
    ticket["comment"] = {"body": body, "public": public}
    email = fields.get("requester_email")
    if email:
        ticket["requester"] = {"name": str(fields.get("requester_name") or email), "email": str(email)}
    ticket["external_id"] = case_id
    return {"ticket": ticket}


def update_payload(
    fields: dict[str, Any], *, comment: str, public: bool, update_fields: list[str]
) -> dict[str, Any]:
    """``PUT /api/v2/tickets/{id}`` body: the comment plus the mapped fields named in ``update_fields``."""
    ticket: dict[str, Any] = {k: fields[k] for k in update_fields if k in fields and k not in _SPECIAL}
    if "tags" in ticket:
        ticket["additional_tags"] = _tags(ticket.pop("tags"))
    if ticket.get("status") == "new":  # a ticket cannot go back to new; reopened means open
        ticket["status"] = "open"
    ticket["comment"] = {"body": comment, "public": public}
    return {"ticket": ticket}


# -- the sink ------------------------------------------------------------------------------------
class ZendeskSink(SinkConnector):
    name = "zendesk"
    Config = ZendeskConfig
    max_batch = 1

    def _client(self, config: ZendeskConfig) -> HttpClient:
        secrets = [s.get_secret_value() for s in (config.api_token, config.oauth_token) if s is not None]
        headers = {"Accept": "application/json"}
        auth = None
        if config.oauth_token is not None:
            headers["Authorization"] = f"Bearer {config.oauth_token.get_secret_value()}"
        else:
            assert config.email and config.api_token
            auth = HTTPBasicAuth(f"{config.email}/token", config.api_token.get_secret_value())
        return HttpClient(
            config.url, auth=auth, headers=headers, timeout=config.timeout, attempts=1, secrets=secrets
        )

    def check(self, config: Any) -> None:
        """``GET /api/v2/users/me``: the credentials must name a real user."""
        try:
            data = self._client(config).get_json("/api/v2/users/me")
        except AuthError as exc:
            raise CheckFailed(str(exc), "check email + api_token (or oauth_token)") from None
        except ConnectorError as exc:
            raise CheckFailed(str(exc), "check subdomain / base_url") from None
        user = (data or {}).get("user") or {}
        if not user.get("id"):
            raise CheckFailed("Zendesk answered as an anonymous user", "check email + api_token")

    def deliver(self, config: Any, deliveries: list[Delivery]) -> list[DeliveryResult]:
        client = self._client(config)
        return deliver_each(deliveries, lambda d: self._deliver(client, config, d))

    def _deliver(self, client: HttpClient, config: ZendeskConfig, d: Delivery) -> str:
        ticket_id = d.external_id
        if ticket_id is None:
            ticket_id = self._find(client, d.case_id)
            if ticket_id is None:
                return self._create(client, config, d)
            if d.type == "case.created":  # created earlier, its response lost: link it
                return ticket_id
        self._update(client, config, d, ticket_id)
        return ticket_id

    @staticmethod
    def _find(client: HttpClient, case_id: str) -> str | None:
        """The oldest ticket whose ``external_id`` is the case id."""
        data = client.get_json("/api/v2/tickets", params={"external_id": case_id})
        tickets = [t for t in (data or {}).get("tickets") or [] if t.get("external_id") == case_id]
        if not tickets:
            return None
        oldest = min(tickets, key=lambda t: (str(t.get("created_at") or ""), int(t["id"])))
        return str(oldest["id"])

    def _create(self, client: HttpClient, config: ZendeskConfig, d: Delivery) -> str:
        payload = create_payload(d.fields, case_id=d.case_id, public=config.comment_public)
        body = json.dumps(payload, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()
        headers = {"Content-Type": "application/json", "Idempotency-Key": d.event_id}
        try:
            response = client.request("POST", "/api/v2/tickets", data=body, headers=headers)
        except ConnectorError as exc:
            if status_of(exc) != 400 or isinstance(exc, TransientError | AuthError):
                raise
            # IdempotentRequestError: this event created a ticket with another body; find it
            found = self._find(client, d.case_id)
            if found is None:
                raise
            return found
        if response.headers.get("x-idempotency-lookup") == "hit":
            log.debug("zendesk: ticket for %s replayed from the idempotency key", d.case_id)
        try:
            return str(response.json()["ticket"]["id"])
        except (ValueError, KeyError, TypeError):
            msg = f"POST /api/v2/tickets: answer without a ticket id: {response.text[:200]}"
            raise TransientError(msg) from None

    def _update(self, client: HttpClient, config: ZendeskConfig, d: Delivery, ticket_id: str) -> None:
        marker = event_marker(d)
        if config.dedupe_comments and self._has_comment(client, ticket_id, marker):
            return
        payload = update_payload(
            d.fields,
            comment=describe_change(d),
            public=config.comment_public,
            update_fields=config.update_fields,
        )
        client.request("PUT", f"/api/v2/tickets/{ticket_id}", json=payload)

    @staticmethod
    def _has_comment(client: HttpClient, ticket_id: str, marker: str) -> bool:
        data = client.get_json(f"/api/v2/tickets/{ticket_id}/comments", params={"sort_order": "desc"})
        return any(
            marker in str(c.get("body") or c.get("plain_body") or "")
            for c in (data or {}).get("comments") or []
        )
