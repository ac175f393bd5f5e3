"""ERPNext (Frappe) sink: one ``Issue`` per case, deduplicated by a unique custom field.

Per delivery (``max_batch`` 1):

- **No Issue linked yet**: ``POST /api/resource/Issue`` with the mapped fields and the unique
  custom field (``unique_field``, e.g. ``hub_case_id``) set to the case id; the answer's
  ``data.name`` (``ISS-2026-00001``) becomes the case's external id. When the unique field
  already holds this case (a previous create whose response was lost), Frappe refuses the
  insert: 409 ``DuplicateEntryError`` (or 417 ``UniqueValidationError``, which some Frappe
  versions raise for a unique non-name column). The sink then looks the Issue up with
  ``GET /api/resource/Issue?filters=[["hub_case_id","=","C-..."]]`` and links it.
- **Linked**: ``PUT /api/resource/Issue/{name}`` with the mapped ``update_fields``
  (priority, status) and ``POST /api/resource/Comment`` (``reference_doctype`` Issue,
  ``reference_name``, ``content``) describing the change. The comment ends with a marker
  ``[hub C-000123 #3 evt_…]``; the sink looks for it before posting so a redelivery after a
  lost response posts no second comment (``dedupe_comments``).

Errors: 429 waits ``Retry-After``; 5xx and timeouts are retried; 401/403 raise
:class:`~hub.errors.AuthError`; 417 validation errors and other 4xx go to dead letter at
once with the response body.

The mapping's ``description`` is plain text; it is sent as HTML (escaped, line breaks kept).

Config: ``base_url``, ``api_key`` + ``api_secret`` (``Authorization: token key:secret``),
``unique_field``, ``update_fields``, ``dedupe_comments``, ``timeout``.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import quote

from pydantic import Field, SecretStr, field_validator

from hub.case_comments import describe_change, event_marker, status_of, text_to_html
from hub.connector import ConnectorConfig
from hub.errors import AuthError, CheckFailed, ConnectorError, TransientError
from hub.http import HttpClient
from hub.sink import Delivery, DeliveryResult, SinkConnector, deliver_each

__all__ = ["ERPNextConfig", "ERPNextSink", "comment_payload", "issue_payload"]

_FIELD = re.compile(r"[a-z_][a-z0-9_]*")


class ERPNextConfig(ConnectorConfig):
    base_url: str
    api_key: SecretStr
    api_secret: SecretStr
    #: the Issue's custom field (Unique ticked) that holds the hub's case id
    unique_field: str = "hub_case_id"
    #: mapped fields sent again with every update
    update_fields: list[str] = Field(default_factory=lambda: ["priority", "status"])
    #: look for the event's comment before posting so a redelivery adds no second one
    dedupe_comments: bool = True
    timeout: float = 30.0

    @field_validator("unique_field")
    @classmethod
    def _fieldname(cls, value: str) -> str:
        if not _FIELD.fullmatch(value):
            msg = "must be a Frappe fieldname such as 'hub_case_id' (lower case, digits, _)"
            raise ValueError(msg)
        return value


def issue_payload(fields: dict[str, Any], *, case_id: str, unique_field: str) -> dict[str, Any]:
    """``POST /api/resource/Issue`` body for a case's mapped fields."""
    doc = dict(fields)
    doc.setdefault("subject", f"Complaint {case_id}")
    if "description" in doc:
        doc["description"] = text_to_html(str(doc["description"]))
    doc[unique_field] = case_id
    return doc


def comment_payload(issue: str, content: str) -> dict[str, Any]:
    """``POST /api/resource/Comment`` body: a comment on the Issue's timeline."""
    return {
        "comment_type": "Comment",
        "reference_doctype": "Issue",
        "reference_name": issue,
        "content": text_to_html(content),
    }


