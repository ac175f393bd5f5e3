"""Salesforce REST API for ``Case`` records, as ``PROVIDERS.md`` ("Downstream / Salesforce") describes it.

Serves, under ``/services/data/{version}`` (``v46.0`` or later answer upserts with a body):

- ``PATCH /sobjects/Case/{field}/{value}``: upsert one Case by an external id field → 201
  ``{"id","success":true,"errors":[],"created":true}``, 200 ``"created": false`` on update (204
  without a body before v46.0), 300 with the matching records' URLs when several Cases carry
  that value; the external id field (or ``Id``) in the body is an error;
- ``PATCH /composite/sobjects/Case/{field}``: ``{"allOrNone", "records": [...]}``, at most 200
  records (else 400 ``EXCEEDED_ID_LIMIT``), each with ``attributes.type == "Case"`` and the
  external id; one ``{"id","success","errors":[{"statusCode","message","fields"}],"created"}``
  per record in order; ``allOrNone: true`` rolls every record back when one fails;
- ``POST /sobjects/Case`` (create without upsert: how duplicates get in), ``GET
  /sobjects/Case/{id}``, ``GET /sobjects/Case/describe``, ``GET /limits``.

Checks like the real org: bearer token (401 ``INVALID_SESSION_ID``), known Case fields
(``INVALID_FIELD``), restricted picklists Status / Priority / Origin
(``INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST``), field lengths (``STRING_TOO_LONG``), e-mail
format (``INVALID_EMAIL_ADDRESS``). External ids match case-insensitively, as Salesforce's do.

Limits: every answer carries ``Sforce-Limit-Info: api-usage=n/m``; once ``api_limit`` calls are
used every call is 403 ``REQUEST_LIMIT_EXCEEDED`` (:meth:`SalesforceSimulator.limit_exceeded`
builds that reply for ``fail_next``).

For assertions: :attr:`records` (id → fields), :meth:`by_external_id`, :attr:`created`,
:attr:`updated`, :attr:`history` (every write per record, in order), :meth:`duplicates`.
:meth:`answer_late` makes the next requests take effect but answer only after a delay (a
response lost to a client timeout); :attr:`latency` delays every answer.
"""

from __future__ import annotations

import itertools
import re
from collections import deque
from typing import Any

from tests.simulators.base import Recorded, Reply, Simulator

__all__ = ["CASE_FIELDS", "PICKLISTS", "SalesforceSimulator"]

#: standard Case fields the hub may write, with their lengths (None: not a text field)
CASE_FIELDS: dict[str, int | None] = {
    "Subject": 255,
    "Description": 32000,
    "Status": 40,
    "Priority": 40,
    "Origin": 40,
    "Type": 40,
    "Reason": 40,
    "SuppliedName": 80,
    "SuppliedEmail": 80,
    "SuppliedPhone": 40,
    "SuppliedCompany": 80,
    "ContactId": 18,
    "AccountId": 18,
    "OwnerId": 18,
    "IsEscalated": None,
}
#: restricted picklists (the org's defaults, PROVIDERS.md)
PICKLISTS: dict[str, set[str]] = {
    "Status": {"New", "Working", "Escalated", "Closed"},
    "Priority": {"High", "Medium", "Low"},
    "Origin": {"Phone", "Email", "Web"},
}
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_BASE = re.compile(r"^/services/data/(v\d+\.\d)(/.*)$")


def _err(code: str, message: str, fields: list[str] | None = None) -> dict[str, Any]:
    return {"message": message, "errorCode": code, "fields": fields or []}


