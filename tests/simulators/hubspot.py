"""HubSpot CRM tickets v3, as the official OpenAPI spec (``specs/hubspot-crm-tickets-v3.json``) describes it.

Serves:

- ``POST /crm/v3/objects/tickets/batch/upsert`` ``{"inputs": [{"idProperty", "id",
  "objectWriteTraceId"?, "properties"}]}``: at most 100 inputs (else 400); ``idProperty`` must
  name a property with unique values (else 400 "non-unique property"); ids unique within the
  batch. Each input creates or updates the ticket whose ``idProperty`` equals ``id``. Answer 200
  ``BatchResponseSimplePublicUpsertObject`` when all inputs were written, else 207
  ``...WithErrors``: ``results[]`` for the written inputs, ``errors[]`` (``StandardError``, with
  ``context.ids`` and ``context.objectWriteTraceId``) for the others, ``numErrors``;
- ``POST /crm/v3/objects/tickets`` (201; 409 ``CONFLICT`` on a taken unique value),
  ``PATCH /crm/v3/objects/tickets/{ticketId}[?idProperty=]`` (200; 404), ``GET`` of one ticket
  and of the list (``limit``, ``after``), ``GET /crm/v3/properties/tickets/{name}``.

Checks like HubSpot: bearer token (401 ``INVALID_AUTHENTICATION``), known properties
(``PROPERTY_DOESNT_EXIST``), enumerations (``INVALID_OPTION``: ``hs_ticket_priority``
LOW/MEDIUM/HIGH, ``hs_pipeline`` "0", ``hs_pipeline_stage`` 1–4), read-only properties,
``hs_pipeline_stage`` required on create. Errors are ``{"status": "error", "message",
"correlationId", "category", ...}``.

Rate limit: ``rate_limit`` calls per ``interval_ms`` window; every answer carries
``X-HubSpot-RateLimit-Max/-Remaining/-Interval-Milliseconds/-Daily/-Daily-Remaining``; over the
limit the answer is 429 with HubSpot's body and those headers and **no** ``Retry-After``
(:meth:`HubSpotSimulator.throttled` builds one for ``fail_next``).

For assertions: :attr:`records` (ticket id → properties), :meth:`by_property`,
:attr:`created`, :attr:`updated`, :attr:`history` (every write per ticket, in order),
:meth:`duplicates`, :attr:`exchanges` (request and reply of every handled call, to validate
against the spec). :meth:`answer_late` makes the next requests take effect but answer late (a
response lost to a client timeout); :attr:`latency` delays every answer.
"""

from __future__ import annotations

import itertools
import json
import time
import uuid
from collections import deque
from datetime import UTC, datetime
from typing import Any

from tests.simulators.base import Recorded, Reply, Simulator

__all__ = ["PROPERTIES", "HubSpotSimulator"]

#: ticket properties: name → allowed values (None: free text)
PROPERTIES: dict[str, frozenset[str] | None] = {
    "subject": None,
    "content": None,
    "hs_pipeline": frozenset({"0"}),
    "hs_pipeline_stage": frozenset({"1", "2", "3", "4"}),
    "hs_ticket_priority": frozenset({"LOW", "MEDIUM", "HIGH"}),
    "hs_ticket_category": frozenset({"PRODUCT_ISSUE", "BILLING_ISSUE", "FEATURE_REQUEST", "GENERAL_INQUIRY"}),
    "source_type": frozenset({"EMAIL", "CHAT", "PHONE", "FORM"}),
    "hubspot_owner_id": None,
}
READ_ONLY = ("hs_object_id", "createdate", "hs_lastmodifieddate")
TICKETS = "/crm/v3/objects/tickets"
OBJECT_TYPE = "0-5"  # HubSpot's object type id of tickets


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def error_body(category: str, message: str, **extra: Any) -> dict[str, Any]:
    """HubSpot's error body (the spec's ``Error``)."""
    return {
        "status": "error",
        "message": message,
        "correlationId": str(uuid.uuid4()),
        "category": category,
        **extra,
    }


