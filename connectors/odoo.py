"""Odoo Helpdesk sink: one ``helpdesk.ticket`` per case over JSON-RPC, updates as chatter notes.

Every call is ``POST /jsonrpc`` with ``{"jsonrpc": "2.0", "method": "call", "params":
{"service": "object", "method": "execute_kw", "args": [db, uid, api_key, "helpdesk.ticket",
method, args, kwargs]}}``. Odoo answers errors with HTTP 200 and an ``error`` object
(``{"code": 200, "message": "Odoo Server Error", "data": {"name", "message", ...}}``):
``AccessDenied``/``AccessError`` and an expired session (code 100) are
:class:`~hub.errors.AuthError`; database contention (serialization failures, locks) and
messages saying the failure is temporary are :class:`~hub.errors.TransientError`; anything
else (``ValidationError``, ``UserError``, an unknown field, ``MissingError``) goes to dead
letter at once with the message.

Per delivery (``max_batch`` 1):

- **No ticket linked yet**: ``search_read`` by the external-id field (``x_hub_case_id``,
  archived tickets included; the oldest match wins), then ``create`` when there is none. A
  redelivery after a lost ``create`` response finds the ticket and links it.
- **Linked**: ``write`` the mapped ``update_fields`` (priority, stage) and ``message_post``
  an internal note describing the change. The note ends with a marker ``[hub C-000123 #3
  evt_…]``; the sink counts ``mail.message`` rows holding it before posting, so a redelivery
  posts no second note (``dedupe_comments``).

``stage_id`` in the mapping may be a stage id or a stage name (``In Progress``): names are
looked up in ``helpdesk.stage`` once per process. ``description`` is plain text and sent as
HTML.

Config: ``base_url``, ``db``, ``uid`` (or ``login``, then ``common.authenticate`` finds
it), ``api_key``, ``external_id_field``, ``update_fields``, ``dedupe_comments``,
``body_is_html`` (pass ``body_is_html=True`` to ``message_post``; Odoo 17.2 and later),
``timeout``.
"""

from __future__ import annotations

import itertools
import re
from typing import Any

from pydantic import Field, SecretStr, field_validator, model_validator

from hub.case_comments import describe_change, event_marker, text_to_html
from hub.connector import ConnectorConfig
from hub.errors import AuthError, CheckFailed, ConnectorError, TransientError
from hub.http import HttpClient, scrub
from hub.sink import Delivery, DeliveryResult, SinkConnector, deliver_each

__all__ = ["OdooConfig", "OdooSink", "classify_error", "rpc_payload", "ticket_values"]

MODEL = "helpdesk.ticket"
_FIELD = re.compile(r"[a-z_][a-z0-9_]*")
_AUTH = ("AccessDenied", "AccessError", "SessionExpired")
_TEMPORARY_NAMES = (
    "OperationalError",
    "SerializationFailure",
    "TransactionRollbackError",
    "LockNotAvailable",
    "ConcurrencyError",
)
_TEMPORARY_TEXT = re.compile(
    r"temporar|try again|retry later|could not serialize|concurrent update|could not obtain lock|"
    r"deadlock|too many requests",
    re.IGNORECASE,
)
_ids = itertools.count(1)


class OdooConfig(ConnectorConfig):
    base_url: str
    db: str
    #: the API user's id; or give ``login`` and the sink authenticates once per process
    uid: int | None = None
    login: str | None = None
    api_key: SecretStr
    #: the ticket's custom field (e.g. added with Studio) holding the hub's case id
    external_id_field: str = "x_hub_case_id"
    #: mapped fields written again with every update
    update_fields: list[str] = Field(default_factory=lambda: ["priority", "stage_id"])
    #: look for the event's note before posting so a redelivery adds no second one
    dedupe_comments: bool = True
    #: pass ``body_is_html=True`` to ``message_post`` (Odoo ≥ 17.2 escapes a plain string body)
    body_is_html: bool = True
    timeout: float = 30.0

    @field_validator("external_id_field")
    @classmethod
    def _fieldname(cls, value: str) -> str:
        if not _FIELD.fullmatch(value):
            msg = "must be an Odoo field name such as 'x_hub_case_id'"
            raise ValueError(msg)
        return value

    @model_validator(mode="after")
    def _who(self) -> OdooConfig:
        if self.uid is None and not self.login:
            msg = "give uid (the API user's id) or login"
            raise ValueError(msg)
        return self