class SalesforceSimulator(Simulator):
    def __init__(
        self,
        token: str = "00D5g000004Sim!AQ4AQ.simulated-access-token",
        *,
        external_id_fields: tuple[str, ...] = ("Hub_Case_Id__c",),
        custom_fields: tuple[str, ...] = (),
        api_limit: int = 100_000,
        latency: float = 0.0,
    ) -> None:
        super().__init__()
        self.token = token
        self.external_id_fields = set(external_id_fields)
        self.fields: dict[str, int | None] = {
            **CASE_FIELDS,
            **dict.fromkeys(external_id_fields, 255),
            **dict.fromkeys(custom_fields, 255),
        }
        self.api_limit = api_limit
        self.api_used = 0
        self.latency = latency
        self.records: dict[str, dict[str, Any]] = {}
        self.history: dict[str, list[dict[str, Any]]] = {}
        self.created = 0
        self.updated = 0
        self.late: deque[float] = deque()
        self.version = 60.0
        self._ids = itertools.count(1)

    # -- scripting and assertions ----------------------------------------------------------
    def answer_late(self, *delays: float) -> None:
        """The next requests take effect, but their answers come ``delay`` seconds later."""
        with self.lock:
            self.late.extend(delays)

    def limit_exceeded(self) -> Reply:
        """The 403 Salesforce sends when the org's 24-hour API limit is used up."""
        return Reply.json(
            [_err("REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")],
            403,
            {"Sforce-Limit-Info": f"api-usage={self.api_limit}/{self.api_limit}"},
        )

    def by_external_id(self, field: str = "Hub_Case_Id__c") -> dict[str, list[dict[str, Any]]]:
        """External id value → the records carrying it (more than one is a duplicate)."""
        out: dict[str, list[dict[str, Any]]] = {}
        for rec in self.records.values():
            if rec.get(field):
                out.setdefault(str(rec[field]), []).append(rec)
        return out

    def duplicates(self, field: str = "Hub_Case_Id__c") -> int:
        return sum(len(v) - 1 for v in self.by_external_id(field).values())

    def create(self, fields: dict[str, Any]) -> str:
        """Put a Case in directly (as a person or another integration would)."""
        with self.lock:
            return self._insert(dict(fields))

    # -- HTTP ------------------------------------------------------------------------------
    def handle(self, request: Recorded) -> Reply:
        with self.lock:
            reply = self._route(request)
            if self.late:
                reply.delay = self.late.popleft()
            elif self.latency:
                reply.delay = self.latency
            return reply

    def _route(self, request: Recorded) -> Reply:
        if request.headers.get("authorization") != f"Bearer {self.token}":
            return Reply.json([_err("INVALID_SESSION_ID", "Session expired or invalid")], 401)
        if self.api_used >= self.api_limit:
            return self.limit_exceeded()
        self.api_used += 1
        reply = self._dispatch(request)
        reply.headers["Sforce-Limit-Info"] = f"api-usage={self.api_used}/{self.api_limit}"
        return reply

    def _dispatch(self, request: Recorded) -> Reply:
        match = _BASE.match(request.path)
        not_found = Reply.json([_err("NOT_FOUND", "The requested resource does not exist")], 404)
        if not match:
            return not_found
        version, rest = match.group(1), match.group(2)
        self.version = float(version[1:])
        parts = [p for p in rest.split("/") if p]
        method = request.method
        if parts == ["limits"] and method == "GET":
            return Reply.json(
                {"DailyApiRequests": {"Max": self.api_limit, "Remaining": self.api_limit - self.api_used}}
            )
        if parts[:2] == ["sobjects", "Case"]:
            tail = parts[2:]
            if tail == ["describe"] and method == "GET":
                return Reply.json(self._describe())
            if not tail and method == "POST":
                return self._post(request)
            if len(tail) == 1 and method == "GET":
                rec = self.records.get(tail[0])
                return Reply.json({"attributes": {"type": "Case"}, **rec}) if rec else not_found
            if len(tail) == 2 and method == "PATCH":
                return self._upsert_one(request, tail[0], tail[1])
        if parts[:3] == ["composite", "sobjects", "Case"] and len(parts) == 4 and method == "PATCH":
            return self._upsert_many(request, parts[3])
        return not_found

    def _describe(self) -> dict[str, Any]:
        fields = [
            {
                "name": name,
                "type": "picklist" if name in PICKLISTS else ("boolean" if length is None else "string"),
                "length": length or 0,
                "externalId": name in self.external_id_fields,
                "unique": name in self.external_id_fields,
                "restrictedPicklist": name in PICKLISTS,
                "picklistValues": [{"value": v, "active": True} for v in sorted(PICKLISTS.get(name, ()))],
            }
            for name, length in {"Id": 18, "CaseNumber": 30, **self.fields}.items()
        ]
        return {"name": "Case", "label": "Case", "fields": fields}

    # -- writes ----------------------------------------------------------------------------
    def _validate(self, fields: dict[str, Any]) -> list[dict[str, Any]]:
        """Salesforce's per-record errors for these field values (``statusCode`` form)."""
        errors = []
        for name, value in fields.items():
            if name not in self.fields:
                errors.append(
                    {
                        "statusCode": "INVALID_FIELD",
                        "message": f"No such column '{name}' on sobject of type Case",
                        "fields": [name],
                    }
                )
                continue
            if name in PICKLISTS and value not in PICKLISTS[name]:
                errors.append(
                    {
                        "statusCode": "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                        "message": f"{name}: bad value for restricted picklist field: {value}",
                        "fields": [name],
                    }
                )
            length = self.fields[name]
            if length is not None and value is not None and len(str(value)) > length:
                errors.append(
                    {
                        "statusCode": "STRING_TOO_LONG",
                        "message": f"{name}: data value too large: {str(value)[:40]}... (max length={length})",
                        "fields": [name],
                    }
                )
            if name == "SuppliedEmail" and value and not _EMAIL.match(str(value)):
                errors.append(
                    {
                        "statusCode": "INVALID_EMAIL_ADDRESS",
                        "message": f"Web Email: invalid email address: {value}",
                        "fields": [name],
                    }
                )
        return errors

    def _matches(self, field: str, value: str) -> list[str]:
        return [
            rid for rid, rec in self.records.items() if str(rec.get(field, "")).lower() == str(value).lower()
        ]

    def _insert(self, fields: dict[str, Any]) -> str:
        rid = f"500Sim{next(self._ids):09d}AAA"
        self.records[rid] = {"Id": rid, "CaseNumber": f"{len(self.records) + 1:08d}", **fields}
        self.history[rid] = [dict(fields)]
        return rid

    def _write(self, field: str, value: str, fields: dict[str, Any]) -> tuple[str, bool]:
        """Upsert: (record id, created)."""
        found = self._matches(field, value)
        if found:
            rid = found[0]
            self.records[rid].update(fields)
            self.history[rid].append(dict(fields))
            self.updated += 1
            return rid, False
        rid = self._insert({**fields, field: value})
        self.created += 1
        return rid, True

    def _post(self, request: Recorded) -> Reply:
        body = request.json()
        if not isinstance(body, dict):
            return Reply.json([_err("JSON_PARSER_ERROR", "Expected a JSON object")], 400)
        errors = self._validate(body)
        if errors:
            return Reply.json([_err(e["statusCode"], e["message"], e["fields"]) for e in errors], 400)
        rid = self._insert(body)
        return Reply.json({"id": rid, "success": True, "errors": []}, 201)

    def _upsert_one(self, request: Recorded, field: str, value: str) -> Reply:
        if field not in self.external_id_fields:
            return Reply.json(
                [
                    _err(
                        "NOT_FOUND",
                        f"Provided external ID field does not exist or is not accessible: {field}",
                    )
                ],
                404,
            )
        body = request.json()
        if not isinstance(body, dict):
            return Reply.json([_err("JSON_PARSER_ERROR", "Expected a JSON object")], 400)
        for bad in ("Id", field):
            if bad in body:
                return Reply.json(
                    [_err("INVALID_FIELD", f"{bad} not allowed in the request body of an upsert", [bad])],
                    400,
                )
        found = self._matches(field, value)
        if len(found) > 1:
            version = f"v{self.version:.1f}"
            return Reply.json([f"/services/data/{version}/sobjects/Case/{rid}" for rid in found], 300)
        errors = self._validate(body)
        if errors:
            return Reply.json([_err(e["statusCode"], e["message"], e["fields"]) for e in errors], 400)
        rid, created = self._write(field, value, body)
        if created:
            return Reply.json({"id": rid, "success": True, "errors": [], "created": True}, 201)
        if self.version < 46:
            return Reply(204)
        return Reply.json({"id": rid, "success": True, "errors": [], "created": False}, 200)

    def _upsert_many(self, request: Recorded, field: str) -> Reply:
        if field not in self.external_id_fields:
            return Reply.json(
                [
                    _err(
                        "NOT_FOUND",
                        f"Provided external ID field does not exist or is not accessible: {field}",
                    )
                ],
                404,
            )
        body = request.json()
        records = body.get("records") if isinstance(body, dict) else None
        if not isinstance(records, list):
            return Reply.json([_err("JSON_PARSER_ERROR", "records: expected a list")], 400)
        if len(records) > 200:
            return Reply.json(
                [
                    _err(
                        "EXCEEDED_ID_LIMIT",
                        "record limit reached. cannot submit more than 200 records into this call",
                    )
                ],
                400,
            )
        plans: list[tuple[dict[str, Any], list[dict[str, Any]]]] = []
        seen: set[str] = set()
        for rec in records:
            if not isinstance(rec, dict):
                return Reply.json([_err("JSON_PARSER_ERROR", "records: expected objects")], 400)
            rec = dict(rec)
            attributes = rec.pop("attributes", None)
            errors: list[dict[str, Any]] = []
            if not isinstance(attributes, dict) or attributes.get("type") != "Case":
                errors.append(
                    {"statusCode": "INVALID_TYPE", "message": "attributes.type must be Case", "fields": []}
                )
            value = rec.get(field)
            if not value:
                errors.append(
                    {
                        "statusCode": "MISSING_ARGUMENT",
                        "message": f"{field} not specified",
                        "fields": [field],
                    }
                )
            elif str(value).lower() in seen:
                errors.append(
                    {
                        "statusCode": "DUPLICATE_VALUE",
                        "message": f"Duplicate external id specified: {value}",
                        "fields": [field],
                    }
                )
            else:
                seen.add(str(value).lower())
                found = self._matches(field, str(value))
                if len(found) > 1:
                    errors.append(
                        {
                            "statusCode": "DUPLICATE_EXTERNAL_ID",
                            "message": f"more than one record found for external id field: [{', '.join(found)}]",
                            "fields": [field],
                        }
                    )
            errors += self._validate({k: v for k, v in rec.items() if k != field})
            plans.append((rec, errors))
        all_or_none = bool(body.get("allOrNone"))
        if all_or_none and any(errors for _, errors in plans):
            rolled = {
                "statusCode": "ALL_OR_NONE_OPERATION_ROLLED_BACK",
                "message": "Record rolled back because not all records were valid and the request was "
                "using AllOrNone header",
                "fields": [],
            }
            return Reply.json([{"success": False, "errors": errors or [rolled]} for _, errors in plans], 200)
        results = []
        for rec, errors in plans:
            if errors:
                results.append({"success": False, "errors": errors})
                continue
            value = str(rec.pop(field))
            rid, created = self._write(field, value, rec)
            results.append({"id": rid, "success": True, "errors": [], "created": created})
        return Reply.json(results, 200)