class HubSpotSimulator(Simulator):
    def __init__(
        self,
        token: str = "pat-na1-11111111-2222-3333-4444-555555555555",
        *,
        unique_properties: tuple[str, ...] = ("hub_case_id",),
        custom_properties: tuple[str, ...] = (),
        rate_limit: int = 190,
        interval_ms: int = 10_000,
        daily_limit: int = 1_000_000,
        latency: float = 0.0,
        portal_id: int = 24681357,
    ) -> None:
        super().__init__()
        self.token = token
        self.unique = set(unique_properties)
        self.properties: dict[str, frozenset[str] | None] = {
            **PROPERTIES,
            **dict.fromkeys(unique_properties),
            **dict.fromkeys(custom_properties),
        }
        self.rate_limit = rate_limit
        self.interval_ms = interval_ms
        self.daily_limit = daily_limit
        self.daily_used = 0
        self.latency = latency
        self.portal_id = portal_id
        self.records: dict[str, dict[str, str]] = {}
        self.history: dict[str, list[dict[str, str]]] = {}
        self.created_at: dict[str, str] = {}
        self.created = 0
        self.updated = 0
        self.throttled_count = 0
        self.exchanges: list[tuple[Recorded, Reply]] = []
        self.late: deque[float] = deque()
        self._window: deque[float] = deque()
        self._ids = itertools.count(1_000_000_001)

    # -- scripting and assertions ----------------------------------------------------------
    def answer_late(self, *delays: float) -> None:
        """The next requests take effect, but their answers come ``delay`` seconds later."""
        with self.lock:
            self.late.extend(delays)

    def throttled(self) -> Reply:
        """HubSpot's 429 for the ten-second window (no ``Retry-After``, as HubSpot sends it)."""
        body = error_body(
            "RATE_LIMITS",
            "You have reached your ten_secondly_rolling limit.",
            errorType="RATE_LIMIT",
            policyName="TEN_SECONDLY_ROLLING",
            groupName=f"publicapi:private-app:{self.portal_id}",
        )
        return Reply.json(body, 429, self._limit_headers(remaining=0))

    def by_property(self, name: str = "hub_case_id") -> dict[str, list[dict[str, str]]]:
        """Property value → the tickets carrying it (more than one is a duplicate)."""
        out: dict[str, list[dict[str, str]]] = {}
        for props in self.records.values():
            if props.get(name):
                out.setdefault(props[name], []).append(props)
        return out

    def duplicates(self, name: str = "hub_case_id") -> int:
        return sum(len(v) - 1 for v in self.by_property(name).values())

    # -- HTTP ------------------------------------------------------------------------------
    def handle(self, request: Recorded) -> Reply:
        with self.lock:
            reply = self._route(request)
            self.exchanges.append((request, reply))
            if self.late:
                reply.delay = self.late.popleft()
            elif self.latency:
                reply.delay = self.latency
            return reply

    def _limit_headers(self, remaining: int) -> dict[str, str]:
        return {
            "X-HubSpot-RateLimit-Interval-Milliseconds": str(self.interval_ms),
            "X-HubSpot-RateLimit-Max": str(self.rate_limit),
            "X-HubSpot-RateLimit-Remaining": str(max(0, remaining)),
            "X-HubSpot-RateLimit-Daily": str(self.daily_limit),
            "X-HubSpot-RateLimit-Daily-Remaining": str(max(0, self.daily_limit - self.daily_used)),
        }

    def _route(self, request: Recorded) -> Reply:
        if request.headers.get("authorization") != f"Bearer {self.token}":
            return Reply.json(
                error_body(
                    "INVALID_AUTHENTICATION",
                    "Authentication credentials not found. This API supports OAuth 2.0 authentication "
                    "and you can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview",
                ),
                401,
            )
        now = time.monotonic()
        while self._window and now - self._window[0] >= self.interval_ms / 1000:
            self._window.popleft()
        if len(self._window) >= self.rate_limit:
            self.throttled_count += 1
            return self.throttled()
        self._window.append(now)
        self.daily_used += 1
        reply = self._dispatch(request)
        reply.headers.update(self._limit_headers(self.rate_limit - len(self._window)))
        return reply

    def _dispatch(self, request: Recorded) -> Reply:
        path, method = request.path.rstrip("/"), request.method
        if path == f"{TICKETS}/batch/upsert" and method == "POST":
            return self._batch_upsert(request)
        if path == TICKETS and method == "GET":
            return self._list(request)
        if path == TICKETS and method == "POST":
            return self._create(request)
        if path.startswith(TICKETS + "/") and path.count("/") == 5:
            ticket = path.rsplit("/", 1)[1]
            if method == "PATCH":
                return self._update(request, ticket)
            if method == "GET":
                rid = self._find(request.param("idProperty") or "hs_object_id", ticket)
                if rid is None:
                    return Reply.json(error_body("OBJECT_NOT_FOUND", "resource not found"), 404)
                return Reply.json(self._object(rid))
        if path.startswith("/crm/v3/properties/tickets/") and method == "GET":
            name = path.rsplit("/", 1)[1]
            if name not in self.properties and name not in READ_ONLY:
                return Reply.json(
                    error_body("OBJECT_NOT_FOUND", f"Unable to find property {name} for object type tickets"),
                    404,
                )
            options = self.properties.get(name)
            return Reply.json(
                {
                    "name": name,
                    "label": name,
                    "type": "enumeration" if options else "string",
                    "fieldType": "select" if options else "text",
                    "groupName": "ticketinformation",
                    "hasUniqueValue": name in self.unique,
                    "options": [{"label": o, "value": o} for o in sorted(options or [])],
                    "modificationMetadata": {"readOnlyValue": name in READ_ONLY},
                }
            )
        return Reply.json(error_body("NOT_FOUND", f"No route for {method} {path}"), 404)

    # -- objects ---------------------------------------------------------------------------
    def _find(self, id_property: str, value: str) -> str | None:
        if id_property == "hs_object_id":
            return value if value in self.records else None
        return next((rid for rid, p in self.records.items() if p.get(id_property) == value), None)

    def _object(self, rid: str, *, new: bool | None = None, trace: str | None = None) -> dict[str, Any]:
        props = self.records[rid]
        obj: dict[str, Any] = {
            "id": rid,
            "properties": dict(props),
            "createdAt": self.created_at[rid],
            "updatedAt": props["hs_lastmodifieddate"],
            "archived": False,
        }
        if new is not None:
            obj["new"] = new
        if trace is not None:
            obj["objectWriteTraceId"] = trace
        return obj

    def _problems(self, properties: Any, *, creating: bool) -> list[tuple[str, str, str]]:
        """(code, property, message) for each invalid property value."""
        if not isinstance(properties, dict):
            return [("INVALID_INPUT", "properties", "properties must be an object")]
        problems = []
        for name, value in properties.items():
            if name in READ_ONLY:
                problems.append(
                    ("READ_ONLY_VALUE", name, f"{name} is a read only property; its value cannot be set.")
                )
            elif name not in self.properties:
                problems.append(("PROPERTY_DOESNT_EXIST", name, f'Property "{name}" does not exist'))
            elif not isinstance(value, str):
                problems.append(("INVALID_STRING", name, f"{value!r} is not a string"))
            else:
                options = self.properties[name]
                if options is not None and value not in options:
                    allowed = ", ".join(sorted(options))
                    problems.append(
                        ("INVALID_OPTION", name, f"{value} was not one of the allowed options: [{allowed}]")
                    )
        if creating and not properties.get("hs_pipeline_stage"):
            problems.append(("REQUIRED_FIELD", "hs_pipeline_stage", "hs_pipeline_stage is required"))
        return problems

    def _validation_error(
        self, problems: list[tuple[str, str, str]], context: dict[str, list[str]]
    ) -> dict[str, Any]:
        details = [
            {"isValid": False, "message": message, "error": code, "name": name}
            for code, name, message in problems
        ]
        return {
            "status": "error",
            "category": "VALIDATION_ERROR",
            "message": f"Property values were not valid: {json.dumps(details)}",
            "context": context,
            "errors": [
                {"message": message, "code": code, "context": {"propertyName": [name]}}
                for code, name, message in problems
            ],
            "links": {},
        }

    def _write(self, rid: str | None, properties: dict[str, str]) -> tuple[str, bool]:
        stamp = _now()
        if rid is None:
            rid = str(next(self._ids))
            self.records[rid] = {"hs_object_id": rid, "createdate": stamp, "hs_pipeline": "0"}
            self.created_at[rid] = stamp
            self.history[rid] = []
            self.created += 1
            new = True
        else:
            self.updated += 1
            new = False
        self.records[rid].update(properties)
        self.records[rid]["hs_lastmodifieddate"] = stamp
        self.history[rid].append(dict(properties))
        return rid, new

    def _batch_upsert(self, request: Recorded) -> Reply:
        started = _now()
        try:
            body = request.json()
        except ValueError:
            return Reply.json(error_body("VALIDATION_ERROR", "Invalid input JSON on line 1"), 400)
        inputs = body.get("inputs") if isinstance(body, dict) else None
        if not isinstance(inputs, list) or not all(isinstance(i, dict) for i in inputs):
            return Reply.json(
                error_body("VALIDATION_ERROR", "Invalid input JSON: 'inputs' must be a list"), 400
            )
        if len(inputs) > 100:
            return Reply.json(
                error_body(
                    "VALIDATION_ERROR",
                    f"Batch input size ({len(inputs)}) exceeds the maximum allowed size of 100",
                    context={"maxInputs": ["100"]},
                ),
                400,
            )
        for item in inputs:
            prop = item.get("idProperty")
            if not prop:
                return Reply.json(error_body("VALIDATION_ERROR", "idProperty is required for upsert"), 400)
            if prop not in self.unique:
                return Reply.json(
                    error_body(
                        "VALIDATION_ERROR",
                        f"Unable to perform update/upsert by non-unique {OBJECT_TYPE} property {prop} "
                        f"in portal ID {self.portal_id}",
                    ),
                    400,
                )
            if not isinstance(item.get("id"), str) or not item["id"]:
                return Reply.json(error_body("VALIDATION_ERROR", "Each input needs a string 'id'"), 400)
        ids = [i["id"] for i in inputs]
        repeated = sorted({i for i in ids if ids.count(i) > 1})
        if repeated:
            return Reply.json(
                error_body(
                    "VALIDATION_ERROR", f"Duplicate IDs found in batch input: {repeated}. IDs must be unique"
                ),
                400,
            )
        results, errors = [], []
        for item in inputs:
            prop, value, trace = item["idProperty"], item["id"], item.get("objectWriteTraceId")
            rid = self._find(prop, value)
            properties = item.get("properties")
            problems = self._problems(properties, creating=rid is None)
            if problems:
                context = {"ids": [value]}
                if trace:
                    context["objectWriteTraceId"] = [trace]
                errors.append(self._validation_error(problems, context))
                continue
            rid, new = self._write(rid, {**properties, prop: value})
            results.append(self._object(rid, new=new, trace=trace))
        answer: dict[str, Any] = {
            "status": "COMPLETE",
            "results": results,
            "startedAt": started,
            "completedAt": _now(),
        }
        if errors:
            answer.update(numErrors=len(errors), errors=errors)
            return Reply.json(answer, 207)
        return Reply.json(answer, 200)

    def _create(self, request: Recorded) -> Reply:
        body = request.json()
        properties = body.get("properties") if isinstance(body, dict) else None
        problems = self._problems(properties, creating=True)
        if problems:
            return Reply.json(
                self._validation_error(problems, {}) | {"correlationId": str(uuid.uuid4())}, 400
            )
        assert isinstance(properties, dict)
        for name in self.unique:
            value = properties.get(name)
            if value and self._find(name, value):
                return Reply.json(
                    error_body("CONFLICT", f"A ticket with {name}={value} already exists (unique property)"),
                    409,
                )
        rid, _ = self._write(None, properties)
        return Reply.json(self._object(rid), 201)

    def _update(self, request: Recorded, ticket: str) -> Reply:
        rid = self._find(request.param("idProperty") or "hs_object_id", ticket)
        if rid is None:
            return Reply.json(error_body("OBJECT_NOT_FOUND", "resource not found"), 404)
        body = request.json()
        properties = body.get("properties") if isinstance(body, dict) else None
        problems = self._problems(properties, creating=False)
        if problems:
            return Reply.json(
                self._validation_error(problems, {}) | {"correlationId": str(uuid.uuid4())}, 400
            )
        assert isinstance(properties, dict)
        self._write(rid, properties)
        return Reply.json(self._object(rid))

    def _list(self, request: Recorded) -> Reply:
        limit = int(request.param("limit") or 10)
        after = request.param("after")
        ids = sorted(self.records, key=int)
        if after:
            ids = [i for i in ids if int(i) > int(after)]
        page = ids[:limit]
        answer: dict[str, Any] = {"results": [self._object(rid) for rid in page]}
        if len(ids) > limit:
            answer["paging"] = {"next": {"after": page[-1], "link": f"{TICKETS}?after={page[-1]}"}}
        return Reply.json(answer)