class ERPNextSink(SinkConnector):
    name = "erpnext"
    Config = ERPNextConfig
    max_batch = 1

    def _client(self, config: ERPNextConfig) -> HttpClient:
        key, secret = config.api_key.get_secret_value(), config.api_secret.get_secret_value()
        return HttpClient(
            config.base_url,
            headers={"Authorization": f"token {key}:{secret}", "Accept": "application/json"},
            timeout=config.timeout,
            attempts=1,
            secrets=[key, secret],
        )

    def check(self, config: Any) -> None:
        """Who am I, and does the Issue have the unique field?"""
        client = self._client(config)
        try:
            client.get_json("/api/method/frappe.auth.get_logged_user")
        except AuthError as exc:
            raise CheckFailed(str(exc), "check api_key and api_secret (User → API Access)") from None
        except ConnectorError as exc:
            raise CheckFailed(str(exc), "check base_url") from None
        try:
            client.get_json(
                "/api/resource/Issue",
                params={"fields": json.dumps(["name", config.unique_field]), "limit_page_length": 1},
            )
        except ConnectorError as exc:
            raise CheckFailed(
                str(exc),
                f"add a custom field {config.unique_field!r} (Data, Unique) to Issue, "
                "and give the API user read/write on Issue",
            ) from None

    def deliver(self, config: Any, deliveries: list[Delivery]) -> list[DeliveryResult]:
        client = self._client(config)
        return deliver_each(deliveries, lambda d: self._deliver(client, config, d))

    def _deliver(self, client: HttpClient, config: ERPNextConfig, d: Delivery) -> str:
        name = d.external_id
        if name is None:
            created, name = self._create(client, config, d)
            if created or d.type == "case.created":
                return name
        self._update(client, config, d, name)
        return name

    def _create(self, client: HttpClient, config: ERPNextConfig, d: Delivery) -> tuple[bool, str]:
        """(True, name) for a new Issue, (False, name) when the case's Issue already existed."""
        doc = issue_payload(d.fields, case_id=d.case_id, unique_field=config.unique_field)
        try:
            response = client.request("POST", "/api/resource/Issue", json=doc)
        except ConnectorError as exc:
            if isinstance(exc, TransientError | AuthError) or status_of(exc) not in (409, 417):
                raise
            # 409 DuplicateEntryError / 417 UniqueValidationError: is it this case's Issue?
            found = self._find(client, config, d.case_id)
            if found is None:
                raise
            return False, found
        try:
            return True, str(response.json()["data"]["name"])
        except (ValueError, KeyError, TypeError):
            msg = f"POST /api/resource/Issue: answer without data.name: {response.text[:200]}"
            raise TransientError(msg) from None

    @staticmethod
    def _find(client: HttpClient, config: ERPNextConfig, case_id: str) -> str | None:
        """The oldest Issue whose unique field holds the case id."""
        data = client.get_json(
            "/api/resource/Issue",
            params={
                "filters": json.dumps([[config.unique_field, "=", case_id]]),
                "fields": json.dumps(["name"]),
                "order_by": "creation asc",
                "limit_page_length": 1,
            },
        )
        rows = (data or {}).get("data") or []
        return str(rows[0]["name"]) if rows else None

    def _update(self, client: HttpClient, config: ERPNextConfig, d: Delivery, name: str) -> None:
        changes = {k: d.fields[k] for k in config.update_fields if k in d.fields}
        if "description" in changes:
            changes["description"] = text_to_html(str(changes["description"]))
        if changes:
            client.request("PUT", f"/api/resource/Issue/{quote(name, safe='')}", json=changes)
        if config.dedupe_comments and self._has_comment(client, name, d):
            return
        client.request("POST", "/api/resource/Comment", json=comment_payload(name, describe_change(d)))

    @staticmethod
    def _has_comment(client: HttpClient, name: str, d: Delivery) -> bool:
        data = client.get_json(
            "/api/resource/Comment",
            params={
                "filters": json.dumps(
                    [
                        ["reference_doctype", "=", "Issue"],
                        ["reference_name", "=", name],
                        ["content", "like", f"%{event_marker(d)}%"],
                    ]
                ),
                "fields": json.dumps(["name"]),
                "limit_page_length": 1,
            },
        )
        return bool((data or {}).get("data"))