def rpc_payload(service: str, method: str, args: list[Any]) -> dict[str, Any]:
    """The JSON-RPC 2.0 envelope Odoo's ``/jsonrpc`` endpoint takes."""
    return {
        "jsonrpc": "2.0",
        "method": "call",
        "params": {"service": service, "method": method, "args": args},
        "id": next(_ids),
    }


def ticket_values(fields: dict[str, Any], *, case_id: str, external_id_field: str) -> dict[str, Any]:
    """``create`` values for a case's mapped fields (stage names are resolved by the sink)."""
    vals = dict(fields)
    vals.setdefault("name", f"Complaint {case_id}")
    if "description" in vals:
        vals["description"] = text_to_html(str(vals["description"]))
    vals[external_id_field] = case_id
    return vals


def classify_error(error: dict[str, Any], what: str, secrets: list[str]) -> ConnectorError:
    """An Odoo JSON-RPC ``error`` object as the hub's error class (the traceback left out)."""
    data = error.get("data") if isinstance(error.get("data"), dict) else {}
    assert isinstance(data, dict)
    name = str(data.get("name") or "")
    message = str(data.get("message") or error.get("message") or "error")
    text = scrub(f"{what}: {name or error.get('message')}: {message}"[:500], secrets)
    if error.get("code") == 100 or any(n in name for n in _AUTH):
        return AuthError(text)
    if any(n in name for n in _TEMPORARY_NAMES) or _TEMPORARY_TEXT.search(message):
        return TransientError(text)
    return ConnectorError(text)


