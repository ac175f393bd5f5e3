"""An ERPNext (Frappe REST) simulator: Issue documents with a unique custom field, and comments.

Follows ``../shared/PROVIDERS.md`` (ERPNext ``Issue``) and Frappe's error shape
(``{"exception", "exc_type", "exc", "_server_messages"}`` with the exception's HTTP status):

- auth ``Authorization: token <key>:<secret>``; otherwise 401 ``AuthenticationError``;
- ``POST /api/resource/Issue`` → 200 ``{"data": {..., "name": "ISS-2026-00001"}}``; the unique
  field already holding the value is 409 ``DuplicateEntryError`` (``duplicate_status=417``
  answers ``UniqueValidationError`` instead, as Frappe does for a unique non-name column);
  a missing subject, a status outside ``Open, Replied, On Hold, Resolved, Closed`` or a
  priority that is no Issue Priority are 417 validation errors;
- ``GET /api/resource/Issue?filters=[[field, op, value], ...]&fields=[...]`` (ops ``=``,
  ``!=``, ``like``; dict filters too), ``GET/PUT /api/resource/Issue/{name}`` (404
  ``DoesNotExistError``);
- ``POST /api/resource/Comment`` / ``GET /api/resource/Comment?filters=`` (timeline comments);
- ``GET /api/method/frappe.auth.get_logged_user``.

Faults: ``fail_next`` answers instead of handling; :meth:`ERPNextSimulator.lose_next` handles
the request and answers too late (a lost response).
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

from tests.simulators.base import Recorded, Reply, Simulator

STATUSES = ("Open", "Replied", "On Hold", "Resolved", "Closed")
PRIORITIES = ("Low", "Medium", "High")
ISSUE_FIELDS = frozenset(
    {
        "subject",
        "description",
        "status",
        "priority",
        "issue_type",
        "raised_by",
        "customer",
        "contact",
        "opening_date",
        "resolution_details",
        "doctype",
        "name",
    }
)


def frappe_error(status: int, exc_type: str, message: str) -> Reply:
    """A Frappe error answer: exception text first, then type, traceback and the user message."""
    return Reply.json(
        {
            "exception": f"frappe.exceptions.{exc_type}: {message}",
            "exc_type": exc_type,
            "exc": json.dumps([f"Traceback (most recent call last):\n  ...\nfrappe.exceptions.{exc_type}"]),
            "_server_messages": json.dumps([json.dumps({"message": message, "indicator": "red"})]),
        },
        status,
    )


class ERPNextSimulator(Simulator):
    def __init__(
        self,
        api_key: str = "erp-key",
        api_secret: str = "erp-secret",
        unique_field: str = "hub_case_id",
        *,
        duplicate_status: int = 409,
    ) -> None:
        super().__init__()
        self.api_key, self.api_secret, self.unique_field = api_key, api_secret, unique_field
        self.duplicate_status = duplicate_status
        self.issues: dict[str, dict[str, Any]] = {}  # name -> doc, in creation order
        self.comments: list[dict[str, Any]] = []
        self.updates: list[tuple[str, dict[str, Any]]] = []  # (name, PUT body) in arrival order
        self.duplicates_refused = 0
        self._lose: list[tuple[Callable[[Recorded], bool], float]] = []
        self._seq = 0

    def __enter__(self) -> ERPNextSimulator:
        self.start()
        return self

    # -- test helpers ----------------------------------------------------------------------
    def lose_next(self, when: Callable[[Recorded], bool], delay: float = 1.0) -> None:
        with self.lock:
            self._lose.append((when, delay))

    def issues_by_case(self) -> dict[str, list[dict[str, Any]]]:
        out: dict[str, list[dict[str, Any]]] = {}
        for doc in self.issues.values():
            out.setdefault(str(doc.get(self.unique_field)), []).append(doc)
        return out

    def comments_on(self, name: str) -> list[str]:
        return [c["content"] for c in self.comments if c["reference_name"] == name]

    # -- protocol ----------------------------------------------------------------------------
    def handle(self, request: Recorded) -> Reply:
        reply = self._handle(request)
        with self.lock:
            for i, (when, delay) in enumerate(self._lose):
                if when(request):
                    del self._lose[i]
                    reply.delay = delay
                    break
        return reply

    def _handle(self, request: Recorded) -> Reply:
        if request.headers.get("authorization") != f"token {self.api_key}:{self.api_secret}":
            return frappe_error(401, "AuthenticationError", "Invalid API key or secret")
        path = unquote(request.path)
        with self.lock:
            if path == "/api/method/frappe.auth.get_logged_user":
                return Reply.json({"message": "hub@example.com"})
            if path == "/api/resource/Issue":
                if request.method == "GET":
                    return self._list(request, list(self.issues.values()))
                if request.method == "POST":
                    return self._create(request)
            m = re.fullmatch(r"/api/resource/Issue/(.+)", path)
            if m:
                doc = self.issues.get(m.group(1))
                if doc is None:
                    return frappe_error(404, "DoesNotExistError", f"Issue {m.group(1)} not found")
                if request.method == "GET":
                    return Reply.json({"data": doc})
                if request.method == "PUT":
                    return self._update(request, doc)
            if path == "/api/resource/Comment":
                if request.method == "GET":
                    return self._list(request, self.comments)
                if request.method == "POST":
                    return self._comment(request)
        return frappe_error(404, "DoesNotExistError", f"{path} not found")

    def _validate(self, doc: dict[str, Any]) -> Reply | None:
        unknown = sorted(set(doc) - ISSUE_FIELDS - {self.unique_field})
        if unknown:
            return frappe_error(417, "DataError", f"Unknown column(s) {', '.join(unknown)} in Issue")
        if "subject" in doc and not str(doc["subject"] or "").strip():
            return frappe_error(417, "MandatoryError", "Error: Value missing for Issue: Subject")
        if doc.get("status") is not None and doc["status"] not in STATUSES:
            return frappe_error(
                417,
                "ValidationError",
                f'Status cannot be "{doc["status"]}". It should be one of "{", ".join(STATUSES)}"',
            )
        if doc.get("priority") is not None and doc["priority"] not in PRIORITIES:
            return frappe_error(417, "LinkValidationError", f"Could not find Priority: {doc['priority']}")
        return None

    def _create(self, request: Recorded) -> Reply:
        doc = request.json()
        if not isinstance(doc, dict):
            return frappe_error(417, "ValidationError", "Invalid request body")
        if not str(doc.get("subject") or "").strip():
            return frappe_error(417, "MandatoryError", "Error: Value missing for Issue: Subject")
        invalid = self._validate(doc)
        if invalid is not None:
            return invalid
        value = doc.get(self.unique_field)
        if value is not None and any(d.get(self.unique_field) == value for d in self.issues.values()):
            self.duplicates_refused += 1
            if self.duplicate_status == 417:
                return frappe_error(417, "UniqueValidationError", f"Hub Case ID must be unique: {value}")
            return frappe_error(
                409,
                "DuplicateEntryError",
                f"('Issue', '{value}', IntegrityError(1062, \"Duplicate entry '{value}' "
                f"for key '{self.unique_field}'\"))",
            )
        self._seq += 1
        name = f"ISS-2026-{self._seq:05d}"
        stored = {
            "name": name,
            "doctype": "Issue",
            "status": "Open",
            "priority": None,
            "creation": f"2026-01-01 00:00:{self._seq:02d}.000000",
            **{k: v for k, v in doc.items() if k not in ("name", "doctype")},
        }
        self.issues[name] = stored
        return Reply.json({"data": stored})

    def _update(self, request: Recorded, doc: dict[str, Any]) -> Reply:
        changes = request.json()
        if not isinstance(changes, dict):
            return frappe_error(417, "ValidationError", "Invalid request body")
        invalid = self._validate(changes)
        if invalid is not None:
            return invalid
        value = changes.get(self.unique_field)
        if value is not None and any(
            d.get(self.unique_field) == value and d["name"] != doc["name"] for d in self.issues.values()
        ):
            return frappe_error(417, "UniqueValidationError", f"Hub Case ID must be unique: {value}")
        doc.update({k: v for k, v in changes.items() if k not in ("name", "doctype")})
        self.updates.append((doc["name"], changes))
        return Reply.json({"data": doc})

    def _comment(self, request: Recorded) -> Reply:
        body = request.json()
        if not isinstance(body, dict):
            return frappe_error(417, "ValidationError", "Invalid request body")
        if body.get("reference_doctype") != "Issue" or body.get("reference_name") not in self.issues:
            return frappe_error(
                417, "LinkValidationError", f"Could not find Reference Name: {body.get('reference_name')}"
            )
        if not str(body.get("content") or "").strip():
            return frappe_error(417, "MandatoryError", "Error: Value missing for Comment: Content")
        comment = {
            "name": uuid.uuid4().hex[:10],
            "doctype": "Comment",
            "comment_type": body.get("comment_type") or "Comment",
            "reference_doctype": "Issue",
            "reference_name": body["reference_name"],
            "content": body["content"],
        }
        self.comments.append(comment)
        return Reply.json({"data": comment})

    @staticmethod
    def _matches(doc: dict[str, Any], filters: Any) -> bool:
        if isinstance(filters, dict):
            filters = [[k, "=", v] for k, v in filters.items()]
        for f in filters or []:
            if len(f) == 4:  # [doctype, field, op, value]
                f = f[1:]
            name, op, value = f
            have = doc.get(name)
            if op == "=" and have != value:
                return False
            if op == "!=" and have == value:
                return False
            if op == "like":
                pattern = "^" + ".*".join(re.escape(p) for p in str(value).split("%")) + "$"
                if not re.search(pattern, str(have or ""), re.DOTALL):
                    return False
            if op not in ("=", "!=", "like"):
                raise ValueError(f"operator {op!r} not simulated")
        return True

    def _list(self, request: Recorded, docs: list[dict[str, Any]]) -> Reply:
        try:
            filters = json.loads(request.param("filters") or "[]")
            fields = json.loads(request.param("fields") or '["name"]')
        except ValueError:
            return frappe_error(417, "ValidationError", "filters / fields must be JSON")
        for name in fields:
            if (
                name not in ("name", "*")
                and docs is not self.comments
                and name not in ISSUE_FIELDS | {self.unique_field}
            ):
                return frappe_error(417, "DataError", f"Field not permitted in query: {name}")
        rows = [d for d in docs if self._matches(d, filters)]
        if request.param("order_by") == "creation desc":
            rows.reverse()
        limit = int(request.param("limit_page_length") or 20)
        rows = rows[:limit] if limit else rows
        if "*" not in fields:
            rows = [{k: d.get(k) for k in fields} for d in rows]
        return Reply.json({"data": rows})