class OdooSink(SinkConnector):
    name = "odoo"
    Config = OdooConfig
    max_batch = 1

    def __init__(self) -> None:
        self._uids: dict[tuple[str, str, str], int] = {}
        self._stages: dict[tuple[str, str, str], int] = {}

    # -- JSON-RPC --------------------------------------------------------------------------------
    def _client(self, config: OdooConfig) -> HttpClient:
        return HttpClient(
            config.base_url,
            headers={"Accept": "application/json"},
            timeout=config.timeout,
            attempts=1,
            secrets=[config.api_key.get_secret_value()],
        )

    @staticmethod
    def _call(client: HttpClient, config: OdooConfig, service: str, method: str, args: list[Any]) -> Any:
        what = f"{service}.{method}" if service != "object" else f"{args[3]}.{args[4]}"
        response = client.request("POST", "/jsonrpc", json=rpc_payload(service, method, args))
        try:
            body = response.json()
        except ValueError:
            msg = f"POST /jsonrpc ({what}): answer is not JSON: {scrub(response.text[:200], client.secrets)}"
            raise TransientError(msg) from None
        if not isinstance(body, dict):
            msg = f"POST /jsonrpc ({what}): unexpected answer: {scrub(response.text[:200], client.secrets)}"
            raise TransientError(msg)
        if body.get("error") is not None:
            error = body["error"] if isinstance(body["error"], dict) else {"message": str(body["error"])}
            raise classify_error(error, what, [config.api_key.get_secret_value()])
        return body.get("result")

    def _uid(self, client: HttpClient, config: OdooConfig) -> int:
        if config.uid is not None:
            return config.uid
        assert config.login
        key = (config.base_url, config.db, config.login)
        if key not in self._uids:
            uid = self._call(
                client,
                config,
                "common",
                "authenticate",
                [config.db, config.login, config.api_key.get_secret_value(), {}],
            )
            if not isinstance(uid, int) or isinstance(uid, bool) or uid <= 0:
                msg = f"common.authenticate: Odoo refused login {config.login!r} on database {config.db!r}"
                raise AuthError(msg)
            self._uids[key] = uid
        return self._uids[key]

    def _execute(
        self,
        client: HttpClient,
        config: OdooConfig,
        model: str,
        method: str,
        args: list[Any],
        kwargs: dict[str, Any] | None = None,
    ) -> Any:
        uid = self._uid(client, config)
        secret = config.api_key.get_secret_value()
        return self._call(
            client,
            config,
            "object",
            "execute_kw",
            [config.db, uid, secret, model, method, args, kwargs or {}],
        )

    # -- the sink contract -----------------------------------------------------------------------
    def check(self, config: Any) -> None:
        """``common.version``, then authenticate and find the external-id field on tickets."""
        client = self._client(config)
        try:
            self._call(client, config, "common", "version", [])
        except ConnectorError as exc:
            raise CheckFailed(str(exc), "check base_url (the Odoo server, without /jsonrpc)") from None
        try:
            found = self._execute(
                client, config, MODEL, "fields_get", [[config.external_id_field]], {"attributes": ["type"]}
            )
        except AuthError as exc:
            raise CheckFailed(str(exc), "check db, uid/login and api_key") from None
        except ConnectorError as exc:
            raise CheckFailed(
                str(exc), "is the Helpdesk app installed, and may the user read tickets?"
            ) from None
        if config.external_id_field not in (found or {}):
            raise CheckFailed(
                f"helpdesk.ticket has no field {config.external_id_field!r}",
                "add it (Char) with Studio or a module, or set external_id_field",
            )

    def deliver(self, config: Any, deliveries: list[Delivery]) -> list[DeliveryResult]:
        client = self._client(config)
        return deliver_each(deliveries, lambda d: str(self._deliver(client, config, d)))

    def _deliver(self, client: HttpClient, config: OdooConfig, d: Delivery) -> int:
        if d.external_id is not None:
            try:
                ticket = int(d.external_id)
            except ValueError:
                msg = f"linked external id {d.external_id!r} is not an Odoo record id"
                raise ConnectorError(msg) from None
        else:
            found = self._find(client, config, d.case_id)
            if found is None:
                vals = ticket_values(d.fields, case_id=d.case_id, external_id_field=config.external_id_field)
                created = self._execute(
                    client, config, MODEL, "create", [self._resolve(client, config, vals)]
                )
                if isinstance(created, list):  # a list of ids when given a list of values
                    created = created[0]
                return int(created)
            ticket = found
            if d.type == "case.created":
                return ticket
        self._update(client, config, d, ticket)
        return ticket

    def _find(self, client: HttpClient, config: OdooConfig, case_id: str) -> int | None:
        rows = self._execute(
            client,
            config,
            MODEL,
            "search_read",
            [[[config.external_id_field, "=", case_id]]],
            {"fields": ["id"], "order": "id asc", "limit": 1, "context": {"active_test": False}},
        )
        return int(rows[0]["id"]) if rows else None

    def _resolve(self, client: HttpClient, config: OdooConfig, vals: dict[str, Any]) -> dict[str, Any]:
        """Stage names to ``helpdesk.stage`` ids."""
        stage = vals.get("stage_id")
        if isinstance(stage, str) and not stage.isdigit():
            key = (config.base_url, config.db, stage)
            if key not in self._stages:
                domain = [["name", "=", stage]]
                rows = self._execute(
                    client, config, "helpdesk.stage", "search_read", [domain], {"fields": ["id"], "limit": 1}
                )
                if not rows:
                    msg = f"helpdesk.stage: no stage named {stage!r} (fix the mapping's stage_id map)"
                    raise ConnectorError(msg)
                self._stages[key] = int(rows[0]["id"])
            vals = {**vals, "stage_id": self._stages[key]}
        elif isinstance(stage, str):
            vals = {**vals, "stage_id": int(stage)}
        return vals

    def _update(self, client: HttpClient, config: OdooConfig, d: Delivery, ticket: int) -> None:
        changes = {k: d.fields[k] for k in config.update_fields if k in d.fields}
        if "description" in changes:
            changes["description"] = text_to_html(str(changes["description"]))
        if changes:
            self._execute(client, config, MODEL, "write", [[ticket], self._resolve(client, config, changes)])
        marker = event_marker(d)
        if config.dedupe_comments:
            count = self._execute(
                client,
                config,
                "mail.message",
                "search_count",
                [[["model", "=", MODEL], ["res_id", "=", ticket], ["body", "ilike", marker]]],
            )
            if count:
                return
        kwargs: dict[str, Any] = {
            "body": text_to_html(describe_change(d)),
            "message_type": "comment",
            "subtype_xmlid": "mail.mt_note",
        }
        if config.body_is_html:
            kwargs["body_is_html"] = True
        self._execute(client, config, MODEL, "message_post", [[ticket]], kwargs)
